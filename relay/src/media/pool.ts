/**
 * The control plane's side of the media workers: stations are spread over a pool of worker
 * threads (one pipeline per station, the least loaded worker first), packets are batched
 * per event-loop turn, and control calls are request/response. `addStation` returns the
 * station's handle (station-handle.ts) to the transport that owns it; the station's own
 * events go to that handle. Pool-wide events (buckets to store, meters, spectra, latency)
 * go to the pool's listeners, and the counters of closed stations are summed here. Listener
 * egress packets come from a worker in batches (egress-batch.ts) and go to each station's
 * own handle as `egress` events.
 */
import { Worker } from 'node:worker_threads';
import type { KnobValues } from '../../../protocol/knobs.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { readEgressBatch } from './egress-batch.ts';
import type { BucketRecord, FromWorker, IngestCounters, ScheduleRefusal, StationSpec, StationStats, ToWorker, WorkerPriority } from './messages.ts';
import { PacketBatchWriter } from './packet-batch.ts';
import { fromWire, usedSlots } from './sample-chunks.ts';
import { SlabViews } from './segment-buffers.ts';
import { StationHandle, type EgressOptions, type StationPort } from './station-handle.ts';

/** What the pool tells the relay as a whole (a station's own events go to its handle). */
export interface PoolEvents {
  /** A finalized bucket; call `done` once its audio is written, to recycle the buffers. */
  bucket(record: BucketRecord, done: () => void): void;
  /** The latest meters of a worker's stations (METER_FIELDS numbers per station). */
  meters(values: Float64Array): void;
  /** Band spectra of a worker's stations (records of [id, tap, bands, ...dB]). */
  spectra?(values: Float32Array): void;
  /** A worker's per-frame latency bins since its last report. */
  latency?(bins: Uint32Array): void;
  /** A station's backpressure state changed (its handle hears it too): for the log. */
  status?(handle: StationHandle, state: 'backpressure' | 'ok', droppedFrames: number, queueDepth: number): void;
  /** A station left its worker, closed or lost. */
  stationGone?(handle: StationHandle): void;
  /** A worker died, with these stations (each handle hears `lost`). */
  workerFailed(handles: StationHandle[], error: Error): void;
}

/** Counters of every closed live station, summed (recorded runs keep theirs to themselves). */
export type ClosedTotals = Pick<IngestCounters, 'frames_dropped' | 'frames_concealed' | 'late_frames' | 'resyncs' | 'frames_out_of_order'>;

interface WorkerSlot {
  index: number;
  worker: Worker;
  writer: PacketBatchWriter;
  flushScheduled: boolean;
  stations: Map<number, StationHandle>;
  /** The worker's shared segment slabs (bucket audio arrives as slot numbers in them). */
  slabs: SlabViews;
  /** The priority the worker asked for at start, and whether it got it. */
  priority: WorkerPriority | null;
  alive: boolean;
}

type Pending = { slot: WorkerSlot; resolve: (msg: FromWorker) => void; reject: (err: Error) => void };

export class MediaPool implements StationPort {
  private readonly slots: WorkerSlot[] = [];
  /** Where each station runs, by its number (the worker's messages carry the number). */
  private readonly stationSlot = new Map<number, WorkerSlot>();
  private readonly pending = new Map<number, Pending>();
  private readonly stationStats = new Map<number, StationStats>();
  private nextReqId = 1;
  private nextStationId = 1;
  private closed = false;
  /** Per-frame processing latency (arrival to POST meters) since the last reset. */
  readonly latency = new LatencyHistogram();
  readonly closedTotals: ClosedTotals = { frames_dropped: 0, frames_concealed: 0, late_frames: 0, resyncs: 0, frames_out_of_order: 0 };

  constructor(
    private readonly size: number,
    private readonly events: PoolEvents,
    private readonly meterIntervalMs = 50,
    private readonly spectrumIntervalMs = 200,
    /** Nice value the workers ask for (config.mediaNice); 0: none. */
    private readonly nice = 0,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new TypeError('media pool size must be a positive integer');
  }

