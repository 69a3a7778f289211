/**
 * One recorded bucket from the shares of several parts of an upload. Two parts share a
 * bucket when live streaming came back for less than a bucket between two offline runs;
 * their audio is disjoint in time, so the bucket is their union: samples side by side,
 * metrics aggregated as if one station had produced every frame (seed 000 §5.2 aggregates
 * over the bucket's 20 ms frames).
 */
import { METRIC_NAMES, TAPS, type BucketMetrics, type MetricAggregate, type TapMetrics } from '../../../protocol/metrics.ts';
import type { IngestCounters } from '../media/messages.ts';

/** What one part contributed to a bucket. */
export interface BucketShare {
  /** First sample the part wrote, from the bucket's start. */
  sampleStart: number;
  /** One past the last sample the part wrote. */
  samples: number;
  metrics: BucketMetrics;
  ingest: IngestCounters;
}

export interface MergedBucket {
  sampleStart: number;
  samples: number;
  metrics: BucketMetrics;
  ingest: IngestCounters;
}

/**
 * Count-weighted avg, min of mins, max of maxes, `last` from the share that ends latest,
 * counts summed; the sample range spans every share; ingest counters are summed (each
 * share's are its own part's).
 */
export function mergeShares(shares: readonly BucketShare[]): MergedBucket {
  if (shares.length === 0) throw new RangeError('mergeShares needs at least one share');
  const byEnd = [...shares].sort((a, b) => a.samples - b.samples);
  const metrics = {} as BucketMetrics;
  for (const tap of TAPS) {
    const out = {} as TapMetrics;
    for (const name of METRIC_NAMES) {
      let count = 0;
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      let last = 0;
      for (const s of byEnd) {
        const a = s.metrics[tap]?.[name];
        if (a === undefined || a.count === 0) continue;
        count += a.count;
        sum += a.avg * a.count;
        if (a.min < min) min = a.min;
        if (a.max > max) max = a.max;
        last = a.last;
      }
      const agg: MetricAggregate = { count, min: round(min), max: round(max), avg: round(count > 0 ? sum / count : 0), last: round(last) };
      out[name] = agg;
    }
    metrics[tap] = out;
  }
  const ingest = { ...byEnd[0].ingest };
  for (const s of byEnd.slice(1)) for (const k of Object.keys(ingest) as (keyof IngestCounters)[]) ingest[k] += s.ingest[k] ?? 0;
  return {
    sampleStart: Math.min(...shares.map((s) => s.sampleStart)),
    samples: Math.max(...shares.map((s) => s.samples)),
    metrics,
    ingest,
  };
}

/**
 * Copies the samples a part wrote (`[sampleStart, samples)` of `src`) into `dst`, leaving
 * every other sample of `dst` as it was: another part's audio, or silence.
 */
export function overlaySamples(dst: Int16Array, src: Int16Array, sampleStart: number, samples: number): void {
  dst.set(src.subarray(sampleStart, samples), sampleStart);
}

/** Same rounding as the bucket accumulator: six decimals, and 0 for no value. */
function round(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.round(v * 1e6) / 1e6;
}
