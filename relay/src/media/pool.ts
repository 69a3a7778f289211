/**
 * The control plane's side of the media workers: stations are spread over a pool of worker
 * threads (one pipeline per station, the least loaded worker first), packets are batched
 * per event-loop turn, and control calls are request/response. `addStation` returns the
 * station's handle (station-handle.ts) to the transport that owns it; the station's own
 * events go to that handle. Pool-wide events (buckets to store, meters, spectra, latency)
 * go to the pool's listeners, and the counters of closed stations are summed here. Listener
 * egress packets come from a worker in batches (egress-batch.ts) and go to each station's
 * own handle as `egress` events.
 *
 * Traces and their mixes. A live station goes to the worker that already runs a live
 * station of its trace, so that a call's stations meet on one worker, where its mix
 * (mixer.ts) can sum them without crossing threads; else to the worker of the trace's
 * running mix; else to the least loaded worker. Recorded runs keep the least loaded worker
 * and never join a mix. `mixOf(traceId)` returns the trace's mix handle
 * (trace-mix-handle.ts); its mixer runs on the worker of the trace's stations, starts with
 * the trace's first station when egress was asked for before there was one, and starts
 * afresh (a new generation, sequence 0) on the worker of the trace's remaining stations, or
 * with its next station, when its worker dies. Should a trace's stations be spread over two
 * workers anyway (none is replaced after dying), the mix hears only those on its own worker:
 * there is no mixing across workers. Mix numbers come from the station numbers, so one
 * lookup routes an egress record to a station's handle or to a mix's.
 */
import { Worker } from 'node:worker_threads';
import type { KnobValues } from '../../../protocol/knobs.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { readEgressBatch } from './egress-batch.ts';
import type { BucketRecord, FromWorker, IngestCounters, ScheduleRefusal, StationSpec, StationStats, ToWorker, WorkerPriority } from './messages.ts';
import { relayFileUrl } from '../layout.ts';
import { PacketBatchWriter } from './packet-batch.ts';
import { fromWire, usedSlots } from './sample-chunks.ts';
import { SlabViews } from './segment-buffers.ts';
import { StationHandle, type EgressOptions, type StationPort } from './station-handle.ts';
import { TraceMixHandle, type MixPort } from './trace-mix-handle.ts';

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

export class MediaPool implements StationPort, MixPort {
  private readonly slots: WorkerSlot[] = [];
  /** Where each station runs, by its number (the worker's messages carry the number). */
  private readonly stationSlot = new Map<number, WorkerSlot>();
  /** Trace mix handles, by trace and by number (egress records carry the number). */
  private readonly mixes = new Map<string, TraceMixHandle>();
  private readonly mixById = new Map<number, TraceMixHandle>();
  /** Where each mix with egress on runs (or will, once its trace has a station), by its number. */
  private readonly mixSlot = new Map<number, WorkerSlot>();
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
    // From source the entry is worker.ts (worker-boot registers tsx); compiled, worker.js.
    const boot = relayFileUrl('src/media/worker-boot.mjs');
    const entry = relayFileUrl('src/media/worker.ts').href;
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

  /**
   * Starts a station's pipeline and returns its handle to its owner. A live station goes to
   * the worker of its trace's live stations, else to that of its trace's running mix, else
   * to the least loaded worker; a recorded run to the least loaded worker.
   */
  addStation(spec: Omit<StationSpec, 'id'>): StationHandle {
    const live = this.slots.filter((s) => s.alive);
    if (live.length === 0) throw new Error('no media worker is running');
    const mix = spec.recorded === undefined ? this.mixes.get(spec.traceId) : undefined;
    const affine = spec.recorded === undefined ? (this.traceSlot(spec.traceId) ?? (mix && this.mixSlot.get(mix.id))) : undefined;
    const slot = affine ?? live.reduce((a, b) => (b.stations.size < a.stations.size ? b : a));
    const handle = new StationHandle(this.nextStationId++, spec, this);
    slot.stations.set(handle.id, handle);
    this.stationSlot.set(handle.id, slot);
    this.post(slot, { type: 'add', spec: { ...spec, id: handle.id } });
    // A mix whose egress was asked for before its trace had a station starts with this one.
    if (mix !== undefined && mix.egressOn && !this.mixSlot.has(mix.id)) this.startMix(mix, slot);
    return handle;
  }

  /**
   * The mix of a trace's live stations (trace-mix-handle.ts): the same handle for the same
   * trace until it is closed, whether or not the trace has stations now. Throws TypeError
   * for a trace id that is not a non-empty string.
   */
  mixOf(traceId: string): TraceMixHandle {
    if (typeof traceId !== 'string' || traceId === '') throw new TypeError(`traceId must be a non-empty string, got ${JSON.stringify(traceId)}`);
    let handle = this.mixes.get(traceId);
    if (handle === undefined) {
      handle = new TraceMixHandle(this.nextStationId++, traceId, this);
      this.mixes.set(traceId, handle);
      this.mixById.set(handle.id, handle);
    }
    return handle;
  }

  /** MixPort: a tap of a mix started, retuned or stopped (the handle checked the options). */
  setMixEgress(handle: TraceMixHandle, tap: 0 | 1): void {
    let slot = this.mixSlot.get(handle.id);
    if (slot === undefined) {
      // Off, or nowhere to run yet: it starts with the trace's next station (addStation).
      slot = handle.tapOptions(tap) === null ? undefined : this.traceSlot(handle.traceId);
      if (slot === undefined) return;
      this.mixSlot.set(handle.id, slot);
    }
    this.postMix(slot, handle, tap);
    if (!handle.egressOn) this.mixSlot.delete(handle.id);
  }

  /** MixPort. */
  closeMix(handle: TraceMixHandle): void {
    if (this.mixes.get(handle.traceId) === handle) this.mixes.delete(handle.traceId);
    this.mixById.delete(handle.id);
    this.mixSlot.delete(handle.id);
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

  /** The running worker with the most live stations of a trace (ended ones not yet gone count too); undefined if none. */
  private traceSlot(traceId: string): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    let bestCount = 0;
    for (const slot of this.slots) {
      if (!slot.alive) continue;
      let count = 0;
      for (const h of slot.stations.values()) if (h.spec.traceId === traceId && h.spec.recorded === undefined) count++;
      if (count > bestCount) {
        best = slot;
        bestCount = count;
      }
    }
    return best;
  }

  /** Starts every tap of a mix that has egress on, on this worker. */
  private startMix(handle: TraceMixHandle, slot: WorkerSlot): void {
    this.mixSlot.set(handle.id, slot);
    for (const tap of [0, 1] as const) if (handle.tapOptions(tap) !== null) this.postMix(slot, handle, tap);
  }

  private postMix(slot: WorkerSlot, handle: TraceMixHandle, tap: 0 | 1): void {
    this.post(slot, { type: 'mix_egress', mixId: handle.id, traceId: handle.traceId, tap, generation: handle.tapGeneration(tap), options: handle.tapOptions(tap) });
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
        for (const r of readEgressBatch(msg.buffer, msg.bytes)) (slot.stations.get(r.stationId) ?? this.mixById.get(r.stationId))?.deliverEgress(r);
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
    // The mixes that ran there start afresh where their trace still has stations, or with its next one.
    for (const mix of this.mixes.values()) {
      if (this.mixSlot.get(mix.id) !== slot) continue;
      this.mixSlot.delete(mix.id);
      mix.restartEgress(0);
      mix.restartEgress(1);
      const home = this.traceSlot(mix.traceId);
      if (home !== undefined) this.startMix(mix, home);
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
