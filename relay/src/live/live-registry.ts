/**
 * The control plane's view of live traces and stations: who is streaming, into which
 * trace, on which media worker, with which knobs scheduled. It creates the store rows,
 * starts and ends station pipelines, and is the one place knob changes are scheduled.
 */
import type { IngestCodec } from '../../../protocol/ingest.ts';
import { defaultKnobs, mergeKnobs, type KnobPatch, type KnobValues } from '../../../protocol/knobs.ts';
import { newStationKey, newStreamId, newTraceId, type StationKey, type StreamId, type TraceId } from '../ids.ts';
import type { MediaPool } from '../media/pool.ts';
import type { Store } from '../store/store.ts';
import type { RelayConfig } from '../config.ts';

/** Whoever feeds a station hears about it through this (an ingest connection). */
export interface StationOwner {
  onStatus(station: LiveStation, state: 'backpressure' | 'ok', droppedFrames: number, queueDepth: number): void;
  onDecodeError(station: LiveStation, code: string, message: string): void;
  onStationLost(station: LiveStation, reason: string): void;
}

export interface LiveStation {
  traceId: TraceId;
  stationKey: StationKey;
  streamId: StreamId;
  label: string | null;
  codec: IngestCodec;
  sampleRate: number;
  owner: StationOwner;
  /** Pool id once the first packet has arrived (the station then exists in the store). */
  poolId: number | null;
  ended: boolean;
  /** The full knob set after every accepted change, and its version. */
  knobs: KnobValues;
  configVersion: number;
  lastKnobEventId: number | null;
  lastScheduledBucketTs: number | null;
  /** Serializes knob scheduling per station. */
  scheduling: Promise<unknown>;
}

interface LiveTrace {
  traceId: TraceId;
  /** In the store once its first station has received audio. */
  stored: boolean;
  stations: Map<string, LiveStation>;
}

export type ReserveResult = { ok: true; station: LiveStation } | { ok: false; field: string; message: string };

export interface ScheduleRequest {
  traceId: string;
  stationKey: string;
  applyAtBucketTs: number;
  /** Validated and clamped (protocol/knobs.ts). */
  knobs: KnobPatch;
  /** As the caller sent them, before clamping (kept in the event log); defaults to `knobs`. */
  requestedKnobs?: Record<string, number | boolean>;
  source: string | null;
  reason: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
}

export type ScheduleResult =
  | { ok: true; eventId: number; configVersion: number; effectiveKnobs: KnobPatch; knobs: KnobValues }
  | { ok: false; code: 'not_found' | 'station_ended' | 'bucket_started' | 'out_of_order'; message: string };

export class LiveRegistry {
  private readonly traces = new Map<string, LiveTrace>();
  private readonly byPoolId = new Map<number, LiveStation>();
  private readonly byStreamId = new Map<string, LiveStation>();
  private nextKnobEventId: number;

  constructor(
    private readonly config: RelayConfig,
    private readonly store: Store,
    private readonly pool: MediaPool,
  ) {
    this.nextKnobEventId = store.maxKnobEventId() + 1;
  }

