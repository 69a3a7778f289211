/**
 * Persists finalized buckets in arrival order: segments first, then the row (so a row never
 * points at a missing file), then retention. One write at a time keeps the disk and the
 * SQLite writer out of each other's way; `drain()` waits for everything queued.
 */
import type { BucketRecord } from '../media/messages.ts';
import type { SegmentStore } from '../store/segment-store.ts';
import type { Store } from '../store/store.ts';

export interface BucketWriterEvents {
  written(record: BucketRecord, writeMs: number): void;
  failed(record: BucketRecord, error: Error): void;
}

export class BucketWriter {
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  /** bucket_ts of every record queued or being written (a bucket appears whole only when none is left). */
  private readonly pendingBuckets = new Map<number, number>();
  written = 0;

  constructor(
    private readonly store: Store,
    private readonly segments: SegmentStore,
    private readonly events: BucketWriterEvents,
  ) {}

  get backlog(): number {
    return this.queued;
  }

  /** Queues a record; `done` runs once its audio is on disk (or the write failed). */
  enqueue(record: BucketRecord, done?: () => void): void {
    this.queued++;
    this.pendingBuckets.set(record.bucketTs, (this.pendingBuckets.get(record.bucketTs) ?? 0) + 1);
    this.chain = this.chain
      .then(() => this.write(record))
      .finally(() => {
        this.queued--;
        const n = (this.pendingBuckets.get(record.bucketTs) ?? 1) - 1;
        if (n === 0) this.pendingBuckets.delete(record.bucketTs);
        else this.pendingBuckets.set(record.bucketTs, n);
        done?.();
      });
  }

  /** The earliest bucket with a record not yet in the store (Infinity when none). */
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

  drain(): Promise<void> {
    return this.chain;
  }

  private async write(r: BucketRecord): Promise<void> {
    const t0 = performance.now();
    try {
      const seg = await this.segments.write(r.traceId, r.stationKey, r.bucketTs, r.sampleRate, r.pre.subarray(0, r.samples), r.post.subarray(0, r.samples));
      this.store.insertBucket({
        trace_id: r.traceId,
        station_key: r.stationKey,
        bucket_ts: r.bucketTs,
        bucket_ms: r.bucketMs,
        sample_rate: r.sampleRate,
        metrics: r.metrics,
        knobs: r.knobs,
        config_version: r.configVersion,
        last_knob_event_id: r.lastKnobEventId,
        ingest: r.ingest,
        sample_start: r.sampleStart,
        samples: r.samples,
        pre_path: seg.prePath,
        post_path: seg.postPath,
        segment_bytes: seg.bytes,
      });
      if (this.segments.needsSweep()) await this.segments.sweep(Date.now());
      this.written++;
      this.events.written(r, performance.now() - t0);
    } catch (err) {
      this.events.failed(r, err as Error);
    }
  }
}
