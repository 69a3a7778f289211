/**
 * The control plane's view of live traces and stations: who is streaming, into which
 * trace, on which media worker, with which knobs scheduled. It creates the store rows,
 * starts and ends station pipelines, and is the one place knob changes are scheduled.
 *
 * It also answers for stream ids (the listen capability, seed 002 §14): a station's
 * `streamId` is valid from its `start` until it ends, plus the listen grace
 * (ended-streams.ts). Listeners hear of stations through its typed events: `streaming`
 * (the first audio arrived, the pipeline exists) and `ended`.
 */
import type { StationTransport } from '../../../protocol/api.ts';
import type { IngestCodec } from '../../../protocol/ingest.ts';
import { defaultKnobs, mergeKnobs, type KnobPatch, type KnobValues } from '../../../protocol/knobs.ts';
import { newStationKey, newStreamId, newTraceId, type StationKey, type StreamId, type TraceId } from '../ids.ts';
import type { MediaPool } from '../media/pool.ts';
import type { StationHandle } from '../media/station-handle.ts';
import type { TraceMixHandle } from '../media/trace-mix-handle.ts';
import type { Store } from '../store/store.ts';
import type { RelayConfig } from '../config.ts';
import { MAX_TARGET_MS } from '../media/jitter/delay-estimator.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import { EndedStreams, type EndedStream } from './ended-streams.ts';

/** Who sends a station's audio: its address (per-address caps) and its key (fair retention). */
export interface StationClient {
  address: string;
  /** "token:<id>" or "address:<ip>". */
  key: string;
}

export interface LiveStation {
  traceId: TraceId;
  stationKey: StationKey;
  streamId: StreamId;
  /** The stream id of its trace's mix (every station of the call), the same for all of them. */
  mixStreamId: StreamId;
  label: string | null;
  codec: IngestCodec;
  sampleRate: number;
  /** How its audio arrives. */
  transport: StationTransport;
  client: StationClient;
  /** Wall time of the latest audio (or of the start, before any): the idle timeout runs from it. */
  lastAudioMs: number;
  /**
   * The running pipeline, once the first packet has arrived (the station then exists in the
   * store); its owner (the transport feeding it) listens to its events.
   */
  handle: StationHandle | null;
  ended: boolean;
  /** The full knob set in force before the pending changes (defaults until one starts). */
  knobs: KnobValues;
  /** The version of the latest accepted change (0 before any). */
  configVersion: number;
  lastKnobEventId: number | null;
  /** Accepted changes whose bucket has not started yet, by bucket. */
  pending: PendingChange[];
  /** Serializes knob scheduling per station. */
  scheduling: Promise<unknown>;
}

export interface PendingChange {
  applyAtBucketTs: number;
  /** The full knob set from that bucket on. */
  knobs: KnobValues;
  configVersion: number;
  eventId: number;
}

/** A trace's mix as listening sees it: every station of the call in one stream. */
export interface LiveMix {
  readonly traceId: TraceId;
  /** A capability like a station's stream id; kept with the trace, so a call rejoined later keeps its link. */
  readonly mixStreamId: StreamId;
  /** The sender's id for the call (seed 000 §5.1 `call_id`), from the `start` that made the trace. */
  callId: string | null;
}

interface LiveTrace extends LiveMix {
  /** In the store once its first station has received audio. */
  stored: boolean;
  stations: Map<string, LiveStation>;
}

/** Live stations at most: on the relay, per client address, per trace (config). */
export interface StationCaps {
  maxLiveStations: number;
  maxStationsPerAddress: number;
  maxStationsPerTrace: number;
}

export type ReserveResult =
  | { ok: true; station: LiveStation }
  | { ok: false; field: string; message: string }
  /** A cap is reached: the client may try again once stations end (close 1013). */
  | { ok: false; limit: 'stations' | 'stations_per_address' | 'stations_per_trace'; code: 'relay_full' | 'too_many_stations' | 'trace_full'; message: string };

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
  | { ok: false; code: 'not_found' | 'station_ended' | 'bucket_started'; message: string };

