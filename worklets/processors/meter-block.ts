/**
 * The capture worklet's latest meter reading, published in place for the page to read on
 * each animation frame: a fixed layout of Float64 values guarded by a sequence number
 * (a seqlock). The writer makes the sequence odd, writes, and makes it even again; a reader
 * that sees the same even sequence before and after its copy has a consistent reading.
 * Float64 so sample counts stay exact past 2^24 (six minutes at 48 kHz).
 * On a SharedArrayBuffer when the page is cross-origin isolated; otherwise the worklet
 * posts the same values (see capture-processor.ts).
 *
 * Levels are dBFS, dBTP, LUFS and LU floored at DB_FLOOR (-120); integrated loudness and
 * loudness range are NaN while there is none (no 400 ms block, or no short-term value, has
 * passed the gates yet).
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
  /** Short-term loudness (3 s, EBU Tech 3341) as of the last 100 ms step, LUFS. */
  shortTermLufs: 7,
  /** Integrated loudness since the loudness reset (BS.1770-4 gating), LUFS; NaN while none. */
  integratedLufs: 8,
  /** Loudness range since the loudness reset (EBU Tech 3342), LU; NaN while none. */
  loudnessRangeLu: 9,
  /** Largest true peak over the window (BS.1770-4 Annex 2), dBTP. */
  truePeakDbtp: 10,
  /** Largest true peak since the loudness reset, dBTP. */
  maxTruePeakDbtp: 11,
  /** Largest momentary loudness since the loudness reset (once 400 ms were seen), LUFS. */
  maxMomentaryLufs: 12,
  /** Largest short-term loudness since the loudness reset (once 3 s were seen), LUFS. */
  maxShortTermLufs: 13,
  /** Samples measured since the loudness reset: the integration time of I and LRA. */
  loudnessSamples: 14,
  /** Loudness resets applied since the worklet started (the page's request is done when this moves). */
  loudnessResets: 15,
} as const;
export const METER_VALUES = 16;

const SEQ = 0;

export interface MeterBlockBuffers {
  seq: SharedArrayBuffer;
  values: SharedArrayBuffer;
}

export class MeterBlock {
  readonly values: Float64Array;
  private readonly seq: Int32Array;
  private readonly scratch = new Float64Array(METER_VALUES);

  static allocate(): MeterBlockBuffers {
    return { seq: new SharedArrayBuffer(4), values: new SharedArrayBuffer(METER_VALUES * Float64Array.BYTES_PER_ELEMENT) };
  }

  constructor(buffers: { seq: SharedArrayBuffer | ArrayBuffer; values: SharedArrayBuffer | ArrayBuffer }) {
    this.seq = new Int32Array(buffers.seq);
    this.values = new Float64Array(buffers.values);
    if (this.values.length !== METER_VALUES) throw new RangeError(`a meter block holds ${METER_VALUES} Float64 values, got ${this.values.length}`);
  }

  /** Writer: publishes `src` (METER_VALUES numbers). */
  publish(src: Float64Array): void {
    seqlockPublish(this.seq, this.values, src);
  }

  /** Reader: copies the latest consistent reading into `out`; returns its sequence, or -1 if none yet. */
  read(out: Float64Array): number {
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
