/**
 * A one-writer, one-reader ring of decoded audio frames on SharedArrayBuffers: the
 * low-latency player's decoder worker writes, its playout worklet reads, and neither waits
 * for the other. Like sample-ring.ts (the free-queue pattern), but each slot is a whole
 * frame with its sequence number, media timestamp and arrival time, because the worklet's
 * jitter buffer orders and times frames, not samples.
 *
 * Slot contents are written before the write position moves (Atomics.store) and read
 * before the read position moves, so each side sees whole frames. One slot is always left
 * empty: `read === write` means empty. A writer that finds the ring full drops the frame
 * and counts it (`overruns`); nothing is allocated after construction.
 */

const WRITE = 0;
const READ = 1;
const OVERRUNS = 2;
const CONTROL_SLOTS = 4;
/** Per slot: sequence, timestamp ms, arrival ms, length. */
const META = 4;

export interface FrameRingBuffers {
  control: SharedArrayBuffer;
  meta: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

/** Where `pop` puts a frame's header (a reusable array of 3). */
export const FRAME_META = { seq: 0, timestampMs: 1, arrivalMs: 2 } as const;

export class FrameRing {
  readonly maxFrameSamples: number;
  private readonly control: Int32Array;
  private readonly meta: Float64Array;
  private readonly data: Float32Array;
  private readonly size: number;

  /** Shared buffers for a ring of `frames` frames of up to `maxFrameSamples` samples. */
  static allocate(frames: number, maxFrameSamples: number): FrameRingBuffers {
    if (!(Number.isInteger(frames) && frames >= 1)) throw new RangeError(`frames must be a positive integer, got ${frames}`);
    if (!(Number.isInteger(maxFrameSamples) && maxFrameSamples >= 1)) throw new RangeError(`maxFrameSamples must be a positive integer, got ${maxFrameSamples}`);
    const slots = frames + 1;
    return {
      control: new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT),
      meta: new SharedArrayBuffer(slots * META * Float64Array.BYTES_PER_ELEMENT),
      data: new SharedArrayBuffer(slots * maxFrameSamples * Float32Array.BYTES_PER_ELEMENT),
    };
  }

  constructor(buffers: FrameRingBuffers) {
    this.control = new Int32Array(buffers.control);
    this.meta = new Float64Array(buffers.meta);
    this.size = this.meta.length / META;
    this.data = new Float32Array(buffers.data);
    this.maxFrameSamples = this.data.length / this.size;
  }

  /** Frames the ring can hold. */
  get capacity(): number {
    return this.size - 1;
  }

  /** Frames waiting to be read. */
  get available(): number {
    const w = Atomics.load(this.control, WRITE);
    const r = Atomics.load(this.control, READ);
    return (w - r + this.size) % this.size;
  }

  /** Frames the writer dropped because the ring was full. */
  get overruns(): number {
    return Atomics.load(this.control, OVERRUNS);
  }

  /** Writer: appends one frame (pcm[0..length)); false when the ring is full (the frame is dropped and counted). */
  push(seq: number, timestampMs: number, arrivalMs: number, pcm: Float32Array, length: number): boolean {
    if (!(length >= 0 && length <= this.maxFrameSamples && length <= pcm.length)) {
      throw new RangeError(`length must be 0..${Math.min(this.maxFrameSamples, pcm.length)}, got ${length}`);
    }
    const w = Atomics.load(this.control, WRITE);
    const r = Atomics.load(this.control, READ);
    const next = (w + 1) % this.size;
    if (next === r) {
      Atomics.add(this.control, OVERRUNS, 1);
      return false;
    }
    const m = w * META;
    this.meta[m] = seq;
    this.meta[m + 1] = timestampMs;
    this.meta[m + 2] = arrivalMs;
    this.meta[m + 3] = length;
    this.data.set(pcm.subarray(0, length), w * this.maxFrameSamples);
    Atomics.store(this.control, WRITE, next);
    return true;
  }

  /**
   * Reader: moves the oldest frame's samples into pcm[0..) and its header into
   * header[FRAME_META.*]; returns its length, or -1 when the ring is empty.
   */
  pop(pcm: Float32Array, header: Float64Array): number {
    const w = Atomics.load(this.control, WRITE);
    const r = Atomics.load(this.control, READ);
    if (w === r) return -1;
    const m = r * META;
    const length = this.meta[m + 3];
    header[0] = this.meta[m];
    header[1] = this.meta[m + 1];
    header[2] = this.meta[m + 2];
    const base = r * this.maxFrameSamples;
    const data = this.data;
    for (let i = 0; i < length; i++) pcm[i] = data[base + i];
    Atomics.store(this.control, READ, (r + 1) % this.size);
    return length;
  }
}