export interface LiveRegistryEvents {
  /** A station's first audio arrived: its pipeline (`station.handle`) exists now. */
  streaming: [station: LiveStation];
  /** A station ended (stop, disconnect, idle, relay stop, worker failure): `reason` as stored. */
  ended: [station: LiveStation, reason: string];
  /** A trace left the registry (its last station's pipeline closed): its mix stream ends. */
  mixEnded: [mix: LiveMix];
}

/** What a stream id can name: one station, or a trace's mix. */
export type StreamSubject = { kind: 'station'; station: LiveStation } | { kind: 'mix'; mix: LiveMix };

/** What a stream id names now (see `lookupStream`). */
export type StreamLookup = { state: 'live'; subject: StreamSubject } | ({ state: 'ended' } & EndedStream<StreamSubject>);

export class LiveRegistry extends TypedEmitter<LiveRegistryEvents> {
  private readonly traces = new Map<string, LiveTrace>();
  /** By pipeline number: the meter and spectrum records of the media workers carry numbers. */
  private readonly stationsByHandleId = new Map<number, LiveStation>();
  private readonly byStreamId = new Map<string, LiveStation>();
  private readonly byMixStreamId = new Map<string, LiveTrace>();
  /**
   * Stations held, from `reserve` until they leave (never streamed and ended, or pipeline
   * closed): what the caps count, so a station finalizing its last bucket still counts.
   */
  private held = 0;
  private readonly heldByAddress = new Map<string, number>();
  private readonly heldByTrace = new Map<string, number>();
  private nextKnobEventId: number;
  /** Stream ids of stations and mixes that ended within the listen grace. */
  private readonly endedStreams: EndedStreams<StreamSubject>;

  constructor(
    private readonly config: RelayConfig & StationCaps,
    private readonly store: Store,
    private readonly pool: MediaPool,
  ) {
    super();
    this.nextKnobEventId = store.maxKnobEventId() + 1;
    this.endedStreams = new EndedStreams(config.listenGraceMs);
  }

  /**
   * Reserves a station for a `start` (or a new seed 001 source): nothing is stored until
   * audio arrives. Refused when a cap is reached.
   */
  reserve(opts: {
    traceId?: string;
    stationKey?: string;
    label?: string | null;
    /** The sender's call id; names the trace when it has none yet. */
    callId?: string | null;
    codec: IngestCodec;
    sampleRate: number;
    /** Default: websocket (the one live transport so far). */
    transport?: StationTransport;
    client: StationClient;
  }): ReserveResult {
    const capped = this.checkCaps(opts.client.address, opts.traceId);
    if (capped !== null) return capped;
    let trace: LiveTrace | undefined;
    if (opts.traceId !== undefined) {
      trace = this.traces.get(opts.traceId);
      if (trace === undefined) {
        const stored = this.store.getTrace(opts.traceId);
        if (stored === undefined) {
          return { ok: false, field: 'trace_id', message: `unknown trace "${opts.traceId}"; omit trace_id to start a new trace` };
        }
        if (stored.kind === 'recorded') {
          return { ok: false, field: 'trace_id', message: `trace "${opts.traceId}" is a recorded trace (an upload of an offline capture); live stations cannot join it` };
        }
        let mixStreamId = stored.mix_stream_id as StreamId | null;
        if (mixStreamId === null) {
          // A trace stored before mixes existed gets its mix id now.
          mixStreamId = newStreamId();
          this.store.setTraceMixStreamId(opts.traceId, mixStreamId);
        }
        trace = { traceId: opts.traceId as TraceId, mixStreamId, callId: stored.call_id, stored: true, stations: new Map() };
        this.addTrace(trace);
      }
    } else {
      trace = { traceId: newTraceId(), mixStreamId: newStreamId(), callId: opts.callId ?? null, stored: false, stations: new Map() };
      this.addTrace(trace);
    }
    // A station joining a trace that has no call id yet gives it its own.
    if (trace.callId === null && opts.callId != null) {
      trace.callId = opts.callId;
      if (trace.stored) this.store.setTraceCallId(trace.traceId, opts.callId);
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
      mixStreamId: trace.mixStreamId,
      label: opts.label ?? null,
      codec: opts.codec,
      sampleRate: opts.sampleRate,
      transport: opts.transport ?? 'websocket',
      client: opts.client,
      lastAudioMs: Date.now(),
      handle: null,
      ended: false,
      knobs: defaultKnobs(),
      configVersion: 0,
      lastKnobEventId: null,
      pending: [],
      scheduling: Promise.resolve(),
    };
    trace.stations.set(key, station);
    this.byStreamId.set(station.streamId, station);
    this.hold(station, +1);
    return { ok: true, station };
  }

