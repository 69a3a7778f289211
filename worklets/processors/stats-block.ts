/**
 * The latest figures of a worklet, published in place for the page to read whenever it
 * likes: a fixed layout of Float64 values guarded by a sequence number (the seqlock of
 * meter-block.ts, of any length and in Float64 so frame counts stay exact past 2^24).
 * The writer makes the sequence odd, writes, and makes it even again; a reader that sees
 * the same even sequence before and after its copy has a consistent set.
 */

import { seqlockPublish, seqlockRead } from './meter-block.ts';

export interface StatsBlockBuffers {
  seq: SharedArrayBuffer;
  values: SharedArrayBuffer;
}

export class StatsBlock {
  readonly length: number;
  private readonly seq: Int32Array;
  private readonly values: Float64Array;
  private readonly scratch: Float64Array;

  static allocate(length: number): StatsBlockBuffers {
    if (!(Number.isInteger(length) && length >= 1)) throw new RangeError(`length must be a positive integer, got ${length}`);
    return { seq: new SharedArrayBuffer(4), values: new SharedArrayBuffer(length * 8) };
  }

  constructor(buffers: StatsBlockBuffers) {
    this.seq = new Int32Array(buffers.seq);
    this.values = new Float64Array(buffers.values);
    this.length = this.values.length;
    this.scratch = new Float64Array(this.length);
  }

  /** Writer: publishes src[0..length). */
  publish(src: Float64Array): void {
    seqlockPublish(this.seq, this.values, src.length === this.length ? src : src.subarray(0, this.length));
  }

  /** Reader: copies the latest consistent set into `out`; returns its sequence, or -1 if none yet (or the writer kept it busy). */
  read(out: Float64Array): number {
    return seqlockRead(this.seq, this.values, this.scratch, out);
  }
}
