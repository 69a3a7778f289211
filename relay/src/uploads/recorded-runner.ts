/**
 * Runs recorded packets (an upload's part) through the station pipeline of live audio, on a
 * media worker, as a *recorded* station (media/station.ts): every packet arrives at its
 * capture time, so buckets, meters and segments come out at the capture times.
 *
 * Flow control: a batch at a time, the next only once the worker has processed the last
 * (`StationHandle.sync`), so one upload neither floods a worker's message queue nor holds
 * up the live stations sharing it for longer than a batch takes. The run owns its
 * station's handle; it is over when the station has left its worker (every bucket
 * finalized, the handle's `closed`) and the bucket writer has stored them all.
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

export class RecordedRunner {
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing = false;

  constructor(
    private readonly pool: MediaPool,
    private readonly writer: BucketWriter,
  ) {}

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
    const handle = this.pool.addStation(spec);
    const gone = new Promise<IngestCounters>((resolve, reject) => {
      handle.on('closed', resolve);
      handle.on('lost', (err) => reject(new RecordedRunError(`the media worker failed: ${err.message}`)));
    });
    // Until awaited below, a failure must not count as unhandled.
    gone.catch(() => undefined);
    const goneEarly = gone.then(
      () => false,
      () => false,
    );
    try {
      for (const batch of batches()) {
        if (this.closing) throw new RecordedRunError('the relay is stopping');
        for (const pk of batch) handle.push(pk.timestampMs, pk.sequence, pk.codec, pk.flags, pk.arrivalMs, pk.payload);
        // A station gone before its end was ended by someone else (a relay flush): not a whole run.
        if (!(await Promise.race([handle.sync(), goneEarly]))) throw new RecordedRunError('the recorded station ended before its last packet');
      }
      handle.end();
      const counters = await gone;
      await this.writer.drain();
      return counters;
    } finally {
      // On a failure the station still leaves its worker; nothing waits for it.
      handle.end();
    }
  }
}
