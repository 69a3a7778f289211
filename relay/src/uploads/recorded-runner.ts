/**
 * Runs recorded packets (an upload's part) through the station pipeline of live audio, on a
 * media worker, as a *recorded* station (media/station.ts): every packet arrives at its
 * capture time, so buckets, meters and segments come out at the capture times.
 *
 * Flow control: a batch at a time, the next only once the worker has processed the last
 * (`MediaPool.sync`), so one upload neither floods a worker's message queue nor holds up the
 * live stations sharing it for longer than a batch takes. The run is over when the station
 * has left its worker (every bucket finalized) and the bucket writer has stored them all.
 */
import type { BucketWriter } from '../buckets/bucket-writer.ts';
import type { IngestCounters, StationSpec } from '../media/messages.ts';
import type { PacketView } from '../media/packet-batch.ts';
import type { MediaPool } from '../media/pool.ts';

/** One packet of a run; its `arrivalMs` is the capture time of its first sample (epoch ms). */
export type RecordedPacket = Omit<PacketView, 'stationId' | 'mediaMs'>;

/** Why a run did not finish (its packets stay where they were; run it again). */
export class RecordedRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordedRunError';
  }
}

interface Running {
  closed(counters: IngestCounters): void;
  failed(err: Error): void;
}

export class RecordedRunner {
  private readonly running = new Map<number, Running>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing = false;

  constructor(
    private readonly pool: MediaPool,
    private readonly writer: BucketWriter,
  ) {}

  /** Pool event wiring: true when `poolId` was a recorded run's (the event is handled). */
  onPipelineClosed(poolId: number, counters: IngestCounters): boolean {
    const r = this.running.get(poolId);
    if (r === undefined) return false;
    r.closed(counters);
    return true;
  }

  /** Pool event wiring: the worker of these stations died; returns the ids that were not runs. */
  onWorkerFailed(poolIds: number[], err: Error): number[] {
    const rest: number[] = [];
    for (const id of poolIds) {
      const r = this.running.get(id);
      if (r === undefined) rest.push(id);
      else r.failed(new RecordedRunError(`the media worker failed: ${err.message}`));
    }
    return rest;
  }

  /**
   * Processes `batches()` (each a batch of packets in order, read lazily so an hour of audio
   * is never in memory at once) on a new recorded station; resolves with its counters once
   * every bucket is in the store.
   */
  run(spec: Omit<StationSpec, 'id'> & { recorded: NonNullable<StationSpec['recorded']> }, batches: () => Iterable<RecordedPacket[]>): Promise<IngestCounters> {
    if (this.closing) return Promise.reject(new RecordedRunError('the relay is stopping'));
    const p = this.doRun(spec, batches);
    this.inFlight.add(p);
    const forget = (): void => void this.inFlight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Stops every run at its next batch (relay stop); resolves once none is left. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inFlight]);
  }

  private async doRun(spec: Omit<StationSpec, 'id'>, batches: () => Iterable<RecordedPacket[]>): Promise<IngestCounters> {
    const id = this.pool.addStation(spec);
    let gone = false;
    let settle!: Running;
    const closed = new Promise<IngestCounters>((resolve, reject) => {
      settle = {
        closed: (c) => ((gone = true), resolve(c)),
        failed: (e) => ((gone = true), reject(e)),
      };
    });
    // Until awaited below, a failure must not count as unhandled.
    closed.catch(() => undefined);
    const goneEarly = closed.then(
      () => false,
      () => false,
    );
    this.running.set(id, settle);
    let ended = false;
    try {
      for (const batch of batches()) {
        if (this.closing) throw new RecordedRunError('the relay is stopping');
        for (const pk of batch) this.pool.push(id, pk.timestampMs, pk.sequence, pk.codec, pk.flags, pk.arrivalMs, pk.payload);
        // A station gone before its end was ended by someone else (a relay flush): not a whole run.
        if (!(await Promise.race([this.pool.sync(id), goneEarly]))) throw new RecordedRunError('the recorded station ended before its last packet');
      }
      ended = true;
      this.pool.end(id);
      const counters = await closed;
      await this.writer.drain();
      return counters;
    } catch (err) {
      if (!ended) this.pool.end(id);
      // Its `closed` event may be still to come: it must not be taken for a live station's.
      const forget = (): void => void this.running.delete(id);
      if (gone) forget();
      else this.running.set(id, { closed: forget, failed: forget });
      throw err;
    } finally {
      if (ended) this.running.delete(id);
    }
  }
}
