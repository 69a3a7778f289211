/**
 * The control plane's handle on the media workers: stations are spread over a pool of
 * worker threads (one pipeline per station, the least loaded worker first), packets are
 * batched per event-loop turn, and control calls are request/response.
 */
import { Worker } from 'node:worker_threads';
import { LatencyHistogram } from './latency-histogram.ts';
import type { BucketRecord, FromWorker, IngestCounters, ScheduleRefusal, StationSpec, StationStats, ToWorker } from './messages.ts';
import { PacketBatchWriter } from './packet-batch.ts';
import { chunkBuffers } from './sample-chunks.ts';
import type { KnobValues } from '../../../protocol/knobs.ts';

export interface PoolEvents {
  /** A finalized bucket; call `done` once its audio is written, to recycle the buffers. */
  bucket(record: BucketRecord, done: () => void): void;
  status(stationId: number, state: 'backpressure' | 'ok', droppedFrames: number, queueDepth: number): void;
  decodeError(stationId: number, code: string, message: string): void;
  /** An ended station has finalized its last bucket and left its worker. */
  closed(stationId: number, counters: IngestCounters): void;
  /** Band spectra of a worker's stations (records of [id, tap, bands, ...dB]). */
  spectra?(values: Float32Array): void;
  /** A worker's per-frame latency bins since its last report. */
  latency?(bins: Uint32Array): void;
  /** The latest meters of a worker's stations (METER_FIELDS numbers per station). */
  meters(values: Float64Array): void;
  /** A worker died: its stations are gone. */
  workerFailed(stationIds: number[], error: Error): void;
}

interface WorkerSlot {
  index: number;
  worker: Worker;
  writer: PacketBatchWriter;
  flushScheduled: boolean;
  stations: Set<number>;
  alive: boolean;
}

type Pending = { slot: WorkerSlot; resolve: (msg: FromWorker) => void; reject: (err: Error) => void };

export class MediaPool {
  private readonly slots: WorkerSlot[] = [];
  private readonly stationSlot = new Map<number, WorkerSlot>();
  private readonly pending = new Map<number, Pending>();
  private readonly stationStats = new Map<number, StationStats>();
  private nextReqId = 1;
  private nextStationId = 1;
  private closed = false;
  /** Per-frame processing latency (arrival to POST meters) since the last `takeLatency()`. */
  readonly latency = new LatencyHistogram();

  constructor(
    private readonly size: number,
    private readonly events: PoolEvents,
    private readonly meterIntervalMs = 50,
    private readonly spectrumIntervalMs = 200,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new TypeError('media pool size must be a positive integer');
  }

