/**
 * Loading a trace's past buckets at once instead of page by page. The snapshot (seed 000
 * §5.2) gives at most 100 buckets a call and is rate-limited per token and trace (one call
 * every 5 s by default): 12 hours of buckets would take 87 calls, over 7 minutes. The export
 * sidecar (`GET /api/audio/export/sidecar`) answers every bucket of one station over up to
 * 2 hours, with no rate limit, so the past is asked for as a few such ranges per station, all
 * at once; the snapshot then follows from where they end.
 *
 * A live trace's newest minute is left to the snapshot, which answers only buckets complete
 * for every station; past that, every stored bucket is complete.
 */
import type { TraceDetail } from '$protocol/api';

export interface BackfillRange {
  stationKey: string;
  /** Start (inclusive) and end (exclusive) of the range, ms since the epoch. */
  fromMs: number;
  toMs: number;
}

export interface BackfillPlan {
  ranges: BackfillRange[];
  /** Where the snapshot takes over: buckets strictly after this start, ms; null: from the beginning. */
  resumeAfterMs: number | null;
}

export interface BackfillLimits {
  /** Buckets kept per station: older ones are not asked for. */
  capacity: number;
  bucketMs: number;
  /** Longest range one sidecar request may cover, ms. */
  maxRangeMs: number;
  /** How far behind the newest stored bucket a live trace's backfill stops, ms. */
  liveLagMs: number;
}

/** The sidecar ranges that cover what the page keeps of `trace`'s stored buckets. */
export function planBackfill(trace: TraceDetail, limits: BackfillLimits): BackfillPlan {
  const ranges: BackfillRange[] = [];
  let resumeAfterMs: number | null = null;
  for (const s of trace.stations) {
    if (s.first_bucket_ts === null || s.last_bucket_ts === null) continue;
    const first = Date.parse(s.first_bucket_ts);
    const last = Date.parse(s.last_bucket_ts);
    const end = trace.active ? Math.floor((last - limits.liveLagMs) / limits.bucketMs) * limits.bucketMs : last + limits.bucketMs;
    const start = Math.max(first, end - limits.capacity * limits.bucketMs);
    for (let from = start; from < end; from += limits.maxRangeMs) ranges.push({ stationKey: s.station_key, fromMs: from, toMs: Math.min(end, from + limits.maxRangeMs) });
    // The snapshot resumes after the earliest station's end, so no station misses a bucket.
    const resume = end - limits.bucketMs;
    resumeAfterMs = resumeAfterMs === null ? resume : Math.min(resumeAfterMs, resume);
  }
  return { ranges, resumeAfterMs };
}
