/**
 * One recorded bucket from the shares of several parts of an upload. Two parts share a
 * bucket when live streaming came back for less than a bucket between two offline runs;
 * their audio is disjoint in time, so the bucket is their union: samples side by side,
 * metrics aggregated as if one station had produced every frame (seed 000 §5.2 aggregates
 * over the bucket's 20 ms frames).
 *
 * Gated loudness cannot be combined from the shares' values: the relative gate depends on
 * every block of the bucket, and a mean of LUFS is not a loudness. Each share keeps its 400 ms
 * block powers, and the merged bucket is gated over all of them (BS.1770-4 §2.8), exactly
 * what one station producing every block would have measured. The station values (integrated
 * loudness, range) are the latest share's, as `last` is: each part runs as a station of its
 * own, and the one that ends latest holds the value as of the bucket's end.
 */
import {
  INTEGRATED_LOUDNESS,
  LATER_METRIC_NAMES,
  LOUDNESS_RANGE,
  METRIC_NAMES,
  TAPS,
  type BucketMetrics,
  type GatedLoudness,
  type LoudnessRange,
  type MetricAggregate,
  type MetricName,
  type Tap,
  type TapMetrics,
} from '../../../protocol/metrics.ts';
import { gatedLoudness } from '../media/gated-loudness.ts';
import type { IngestCounters, LoudnessBlocks } from '../media/messages.ts';

/** What one part contributed to a bucket. */
export interface BucketShare {
  /** First sample the part wrote, from the bucket's start. */
  sampleStart: number;
  /** One past the last sample the part wrote. */
  samples: number;
  metrics: BucketMetrics;
  ingest: IngestCounters;
  /** Its 400 ms block powers per tap; null for a share stored before they were kept. */
  loudnessBlocks: LoudnessBlocks | null;
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
 * share's are its own part's). A metric no share has (stored before the relay measured it)
 * stays absent. The gated loudness is gated over every share's blocks, and left out when a
 * share with audio has no blocks (it cannot be computed soundly then); the station values
 * are the latest share's.
 */
export function mergeShares(shares: readonly BucketShare[]): MergedBucket {
  if (shares.length === 0) throw new RangeError('mergeShares needs at least one share');
  const byEnd = [...shares].sort((a, b) => a.samples - b.samples);
  const metrics = {} as BucketMetrics;
  for (const tap of TAPS) {
    const out = {} as TapMetrics;
    for (const name of METRIC_NAMES) {
      const agg = mergeAggregates(byEnd, tap, name);
      if (agg !== undefined) out[name] = agg;
    }
    const integrated = mergeIntegrated(byEnd, tap);
    if (integrated !== undefined) out[INTEGRATED_LOUDNESS] = integrated;
    const range: LoudnessRange | undefined = byEnd[byEnd.length - 1].metrics[tap]?.[LOUDNESS_RANGE];
    if (range !== undefined) out[LOUDNESS_RANGE] = { station: range.station };
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

function mergeAggregates(byEnd: readonly BucketShare[], tap: Tap, name: MetricName): MetricAggregate | undefined {
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let last = 0;
  let present = false;
  for (const s of byEnd) {
    const a = s.metrics[tap]?.[name];
    if (a === undefined) continue;
    present = true;
    if (a.count === 0) continue;
    count += a.count;
    sum += a.avg * a.count;
    if (a.min < min) min = a.min;
    if (a.max > max) max = a.max;
    last = a.last;
  }
  if (!present && (LATER_METRIC_NAMES as readonly string[]).includes(name)) return undefined;
  return { count, min: round(min), max: round(max), avg: round(count > 0 ? sum / count : 0), last: round(last) };
}

/** The bucket gated over every share's blocks, against the latest share's station loudness. */
function mergeIntegrated(byEnd: readonly BucketShare[], tap: Tap): GatedLoudness | undefined {
  const latest = byEnd[byEnd.length - 1].metrics[tap]?.[INTEGRATED_LOUDNESS];
  if (latest === undefined) return undefined;
  let n = 0;
  for (const s of byEnd) {
    if (s.loudnessBlocks === null) {
      if (frames(s) > 0) return undefined;
      continue;
    }
    n += s.loudnessBlocks[tap].length;
  }
  const powers = new Float64Array(n);
  n = 0;
  for (const s of [...byEnd].sort((a, b) => a.sampleStart - b.sampleStart)) {
    if (s.loudnessBlocks === null) continue;
    powers.set(s.loudnessBlocks[tap], n);
    n += s.loudnessBlocks[tap].length;
  }
  return gatedLoudness(powers, n, latest.station);
}

/** Frames a share measured. */
function frames(s: BucketShare): number {
  return s.metrics.PRE?.['pcm.rms_dbfs']?.count ?? 0;
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
