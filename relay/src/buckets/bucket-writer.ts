/**
 * Persists finalized buckets in arrival order: segments first, then the row (so a row never
 * points at a missing file), then retention. One write at a time keeps the disk and the
 * SQLite writer out of each other's way; `drain()` waits for everything queued.
 *
 * Every live station finalizes its bucket at the same moment (the bucket's end plus the
 * grace), so the records arrive in one burst. Written flat out, a burst of a few hundred
 * holds the relay's core (file writes, rows, the garbage they leave) for most of a second,
 * and the media worker's frames wait behind it. The writes of a burst are spaced instead:
 * the first at once, then a pause of `spreadMs` / (records in the burst) after each, at
 * most `maxGapMs`, so a large burst spreads over about `spreadMs` and a small one is
 * barely held (a bucket is complete, for snapshots, only once written). `drain()` ends
 * the spacing, and recorded buckets (uploads, already hours old) are written as fast as
 * they come.
 *
 * A recorded bucket (an upload's part) that another part already has a share in is merged:
 * the new part's samples go into the existing segments at their offsets and the row gets
 * the merge of every part's share (recorded-merge.ts). Live buckets are written as they are.
 */
import type { BucketRecord } from '../media/messages.ts';
import { chunkPieces, flattenChunks } from '../media/sample-chunks.ts';
import { RecordedBucketStore } from '../store/recorded-bucket-store.ts';
import type { SegmentKey, SegmentStore } from '../store/segment-store.ts';
import type { Store } from '../store/store.ts';
import { mergeShares, overlaySamples, type MergedBucket } from './recorded-merge.ts';

export interface BucketWriterEvents {
  written(record: BucketRecord, writeMs: number): void;
  failed(record: BucketRecord, error: Error): void;
}

/** Over how long the writes of one large burst of live buckets are spread, by default. */
export const WRITE_SPREAD_MS = 1000;
/** The longest pause between two writes of a burst. */
export const MAX_WRITE_GAP_MS = 5;

export class BucketWriter {
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Live records that have come since the writer last had none pending (pendingBuckets). */
  private burst = 0;
  /** Ends the pause between two writes of a burst, while one runs; `drain()` cuts it short. */
  private endPause: (() => void) | null = null;
  /** Drains under way: while any is, writes are not spaced. */
  private draining = 0;
  /** bucket_ts of every record queued or being written (a bucket appears whole only when none is left). */
  private readonly pendingBuckets = new Map<number, number>();
  written = 0;
  private readonly shares: RecordedBucketStore;

  constructor(
    private readonly store: Store,
    private readonly segments: SegmentStore,
    private readonly events: BucketWriterEvents,
    private readonly spacing: { spreadMs: number; maxGapMs: number } = { spreadMs: WRITE_SPREAD_MS, maxGapMs: MAX_WRITE_GAP_MS },
  ) {
    this.shares = new RecordedBucketStore(store.db);
  }

  get backlog(): number {
    return this.queued;
  }

  /** Queues a record; `done` runs once its audio is on disk (or the write failed). */
  enqueue(record: BucketRecord, done?: () => void): void {
    this.queued++;
    // Recorded buckets are hours old: counting them would hold back every live snapshot
    // (completeBefore) while an upload is processed. A part is reported only once drained.
    const live = record.recordedPart === null;
    if (live) {
      if (this.pendingBuckets.size === 0) this.burst = 0;
      this.burst++;
      this.pendingBuckets.set(record.bucketTs, (this.pendingBuckets.get(record.bucketTs) ?? 0) + 1);
    }
    this.chain = this.chain
      .then(() => (live ? this.write(record) : this.writeRecorded(record)))
      .finally(() => {
        this.queued--;
        if (live) {
          const n = (this.pendingBuckets.get(record.bucketTs) ?? 1) - 1;
          if (n === 0) this.pendingBuckets.delete(record.bucketTs);
          else this.pendingBuckets.set(record.bucketTs, n);
        }
        done?.();
      })
      .then(() => (live ? this.pauseInBurst() : undefined));
  }

  /** The earliest live bucket with a record not yet in the store (Infinity when none). */
  oldestPendingBucketTs(): number {
    let oldest = Infinity;
    for (const ts of this.pendingBuckets.keys()) if (ts < oldest) oldest = ts;
    return oldest;
  }