  /** Reserves a station for a `start` (or a new seed 001 source): nothing is stored until audio arrives. */
  reserve(opts: { traceId?: string; stationKey?: string; label?: string | null; codec: IngestCodec; sampleRate: number; owner: StationOwner }): ReserveResult {
    let trace: LiveTrace | undefined;
    if (opts.traceId !== undefined) {
      trace = this.traces.get(opts.traceId);
      if (trace === undefined) {
        if (this.store.getTrace(opts.traceId) === undefined) {
          return { ok: false, field: 'trace_id', message: `unknown trace "${opts.traceId}"; omit trace_id to start a new trace` };
        }
        trace = { traceId: opts.traceId as TraceId, stored: true, stations: new Map() };
        this.traces.set(trace.traceId, trace);
      }
    } else {
      trace = { traceId: newTraceId(), stored: false, stations: new Map() };
      this.traces.set(trace.traceId, trace);
    }
    let key = opts.stationKey;
    if (key !== undefined) {
      if (trace.stations.has(key) || (trace.stored && this.store.getStation(trace.traceId, key) !== undefined)) {
        this.dropIfEmpty(trace);
        return { ok: false, field: 'station_key', message: `station_key "${key}" is already used in trace ${trace.traceId}` };
      }
    } else {
      do key = newStationKey();
      while (trace.stations.has(key));
    }
    const station: LiveStation = {
      traceId: trace.traceId,
      stationKey: key as StationKey,
      streamId: newStreamId(),
      label: opts.label ?? null,
      codec: opts.codec,
      sampleRate: opts.sampleRate,
      owner: opts.owner,
      poolId: null,
      ended: false,
      knobs: defaultKnobs(),
      configVersion: 0,
      lastKnobEventId: null,
      lastScheduledBucketTs: null,
      scheduling: Promise.resolve(),
    };
    trace.stations.set(key, station);
    this.byStreamId.set(station.streamId, station);
    return { ok: true, station };
  }

  /** A free station key for a seed 001 source inside a trace. */
  keyForSource(traceId: string, source: string): string {
    const trace = this.traces.get(traceId);
    const taken = (k: string): boolean => (trace?.stations.has(k) ?? false) || this.store.getStation(traceId, k) !== undefined;
    if (!taken(source)) return source;
    for (let n = 2; ; n++) if (!taken(`${source}-${n}`)) return `${source}-${n}`;
  }

  /** First packet of a station: store rows, and a pipeline on a media worker. */
  materialize(station: LiveStation, nowMs: number): number {
    if (station.poolId !== null) return station.poolId;
    const trace = this.traces.get(station.traceId) as LiveTrace;
    if (!trace.stored) {
      this.store.insertTrace({ trace_id: trace.traceId, kind: 'live', started_at: nowMs, ended_at: null, call_id: null });
      trace.stored = true;
    } else {
      this.store.reopenTrace(trace.traceId);
    }
    this.store.insertStation({
      trace_id: station.traceId,
      station_key: station.stationKey,
      label: station.label,
      codec: station.codec,
      sample_rate: station.sampleRate,
      stream_id: station.streamId,
      started_at: nowMs,
      ended_at: null,
      end_reason: null,
    });
    const id = this.pool.addStation({
      traceId: station.traceId,
      stationKey: station.stationKey,
      codec: station.codec,
      sampleRate: station.sampleRate,
      queueFrames: this.config.ingressQueueFrames,
      jitterAllowanceMs: this.config.jitterAllowanceMs,
      bucketMs: this.config.bucketMs,
      graceMs: this.config.bucketGraceMs,
      knobs: station.knobs,
      configVersion: station.configVersion,
      lastKnobEventId: station.lastKnobEventId,
    });
    station.poolId = id;
    this.byPoolId.set(id, station);
    return id;
  }

  /** Stop or disconnect. The pipeline finalizes its last bucket when it completes. */
  end(station: LiveStation, reason: string, nowMs: number): void {
    if (station.ended) return;
    station.ended = true;
    const trace = this.traces.get(station.traceId);
    if (station.poolId === null) {
      // Reserved but never streamed: nothing was stored.
      trace?.stations.delete(station.stationKey);
      this.byStreamId.delete(station.streamId);
      if (trace) this.dropIfEmpty(trace);
      return;
    }
    this.pool.end(station.poolId);
    this.store.endStation(station.traceId, station.stationKey, nowMs, reason);
    if (trace && [...trace.stations.values()].every((s) => s.ended || s.poolId === null)) this.store.endTrace(trace.traceId, nowMs);
  }

  /** The pipeline is gone (last bucket finalized, or its worker failed). */
  onPipelineClosed(poolId: number): void {
    const station = this.byPoolId.get(poolId);
    if (station === undefined) return;
    this.byPoolId.delete(poolId);
    this.byStreamId.delete(station.streamId);
    const trace = this.traces.get(station.traceId);
    trace?.stations.delete(station.stationKey);
    if (trace) this.dropIfEmpty(trace);
  }