  /** True while the station streams: it has received audio and has not ended. */
  static isStreaming(station: LiveStation | undefined): station is LiveStation {
    return station !== undefined && !station.ended && station.handle !== null;
  }

  /** Stations held now (streaming, waiting for audio, or finalizing): what the caps count. */
  get heldCount(): number {
    return this.held;
  }

  private checkCaps(address: string, traceId: string | undefined): ReserveResult | null {
    const c = this.config;
    if (this.held >= c.maxLiveStations) {
      return { ok: false, limit: 'stations', code: 'relay_full', message: `the relay holds ${c.maxLiveStations} live stations, its limit; try again when some have ended` };
    }
    const mine = this.heldByAddress.get(address) ?? 0;
    if (mine >= c.maxStationsPerAddress) {
      return {
        ok: false,
        limit: 'stations_per_address',
        code: 'too_many_stations',
        message: `${address} has ${mine} live stations, the limit per client address; stop one or try again later`,
      };
    }
    if (traceId !== undefined && (this.heldByTrace.get(traceId) ?? 0) >= c.maxStationsPerTrace) {
      return { ok: false, limit: 'stations_per_trace', code: 'trace_full', message: `trace "${traceId}" has ${c.maxStationsPerTrace} live stations, its limit` };
    }
    return null;
  }

  private hold(station: LiveStation, delta: 1 | -1): void {
    this.held += delta;
    const bump = (m: Map<string, number>, k: string): void => {
      const n = (m.get(k) ?? 0) + delta;
      if (n <= 0) m.delete(k);
      else m.set(k, n);
    };
    bump(this.heldByAddress, station.client.address);
    bump(this.heldByTrace, station.traceId);
  }

  /** A free station key for a seed 001 source inside a trace. */
  keyForSource(traceId: string, source: string): string {
    const trace = this.traces.get(traceId);
    const taken = (k: string): boolean => (trace?.stations.has(k) ?? false) || this.store.getStation(traceId, k) !== undefined;
    if (!taken(source)) return source;
    for (let n = 2; ; n++) if (!taken(`${source}-${n}`)) return `${source}-${n}`;
  }