  /** Runs a task between writes (retention sweeps), so it never races a write. */
  exclusive(task: () => Promise<unknown>): Promise<void> {
    const run = this.chain.then(task).then(() => undefined);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Resolves once everything queued so far is written; the writes still queued go without spacing. */
  async drain(): Promise<void> {
    this.draining++;
    this.endPause?.();
    try {
      await this.chain;
    } finally {
      this.draining--;
    }
  }

  /** After a live write: the pause that spreads the rest of the burst over spreadMs. */
  private pauseInBurst(): Promise<void> | undefined {
    const { spreadMs, maxGapMs } = this.spacing;
    // No live record left: the burst is over.
    if (this.draining > 0 || this.pendingBuckets.size === 0 || spreadMs <= 0) return undefined;
    const ms = Math.min(maxGapMs, spreadMs / this.burst);
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endPause?.(), ms);
      this.endPause = (): void => {
        clearTimeout(timer);
        this.endPause = null;
        resolve();
      };
    });
  }

  private async write(r: BucketRecord): Promise<void> {
    const t0 = performance.now();
    try {
      const seg = await this.segments.write(segmentKey(r), chunkPieces(r.pre, r.samples), chunkPieces(r.post, r.samples));
      this.insertRow(r, r, seg);
      await this.afterWrite(r, t0);
    } catch (err) {
      this.events.failed(r, err as Error);
    }
  }

  private async writeRecorded(r: BucketRecord): Promise<void> {
    const t0 = performance.now();
    try {
      const part = r.recordedPart as number;
      const share = { part, sampleStart: r.sampleStart, samples: r.samples, metrics: r.metrics, ingest: r.ingest, loudnessBlocks: r.loudnessBlocks };
      const others = this.shares.shares(r.traceId, r.stationKey, r.bucketTs).filter((s) => s.part !== part);
      if (others.length === 0) {
        // The only part in this bucket (or this part run again): written as a live bucket is.
        const old = this.store.getBucket(r.traceId, r.stationKey, r.bucketTs);
        const seg = await this.segments.write(segmentKey(r), chunkPieces(r.pre, r.samples), chunkPieces(r.post, r.samples), old?.pre_path != null);
        if (old?.pre_path) this.segments.replaced(old.segment_bytes, old.client);
        this.store.db.transaction(() => {
          this.shares.putShare(r.traceId, r.stationKey, r.bucketTs, share);
          this.insertRow(r, r, seg);
        })();
      } else {
        const merged = mergeShares([...others, share]);
        const old = this.store.getBucket(r.traceId, r.stationKey, r.bucketTs);
        const pre = new Int16Array(merged.samples);
        const post = new Int16Array(merged.samples);
        if (old?.pre_path && old.post_path) {
          // The other parts' audio, as the segments hold it (retention may have removed it).
          const [oldPre, oldPost] = await Promise.all([this.segments.readSamples(old.pre_path), this.segments.readSamples(old.post_path)]);
          pre.set(oldPre.subarray(0, merged.samples));
          post.set(oldPost.subarray(0, merged.samples));
        }
        overlaySamples(pre, flattenChunks(r.pre, r.samples), r.sampleStart, r.samples);
        overlaySamples(post, flattenChunks(r.post, r.samples), r.sampleStart, r.samples);
        const seg = await this.segments.write(segmentKey(r), [pre], [post], old?.pre_path != null);
        if (old?.pre_path) this.segments.replaced(old.segment_bytes, old.client);
        this.store.db.transaction(() => {
          this.shares.putShare(r.traceId, r.stationKey, r.bucketTs, share);
          this.insertRow(r, merged, seg);
        })();
      }
      await this.afterWrite(r, t0);
    } catch (err) {
      this.events.failed(r, err as Error);
    }
  }

  private insertRow(r: BucketRecord, content: MergedBucket, seg: { prePath: string; postPath: string; bytes: number }): void {
    this.store.insertBucket({
      trace_id: r.traceId,
      station_key: r.stationKey,
      bucket_ts: r.bucketTs,
      bucket_ms: r.bucketMs,
      sample_rate: r.sampleRate,
      metrics: content.metrics,
      knobs: r.knobs,
      config_version: r.configVersion,
      last_knob_event_id: r.lastKnobEventId,
      ingest: content.ingest,
      sample_start: content.sampleStart,
      samples: content.samples,
      pre_path: seg.prePath,
      post_path: seg.postPath,
      segment_bytes: seg.bytes,
      client: r.client,
    });
  }

  private async afterWrite(r: BucketRecord, t0: number): Promise<void> {
    if (this.segments.needsSweep()) await this.segments.sweep(Date.now());
    this.written++;
    this.events.written(r, performance.now() - t0);
  }
}

function segmentKey(r: BucketRecord): SegmentKey {
  return { traceId: r.traceId, stationKey: r.stationKey, bucketTs: r.bucketTs, sampleRate: r.sampleRate, client: r.client };
}