  byPool(poolId: number): LiveStation | undefined {
    return this.byPoolId.get(poolId);
  }

  byStream(streamId: string): LiveStation | undefined {
    return this.byStreamId.get(streamId);
  }

  find(traceId: string, stationKey: string): LiveStation | undefined {
    return this.traces.get(traceId)?.stations.get(stationKey);
  }

  /** Traces with at least one station streaming now. */
  activeTraces(): { traceId: TraceId; stations: LiveStation[] }[] {
    const out: { traceId: TraceId; stations: LiveStation[] }[] = [];
    for (const t of this.traces.values()) {
      const live = [...t.stations.values()].filter((s) => !s.ended && s.poolId !== null);
      if (live.length > 0) out.push({ traceId: t.traceId, stations: live });
    }
    return out;
  }

  liveStationCount(): number {
    let n = 0;
    for (const t of this.traces.values()) for (const s of t.stations.values()) if (!s.ended && s.poolId !== null) n++;
    return n;
  }

  /**
   * Schedules a knob change for the first sample of `applyAtBucketTs` (the internal call
   * behind the optimizer API). The media worker confirms the bucket has not started yet,
   * so the change is exact or refused, never late.
   */
  scheduleKnobs(req: ScheduleRequest): Promise<ScheduleResult> {
    const station = this.find(req.traceId, req.stationKey);
    if (station === undefined || station.poolId === null) {
      return Promise.resolve({ ok: false, code: 'not_found', message: `no live station "${req.stationKey}" in trace "${req.traceId}"` });
    }
    const run = async (): Promise<ScheduleResult> => {
      if (station.ended || station.poolId === null) return { ok: false, code: 'station_ended', message: `station "${req.stationKey}" has ended` };
      if (station.lastScheduledBucketTs !== null && req.applyAtBucketTs < station.lastScheduledBucketTs) {
        return {
          ok: false,
          code: 'out_of_order',
          message: `a change is already scheduled for ${new Date(station.lastScheduledBucketTs).toISOString()}; schedule at or after it`,
        };
      }
      const knobs = mergeKnobs(station.knobs, req.knobs);
      const configVersion = station.configVersion + 1;
      const eventId = this.nextKnobEventId;
      const refusal = await this.pool.schedule(station.poolId, req.applyAtBucketTs, knobs, configVersion, eventId);
      if (refusal === 'bucket_started') {
        return { ok: false, code: 'bucket_started', message: `bucket ${new Date(req.applyAtBucketTs).toISOString()} has already started for this station` };
      }
      if (refusal !== null) return { ok: false, code: 'station_ended', message: `station "${req.stationKey}" has ended` };
      this.nextKnobEventId++;
      this.store.insertKnobEvent({
        id: eventId,
        trace_id: station.traceId,
        station_key: station.stationKey,
        created_at: Date.now(),
        apply_at_bucket_ts: req.applyAtBucketTs,
        knobs_requested: req.requestedKnobs ?? (req.knobs as Record<string, number | boolean>),
        knobs_effective: req.knobs as Record<string, number | boolean>,
        source: req.source,
        reason: req.reason,
        config_version: configVersion,
        idempotency_key: req.idempotencyKey,
        request_hash: req.requestHash,
      });
      station.knobs = knobs;
      station.configVersion = configVersion;
      station.lastKnobEventId = eventId;
      station.lastScheduledBucketTs = req.applyAtBucketTs;
      return { ok: true, eventId, configVersion, effectiveKnobs: req.knobs, knobs };
    };
    const result = station.scheduling.then(run, run);
    station.scheduling = result;
    return result;
  }

  private dropIfEmpty(trace: LiveTrace): void {
    if (trace.stations.size === 0) this.traces.delete(trace.traceId);
  }
}
