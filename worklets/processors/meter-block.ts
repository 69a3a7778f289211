/**
 * The capture worklet's latest meter reading, published in place for the page to read on
 * each animation frame: a fixed layout of Float32 values guarded by a sequence number
 * (a seqlock). The writer makes the sequence odd, writes, and makes it even again; a reader
 * that sees the same even sequence before and after its copy has a consistent reading.
 * On a SharedArrayBuffer when the page is cross-origin isolated; otherwise the worklet
 * posts the same values (see capture-processor.ts).
 */

/** Fields of one reading (over the last publication window, about 20 ms). */
export const METER = {
  /** RMS over the window, dBFS. */
  rmsDbfs: 0,
  /** Largest |sample| over the window, dBFS. */
  peakDbfs: 1,
  /** Samples at or over the clip threshold in the window. */
  clippedSamples: 2,
  /** Momentary loudness (400 ms, BS.1770-4) at the end of the window, LUFS. */
  momentaryLufs: 3,
  /** Samples in the window. */
  samples: 4,
  /** Samples the worklet has seen since it started. */
  totalSamples: 5,
  /** Samples dropped because the encoder's ring was full. */
  ringOverruns: 6,
} as const;
export const METER_VALUES = 7;

const SEQ = 0;

export class MeterBlock {
  readonly values: Float32Array;
  private readonly seq: Int32Array;
  private readonly scratch = new Float32Array(METER_VALUES);

  static allocate(): { seq: SharedArrayBuffer; values: SharedArrayBuffer } {
    return { seq: new SharedArrayBuffer(4), values: new SharedArrayBuffer(METER_VALUES * 4) };
  }

  constructor(buffers: { seq: SharedArrayBuffer | ArrayBuffer; values: SharedArrayBuffer | ArrayBuffer }) {
    this.seq = new Int32Array(buffers.seq);
    this.values = new Float32Array(buffers.values);
  }

  /** Writer: publishes `src` (METER_VALUES numbers). */
  publish(src: Float32Array): void {
    seqlockPublish(this.seq, this.values, src);
  }

  /** Reader: copies the latest consistent reading into `out`; returns its sequence, or -1 if none yet. */
  read(out: Float32Array): number {
    return seqlockRead(this.seq, this.values, this.scratch, out);
  }
}

/** Seqlock writer: the sequence odd, `values` set from `src`, the sequence even again. */
export function seqlockPublish(seq: Int32Array, values: Float32Array | Float64Array, src: ArrayLike<number>): void {
  Atomics.add(seq, SEQ, 1);
  values.set(src);
  Atomics.add(seq, SEQ, 1);
}

/**
 * Seqlock reader: copies `values` through `scratch` into `out` when the sequence is the same
 * even number before and after the copy; returns that sequence, or -1 when nothing was
 * published yet or the writer kept it busy for four tries.
 */
export function seqlockRead<A extends Float32Array | Float64Array>(seq: Int32Array, values: A, scratch: A, out: A): number {
  for (let attempt = 0; attempt < 4; attempt++) {
    const before = Atomics.load(seq, SEQ);
    if (before === 0) return -1;
    if (before % 2 === 1) continue;
    scratch.set(values);
    if (Atomics.load(seq, SEQ) === before) {
      out.set(scratch);
      return before;
    }
  }
  return -1;
}
