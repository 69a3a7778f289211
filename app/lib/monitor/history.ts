/**
 * One station's bucket history as the monitor's trace page charts it: one point per
 * complete bucket (seed 000 §5.2), PRE against POST. Bounded: the oldest buckets are dropped
 * beyond `capacity`, so a page left open on a long trace keeps a fixed footprint. Only what
 * the chart and the knob verification read is kept of a bucket (its six chart values, knobs
 * and config version), not its full metrics: 12 hours are 8,640 buckets a station.
 */
import type { SnapshotEntry } from '$protocol/optimizer-api';
import type { TapMetrics } from '$protocol/metrics';
import type { BucketKnobs, StationBuckets } from './verification';

/** Buckets kept per station by default: 12 hours of 5 s buckets. */
export const HISTORY_DEFAULT_CAPACITY = 8640;

/**
 * Columns of a chart, uPlot's AlignedData layout: x in seconds since the epoch, then one
 * column per series, null where a bucket has no value (a gap, never a made-up zero).
 */
export type HistoryColumns = [
  bucketTsS: number[],
  preLufs: (number | null)[],
  postLufs: (number | null)[],
  prePeakDbfs: (number | null)[],
  postPeakDbfs: (number | null)[],
  preClipPct: (number | null)[],
  postClipPct: (number | null)[],
];

export const HISTORY_SERIES = ['PRE loudness', 'POST loudness', 'PRE peak', 'POST peak', 'PRE clipping', 'POST clipping'] as const;

/** The bucket's gated loudness (BS.1770-4), LUFS; null in silence or for buckets stored before it was measured. */
export function bucketLufs(tap: TapMetrics): number | null {
  return tap['loudness.integrated_lufs']?.bucket ?? null;
}

/** Highest 20 ms frame peak of the bucket, dBFS. */
export function bucketPeakDbfs(tap: TapMetrics): number | null {
  const a = tap['pcm.peak_dbfs'];
  return a && a.count > 0 ? a.max : null;
}

/** Worst 20 ms frame's share of clipped samples, percent. */
export function bucketClipPct(tap: TapMetrics): number | null {
  const a = tap['pcm.clipping_ratio'];
  return a && a.count > 0 ? a.max * 100 : null;
}

/** A bucket as the history takes it: a snapshot entry, or an export sidecar's bucket (which names no station). */
export type HistoryBucket = Pick<SnapshotEntry, 'bucket_ts' | 'metrics' | 'knobs_snapshot' | 'config_version'> & { station_key?: string };

/** What is kept of a bucket. */
export interface KeptBucket extends BucketKnobs {
  /** The chart's values, in `HISTORY_SERIES` order. */
  values: (number | null)[];
}

export class StationHistory implements StationBuckets {
  readonly #byTs = new Map<number, KeptBucket>();
  /** Bucket starts in ascending order, ms. */
  #order: number[] = [];
  /** The columns last built, until the next bucket arrives. */
  #columns: HistoryColumns | null = null;

  constructor(
    readonly stationKey: string,
    readonly capacity = HISTORY_DEFAULT_CAPACITY,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.#order.length;
  }

  get latestTsMs(): number | null {
    return this.#order.length === 0 ? null : this.#order[this.#order.length - 1];
  }

  get oldestTsMs(): number | null {
    return this.#order.length === 0 ? null : this.#order[0];
  }

  get(bucketTsMs: number): KeptBucket | undefined {
    return this.#byTs.get(bucketTsMs);
  }

  /** Adds a complete bucket; false when it was known already or is older than the window kept. */
  add(entry: HistoryBucket): boolean {
    const ts = Date.parse(entry.bucket_ts);
    if (entry.station_key !== undefined && entry.station_key !== this.stationKey) throw new TypeError(`bucket of ${entry.station_key} added to the history of ${this.stationKey}`);
    if (this.#byTs.has(ts)) return false;
    if (this.#order.length >= this.capacity && ts < this.#order[0]) return false;
    const m = entry.metrics;
    this.#byTs.set(ts, {
      bucket_ts: entry.bucket_ts,
      knobs_snapshot: entry.knobs_snapshot,
      config_version: entry.config_version,
      values: [bucketLufs(m.PRE), bucketLufs(m.POST), bucketPeakDbfs(m.PRE), bucketPeakDbfs(m.POST), bucketClipPct(m.PRE), bucketClipPct(m.POST)],
    });
    this.#columns = null;
    // Buckets arrive in order; insert in place for the rare one that does not.
    let i = this.#order.length;
    while (i > 0 && this.#order[i - 1] > ts) i--;
    this.#order.splice(i, 0, ts);
    while (this.#order.length > this.capacity) this.#byTs.delete(this.#order.shift() as number);
    return true;
  }

  /** The chart's columns; the same arrays until a bucket is added (callers must not change them). */
  columns(): HistoryColumns {
    if (this.#columns !== null) return this.#columns;
    const n = this.#order.length;
    const cols = [new Array<number>(n), ...HISTORY_SERIES.map(() => new Array<number | null>(n))] as HistoryColumns;
    for (let i = 0; i < n; i++) {
      const ts = this.#order[i];
      const { values } = this.#byTs.get(ts) as KeptBucket;
      cols[0][i] = ts / 1000;
      for (let s = 0; s < values.length; s++) cols[s + 1][i] = values[s];
    }
    this.#columns = cols;
    return cols;
  }
}
