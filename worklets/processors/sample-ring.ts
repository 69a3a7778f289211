/**
 * A one-writer, one-reader ring of Float32 samples on SharedArrayBuffers (the pattern of
 * GoogleChromeLabs' free-queue): the capture worklet writes, the encoder worker reads,
 * neither waits for the other and nothing is allocated after construction.
 *
 * The read and write positions live in an Int32Array and are only read and written with
 * `Atomics`, so each side sees the other's samples once it sees the moved position. One
 * slot is always left empty, so `read === write` means empty, never full. A writer that
 * finds the ring full keeps what fits and counts the samples it dropped (`overruns`).
 */

const WRITE = 0;
const READ = 1;
const OVERRUNS = 2;
const CONTROL_SLOTS = 4;

/** The two shared buffers of a ring: pass them to the other thread and wrap them there. */
export interface SampleRingBuffers {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export class SampleRing {
  private readonly control: Int32Array;
  private readonly data: Float32Array;
  private readonly size: number;

  /** Allocates the shared buffers of a ring that holds up to `capacity` samples. */
  static allocate(capacity: number): SampleRingBuffers {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    return {
      control: new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT),
      data: new SharedArrayBuffer((capacity + 1) * Float32Array.BYTES_PER_ELEMENT),
    };
  }

  constructor(buffers: SampleRingBuffers) {
    this.control = new Int32Array(buffers.control);
    this.data = new Float32Array(buffers.data);
    this.size = this.data.length;
  }

  /** Samples the ring can hold. */
  get capacity(): number {
    return this.size - 1;
  }

  /** Samples waiting to be read. */
  get available(): number {
    const w = Atomics.load(this.control, WRITE);
    const r = Atomics.load(this.control, READ);
    return (w - r + this.size) % this.size;
  }

  /** Samples the writer has dropped because the ring was full. */
  get overruns(): number {
    return Atomics.load(this.control, OVERRUNS);
  }

  /** Writer: appends src[0..length); returns how many fit (the rest are dropped and counted). */
  push(src: Float32Array, length: number): number {
    const size = this.size;
    const w = Atomics.load(this.control, WRITE);
    const r = Atomics.load(this.control, READ);
    const free = size - 1 - ((w - r + size) % size);
    const n = length < free ? length : free;
    const first = n < size - w ? n : size - w;
    const data = this.data;
    for (let i = 0; i < first; i++) data[w + i] = src[i];
    for (let i = first; i < n; i++) data[i - first] = src[i];
    Atomics.store(this.control, WRITE, (w + n) % size);
    if (n < length) Atomics.add(this.control, OVERRUNS, length - n);
    return n;
  }

  /** Reader: moves up to `length` samples into dst[0..); returns how many. */
  pop(dst: Float32Array, length: number): number {
    const size = this.size;
    const w = Atomics.load(this.control, WRITE);
    const r = Atomics.load(this.control, READ);
    const avail = (w - r + size) % size;
    const n = length < avail ? length : avail;
    const first = n < size - r ? n : size - r;
    const data = this.data;
    for (let i = 0; i < first; i++) dst[i] = data[r + i];
    for (let i = first; i < n; i++) dst[i] = data[i - first];
    Atomics.store(this.control, READ, (r + n) % size);
    return n;
  }
}