  async start(): Promise<void> {
    const boot = new URL('./worker-boot.mjs', import.meta.url);
    const entry = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(boot, { workerData: { entry, meterIntervalMs: this.meterIntervalMs, spectrumIntervalMs: this.spectrumIntervalMs, nice: this.nice }, name: `media-${i}` });
      const slot: WorkerSlot = { index: i, worker, writer: new PacketBatchWriter(), flushScheduled: false, stations: new Map(), slabs: new SlabViews(), priority: null, alive: true };
      this.slots.push(slot);
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onMessage = (msg: FromWorker): void => {
            if (msg.type === 'ready') {
              slot.priority = msg.priority;
              resolve();
            }
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

  /** Each worker's priority, as it reported at start. */
  get priorities(): WorkerPriority[] {
    return this.slots.map((s) => s.priority).filter((p): p is WorkerPriority => p !== null);
  }

  /** Starts a station's pipeline on the least loaded worker; its owner holds the handle. */
  addStation(spec: Omit<StationSpec, 'id'>): StationHandle {
    const live = this.slots.filter((s) => s.alive);
    if (live.length === 0) throw new Error('no media worker is running');
    const slot = live.reduce((a, b) => (b.stations.size < a.stations.size ? b : a));
    const handle = new StationHandle(this.nextStationId++, spec, this);
    slot.stations.set(handle.id, handle);
    this.stationSlot.set(handle.id, slot);
    this.post(slot, { type: 'add', spec: { ...spec, id: handle.id } });
    return handle;
  }

  /** StationPort: queues one packet for its station's worker; batches go out once per event-loop turn. */
  push(handle: StationHandle, timestampMs: number, sequence: number, codec: number, flags: number, arrivalMs: number, payload: Uint8Array): void {
    const slot = this.stationSlot.get(handle.id);
    if (slot === undefined || !slot.alive) return;
    slot.writer.append(handle.id, timestampMs, sequence, codec, flags, arrivalMs, payload);
    if (!slot.flushScheduled) {
      slot.flushScheduled = true;
      setImmediate(() => this.flushPackets(slot));
    }
  }

  /** StationPort. */
  end(handle: StationHandle): void {
    const slot = this.stationSlot.get(handle.id);
    if (slot !== undefined && slot.alive) this.post(slot, { type: 'end', id: handle.id });
  }

  /** StationPort. */
  async schedule(handle: StationHandle, applyAtBucketTs: number, knobs: KnobValues, configVersion: number, eventId: number): Promise<ScheduleRefusal | null> {
    const slot = this.stationSlot.get(handle.id);
    if (slot === undefined || !slot.alive) return 'unknown_station';
    const reply = await this.request(slot, (reqId) => ({ type: 'schedule', reqId, id: handle.id, applyAtBucketTs, knobs, configVersion, eventId }));
    if (reply.type !== 'scheduled') throw new Error(`unexpected reply ${reply.type}`);
    return reply.ok ? null : reply.refusal;
  }

  /** StationPort: starts, retunes or stops a tap's egress encoder (the handle checked the options). */
  setEgress(handle: StationHandle, tap: 0 | 1, options: EgressOptions | null): void {
    const slot = this.stationSlot.get(handle.id);
    if (slot !== undefined && slot.alive) this.post(slot, { type: 'egress', id: handle.id, tap, options });
  }

  /** StationPort: true while the station exists on its worker, false once it is gone. */
  async sync(handle: StationHandle): Promise<boolean> {
    const slot = this.stationSlot.get(handle.id);
    if (slot === undefined || !slot.alive) return false;
    const reply = await this.request(slot, (reqId) => ({ type: 'sync', reqId, id: handle.id }));
    if (reply.type !== 'synced') throw new Error(`unexpected reply ${reply.type}`);
    return reply.known;
  }

  /** StationPort. */
  stats(handle: StationHandle): StationStats | undefined {
    return this.stationStats.get(handle.id);
  }

  /** The handle of the station with this number (for the meter and spectrum records, which carry numbers). */
  handleOf(id: number): StationHandle | undefined {
    return this.stationSlot.get(id)?.stations.get(id);
  }

  /** Every worker processes what it has accepted and finalizes every bucket now. */
  async flush(): Promise<void> {
    await Promise.all(this.slots.filter((s) => s.alive).map((slot) => this.request(slot, (reqId) => ({ type: 'flush', reqId }))));
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
        const w = msg.record;
        const record: BucketRecord = { ...w, pre: fromWire(w.pre, slot.slabs), post: fromWire(w.post, slot.slabs) };
        this.events.bucket(record, () => {
          if (slot.alive && !this.closed) slot.worker.postMessage({ type: 'recycle', slots: [...usedSlots(w.pre), ...usedSlots(w.post)] } satisfies ToWorker);
        });
        break;
      }
      case 'slab':
        slot.slabs.made(msg.id, msg.buffer);
        break;
      case 'slab_freed':
        slot.slabs.freed(msg.id);
        break;
      case 'status': {
        const handle = slot.stations.get(msg.id);
        if (handle === undefined) break;
        handle.emit('status', msg.state, msg.droppedFrames, msg.queueDepth);
        this.events.status?.(handle, msg.state, msg.droppedFrames, msg.queueDepth);
        break;
      }
      case 'decode_error':
        slot.stations.get(msg.id)?.emit('decodeError', msg.code, msg.message);
        break;
      case 'closed': {
        const handle = slot.stations.get(msg.id);
        slot.stations.delete(msg.id);
        this.stationSlot.delete(msg.id);
        this.stationStats.delete(msg.id);
        if (handle === undefined) break;
        if (handle.spec.recorded === undefined) this.addClosed(msg.counters);
        handle.settle('closed', msg.counters);
        this.events.stationGone?.(handle);
        break;
      }
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
      case 'egress':
        // Each packet is a view into the transferred buffer, which nothing writes again.
        for (const r of readEgressBatch(msg.buffer, msg.bytes)) slot.stations.get(r.stationId)?.deliverEgress(r);
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
    const handles = [...slot.stations.values()];
    for (const h of handles) {
      this.stationSlot.delete(h.id);
      this.stationStats.delete(h.id);
    }
    slot.stations.clear();
    this.events.workerFailed(handles, err);
    for (const h of handles) {
      h.settle('lost', err);
      this.events.stationGone?.(h);
    }
  }

  private addClosed(c: IngestCounters): void {
    const t = this.closedTotals;
    t.frames_dropped += c.frames_dropped;
    t.frames_concealed += c.frames_concealed;
    t.late_frames += c.late_frames;
    t.resyncs += c.resyncs;
    t.frames_out_of_order += c.frames_out_of_order;
  }
}
