/**
 * Each part's share of a recorded bucket (table recorded_bucket_parts): the bucket row holds
 * their merge, and these rows let it be recomputed exactly when a part is added or run again.
 * A share keeps its 400 ms loudness block powers (`loudness_blocks`, JSON
 * `{"PRE": [...], "POST": [...]}`, exact: JSON numbers round-trip a double), so that a merge
 * can gate over every block; shares stored before that column existed read as null.
 */
import type Database from 'better-sqlite3';
import type { BucketMetrics } from '../../../protocol/metrics.ts';
import type { BucketShare } from '../buckets/recorded-merge.ts';
import type { IngestCounters, LoudnessBlocks } from '../media/messages.ts';
import { prepared } from './prepared.ts';

export interface StoredShare extends BucketShare {
  part: number;
}

interface Raw {
  part: number;
  sample_start: number;
  samples: number;
  metrics: string;
  ingest: string;
  loudness_blocks: string | null;
}

export class RecordedBucketStore {
  constructor(private readonly db: Database.Database) {}

  shares(traceId: string, stationKey: string, bucketTs: number): StoredShare[] {
    const rows = prepared(this.db, 'SELECT part, sample_start, samples, metrics, ingest, loudness_blocks FROM recorded_bucket_parts WHERE trace_id = ? AND station_key = ? AND bucket_ts = ? ORDER BY part')
      .all(traceId, stationKey, bucketTs) as Raw[];
    return rows.map((r) => ({
      part: r.part,
      sampleStart: r.sample_start,
      samples: r.samples,
      metrics: JSON.parse(r.metrics) as BucketMetrics,
      ingest: JSON.parse(r.ingest) as IngestCounters,
      loudnessBlocks: r.loudness_blocks === null ? null : parseBlocks(r.loudness_blocks),
    }));
  }

  /** Inserts or replaces one part's share (a part run again replaces its own). */
  putShare(traceId: string, stationKey: string, bucketTs: number, share: StoredShare): void {
    prepared(
      this.db,
      `INSERT OR REPLACE INTO recorded_bucket_parts (trace_id, station_key, bucket_ts, part, sample_start, samples, metrics, ingest, loudness_blocks)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      traceId,
      stationKey,
      bucketTs,
      share.part,
      share.sampleStart,
      share.samples,
      JSON.stringify(share.metrics),
      JSON.stringify(share.ingest),
      share.loudnessBlocks === null ? null : JSON.stringify({ PRE: Array.from(share.loudnessBlocks.PRE), POST: Array.from(share.loudnessBlocks.POST) }),
    );
  }

  /**
   * Buckets from `fromBucketTs` to `toBucketTs` (inclusive) a part has a share in, oldest
   * first, with the frames it put there. The range keeps out shares an interrupted run of a
   * longer part with the same first index may have left.
   */
  partBuckets(traceId: string, stationKey: string, part: number, fromBucketTs: number, toBucketTs: number): { bucketTs: number; frames: number }[] {
    const rows = prepared(
      this.db,
      `SELECT bucket_ts, metrics FROM recorded_bucket_parts
         WHERE trace_id = ? AND station_key = ? AND part = ? AND bucket_ts BETWEEN ? AND ? ORDER BY bucket_ts`,
    ).all(traceId, stationKey, part, fromBucketTs, toBucketTs) as { bucket_ts: number; metrics: string }[];
    return rows.map((r) => ({ bucketTs: r.bucket_ts, frames: (JSON.parse(r.metrics) as BucketMetrics).PRE['pcm.rms_dbfs'].count }));
  }
}

function parseBlocks(text: string): LoudnessBlocks {
  const b = JSON.parse(text) as { PRE: number[]; POST: number[] };
  return { PRE: Float64Array.from(b.PRE), POST: Float64Array.from(b.POST) };
}