  async start(): Promise<void> {
    const boot = new URL('./worker-boot.mjs', import.meta.url);
    const entry = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(boot, { workerData: { entry, meterIntervalMs: this.meterIntervalMs, spectrumIntervalMs: this.spectrumIntervalMs }, name: `media-${i}` });
      const slot: WorkerSlot = { index: i, worker, writer: new PacketBatchWriter(), flushScheduled: false, stations: new Set(), alive: true };
      this.slots.push(slot);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (msg: FromWorker): void => {
            if (msg.type === 'ready') resolve();
            else this.onMessage(slot, msg);
          };
          worker.on('message', onMessage);
          worker.once('error', (err) => {
            reject(err);
            this.onWorkerFailure(slot, err);
          });
          worker.once('exit', (code) => {
            if (!this.closed) this.onWorkerFailure(slot, new Error(`media worker ${i} exited with code ${code}`));
          });
        }),
      );
    }
    await Promise.all(ready);
  }

  get workerCount(): number {
    return this.slots.length;
  }

  addStation(spec: Omit<StationSpec, 'id'>): number {
    const live = this.slots.filter((s) => s.alive);
    if (live.length === 0) throw new Error('no media worker is running');
    const slot = live.reduce((a, b) => (b.stations.size < a.stations.size ? b : a));
    const id = this.nextStationId++;
    slot.stations.add(id);
    this.stationSlot.set(id, slot);
    this.post(slot, { type: 'add', spec: { ...spec, id } });
    return id;
  }

  /** Queues one packet for its station's worker; batches go out once per event-loop turn. */
  push(stationId: number, timestampMs: number, sequence: number, codec: number, flags: number, arrivalMs: number, payload: Uint8Array): void {
    const slot = this.stationSlot.get(stationId);
    if (slot === undefined || !slot.alive) return;
    slot.writer.append(stationId, timestampMs, sequence, codec, flags, arrivalMs, payload);
    if (!slot.flushScheduled) {
      slot.flushScheduled = true;
      setImmediate(() => this.flushPackets(slot));
    }
  }

  end(stationId: number): void {
    const slot = this.stationSlot.get(stationId);
    if (slot !== undefined && slot.alive) this.post(slot, { type: 'end', id: stationId });
  }

  async schedule(stationId: number, applyAtBucketTs: number, knobs: KnobValues, configVersion: number, eventId: number): Promise<ScheduleRefusal | null> {
    const slot = this.stationSlot.get(stationId);
    if (slot === undefined || !slot.alive) return 'unknown_station';
    const reply = await this.request(slot, (reqId) => ({ type: 'schedule', reqId, id: stationId, applyAtBucketTs, knobs, configVersion, eventId }));
    if (reply.type !== 'scheduled') throw new Error(`unexpected reply ${reply.type}`);
    return reply.ok ? null : reply.refusal;
  }

  /**
   * Resolves once the station's worker has processed everything pushed before this call:
   * true while the station exists there, false once it is gone (ended, or its worker died).
   */
  async sync(stationId: number): Promise<boolean> {
    const slot = this.stationSlot.get(stationId);
    if (slot === undefined || !slot.alive) return false;
    const reply = await this.request(slot, (reqId) => ({ type: 'sync', reqId, id: stationId }));
    if (reply.type !== 'synced') throw new Error(`unexpected reply ${reply.type}`);
    return reply.known;
  }

  /** Every worker processes what it has accepted and finalizes every bucket now. */
  async flush(): Promise<void> {
    await Promise.all(this.slots.filter((s) => s.alive).map((slot) => this.request(slot, (reqId) => ({ type: 'flush', reqId }))));
  }

  stats(stationId: number): StationStats | undefined {
    return this.stationStats.get(stationId);
  }

  stationCount(): number {
    return this.stationSlot.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(new Error('media pool closed'));
    this.pending.clear();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private flushPackets(slot: WorkerSlot): void {
    slot.flushScheduled = false;
    if (slot.writer.count === 0 || !slot.alive) return;
    const { buffer, bytes, count } = slot.writer.take();
    slot.worker.postMessage({ type: 'packets', buffer, bytes, count } satisfies ToWorker, [buffer]);
  }

  private post(slot: WorkerSlot, msg: ToWorker): void {
    // Packets already accepted for this worker go first, so control messages keep their order.
    this.flushPackets(slot);
    slot.worker.postMessage(msg);
  }

  private request(slot: WorkerSlot, make: (reqId: number) => ToWorker): Promise<FromWorker> {
    const reqId = this.nextReqId++;
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending.set(reqId, { slot, resolve, reject });
      this.post(slot, make(reqId));
    });
  }

  private onMessage(slot: WorkerSlot, msg: FromWorker): void {
    switch (msg.type) {
      case 'bucket': {
        const buffers = [...chunkBuffers(msg.record.pre), ...chunkBuffers(msg.record.post)];
        this.events.bucket(msg.record, () => {
          if (slot.alive && !this.closed) slot.worker.postMessage({ type: 'recycle', buffers } satisfies ToWorker, buffers);
        });
        break;
      }
      case 'status':
        this.events.status(msg.id, msg.state, msg.droppedFrames, msg.queueDepth);
        break;
      case 'decode_error':
        this.events.decodeError(msg.id, msg.code, msg.message);
        break;
      case 'closed':
        slot.stations.delete(msg.id);
        this.stationSlot.delete(msg.id);
        this.stationStats.delete(msg.id);
        this.events.closed(msg.id, msg.counters);
        break;
      case 'scheduled':
      case 'synced':
      case 'flushed': {
        const p = this.pending.get(msg.reqId);
        this.pending.delete(msg.reqId);
        p?.resolve(msg);
        break;
      }
      case 'stats':
        for (const s of msg.stations) this.stationStats.set(s.id, s);
        this.latency.merge(msg.latencyBins, msg.latencyCount, msg.latencyMaxMs);
        this.events.latency?.(msg.latencyBins);
        break;
      case 'meters':
        this.events.meters(msg.values);
        break;
      case 'spectra':
        this.events.spectra?.(msg.values);
        break;
      case 'ready':
        break;
    }
  }

  private onWorkerFailure(slot: WorkerSlot, err: Error): void {
    if (!slot.alive) return;
    slot.alive = false;
    // Calls waiting on the dead worker end with its error rather than hanging.
    for (const [reqId, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.pending.delete(reqId);
      p.reject(err);
    }
    const ids = [...slot.stations];
    for (const id of ids) {
      this.stationSlot.delete(id);
      this.stationStats.delete(id);
    }
    slot.stations.clear();
    this.events.workerFailed(ids, err);
  }
}