  /**
   * First packet of a station: store rows, and a pipeline on a media worker. Returns the
   * pipeline's handle, for the owner to push packets and hear events on.
   */
  materialize(station: LiveStation, nowMs: number): StationHandle {
    if (station.handle !== null) return station.handle;
    const trace = this.traces.get(station.traceId) as LiveTrace;
    if (!trace.stored) {
      this.store.insertTrace({ trace_id: trace.traceId, kind: 'live', started_at: nowMs, ended_at: null, call_id: trace.callId, mix_stream_id: trace.mixStreamId });
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
      client: station.client.key,
    });
    const handle = this.pool.addStation({
      traceId: station.traceId,
      stationKey: station.stationKey,
      codec: station.codec,
      sampleRate: station.sampleRate,
      queueFrames: this.config.ingressQueueFrames,
      jitterAllowanceMs: jitterAllowance(station.transport, this.config.jitterAllowanceMs),
      streamed: station.transport === 'websocket',
      bucketMs: this.config.bucketMs,
      graceMs: this.config.bucketGraceMs,
      knobs: station.knobs,
      configVersion: station.configVersion,
      lastKnobEventId: station.lastKnobEventId,
      client: station.client.key,
    });
    station.handle = handle;
    this.stationsByHandleId.set(handle.id, station);
    handle.on('closed', () => this.onPipelineClosed(station));
    handle.on('lost', () => {
      this.end(station, 'media_worker_failed', Date.now());
      this.onPipelineClosed(station);
    });
    this.emit('streaming', station);
    return handle;
  }

  /** Stop or disconnect. The pipeline finalizes its last bucket when it completes. */
  end(station: LiveStation, reason: string, nowMs: number): void {
    if (station.ended) return;
    station.ended = true;
    this.endedStreams.add(station.streamId, { kind: 'station', station }, reason, nowMs);
    this.endStation(station, reason, nowMs);
    this.emit('ended', station, reason);
  }

  private endStation(station: LiveStation, reason: string, nowMs: number): void {
    const trace = this.traces.get(station.traceId);
    if (station.handle === null) {
      // Reserved but never streamed: nothing was stored.
      trace?.stations.delete(station.stationKey);
      this.byStreamId.delete(station.streamId);
      this.hold(station, -1);
      if (trace) this.dropIfEmpty(trace);
      return;
    }
    station.handle.end();
    this.store.endStation(station.traceId, station.stationKey, nowMs, reason);
    if (trace && [...trace.stations.values()].every((s) => s.ended || s.handle === null)) this.store.endTrace(trace.traceId, nowMs);
  }

  /** The pipeline is gone (last bucket finalized, or its worker failed): the station leaves. */
  private onPipelineClosed(station: LiveStation): void {
    if (station.handle === null || !this.stationsByHandleId.has(station.handle.id)) return;
    this.stationsByHandleId.delete(station.handle.id);
    this.byStreamId.delete(station.streamId);
    this.hold(station, -1);
    const trace = this.traces.get(station.traceId);
    trace?.stations.delete(station.stationKey);
    if (trace) this.dropIfEmpty(trace);
  }

  /** The station whose pipeline has this number (meter and spectrum records carry numbers). */
  byHandleId(id: number): LiveStation | undefined {
    return this.stationsByHandleId.get(id);
  }

  byStream(streamId: string): LiveStation | undefined {
    return this.byStreamId.get(streamId);
  }

  /**
   * What a stream id names: a station not yet ended (streaming, or started and waiting for
   * its first audio), or one that ended within the listen grace; otherwise undefined, the
   * same for an id that expired as for one never issued.
   */
  lookupStream(streamId: string, nowMs: number): StreamLookup | undefined {
    const live = this.byStreamId.get(streamId);
    if (live !== undefined && !live.ended) return { state: 'live', subject: { kind: 'station', station: live } };
    const mix = this.byMixStreamId.get(streamId);
    if (mix !== undefined) return { state: 'live', subject: { kind: 'mix', mix } };
    const ended = this.endedStreams.get(streamId, nowMs);
    return ended === undefined ? undefined : { state: 'ended', ...ended };
  }

  find(traceId: string, stationKey: string): LiveStation | undefined {
    return this.traces.get(traceId)?.stations.get(stationKey);
  }

  /** Traces with at least one station streaming now. */
  activeTraces(): { traceId: TraceId; stations: LiveStation[] }[] {
    const out: { traceId: TraceId; stations: LiveStation[] }[] = [];
    for (const t of this.traces.values()) {
      const live = [...t.stations.values()].filter((s) => LiveRegistry.isStreaming(s));
      if (live.length > 0) out.push({ traceId: t.traceId, stations: live });
    }
    return out;
  }

  liveStationCount(): number {
    let n = 0;
    for (const t of this.traces.values()) for (const s of t.stations.values()) if (LiveRegistry.isStreaming(s)) n++;
    return n;
  }

  /**
   * Schedules a knob change for the first sample of `applyAtBucketTs` (the internal call
   * behind the optimizer API). The media worker confirms the bucket has not started yet,
   * so the change is exact or refused, never late.
   *
   * The latest request wins: a change for an earlier bucket than pending ones replaces them
   * (they are marked superseded in the event log), and builds on the knobs in force just
   * before its bucket. So a change scheduled far ahead never blocks a nearer one.
   */
  scheduleKnobs(req: ScheduleRequest): Promise<ScheduleResult> {
    const station = this.find(req.traceId, req.stationKey);
    if (station === undefined || station.handle === null) {
      return Promise.resolve({ ok: false, code: 'not_found', message: `no live station "${req.stationKey}" in trace "${req.traceId}"` });
    }
    const run = async (): Promise<ScheduleResult> => {
      const handle = station.handle;
      if (station.ended || handle === null) return { ok: false, code: 'station_ended', message: `station "${req.stationKey}" has ended` };
      foldStarted(station, Math.floor(Date.now() / this.config.bucketMs) * this.config.bucketMs);
      const kept = station.pending.filter((p) => p.applyAtBucketTs < req.applyAtBucketTs);
      const superseded = station.pending.filter((p) => p.applyAtBucketTs >= req.applyAtBucketTs);
      const base = kept.length > 0 ? kept[kept.length - 1].knobs : station.knobs;
      const knobs = mergeKnobs(base, req.knobs);
      const configVersion = station.configVersion + 1;
      const eventId = this.nextKnobEventId;
      const refusal = await handle.schedule(req.applyAtBucketTs, knobs, configVersion, eventId);
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
      for (const p of superseded) this.store.supersedeKnobEvent(p.eventId, eventId);
      station.configVersion = configVersion;
      station.lastKnobEventId = eventId;
      station.pending = [...kept, { applyAtBucketTs: req.applyAtBucketTs, knobs, configVersion, eventId }];
      return { ok: true, eventId, configVersion, effectiveKnobs: req.knobs, knobs };
    };
    const result = station.scheduling.then(run, run);
    station.scheduling = result;
    return result;
  }

  /**
   * The mix of a trace, as a source of listener egress (media/trace-mix-handle.ts): the
   * same handle while it is open; its owner closes it when nobody listens any more.
   */
  mixSource(mix: LiveMix): TraceMixHandle {
    return this.pool.mixOf(mix.traceId);
  }

  private addTrace(trace: LiveTrace): void {
    this.traces.set(trace.traceId, trace);
    this.byMixStreamId.set(trace.mixStreamId, trace);
  }

  private dropIfEmpty(trace: LiveTrace): void {
    if (trace.stations.size > 0) return;
    this.traces.delete(trace.traceId);
    this.byMixStreamId.delete(trace.mixStreamId);
    // A mix id stays good for the listen grace, like a station's: rejoining the trace revives it.
    this.endedStreams.add(trace.mixStreamId, { kind: 'mix', mix: trace }, 'trace_ended', Date.now());
    this.emit('mixEnded', trace);
  }
}

/** Changes whose bucket has started are in force: they become the station's base knobs. */
function foldStarted(station: LiveStation, inProgressBucketTs: number): void {
  while (station.pending.length > 0 && station.pending[0].applyAtBucketTs <= inProgressBucketTs) {
    station.knobs = (station.pending.shift() as PendingChange).knobs;
  }
}

/**
 * The largest delay a station's jitter buffer may aim at, ms. RTP and WebRTC cross real
 * networks as UDP, with their jitter: their buffer may follow it up to seed 004 §5's 200 ms.
 * WebSocket ingest keeps the relay's allowance (60 ms by default), the part of the
 * listeners' latency budget the relay spends on jitter over TCP. An allowance beyond 200 ms
 * (tests that feed live stations faster than real time) applies to every transport.
 */
export function jitterAllowance(transport: StationTransport, configuredMs: number): number {
  return transport === 'rtp' || transport === 'webrtc' ? Math.max(configuredMs, MAX_TARGET_MS) : configuredMs;
}

