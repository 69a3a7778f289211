/**
 * The telemetry hub (seed 003, WS-1 to WS-3): one source of truth for live meters, two
 * deliveries. The media workers publish each station's meters by overwriting a latest
 * value; at the publication rate the hub turns the latest values into one measurement
 * (`seq` increasing) that `GET /measurements` returns and `/ws/telemetry` pushes, the same
 * JSON for the same `seq`. Spectrum messages go only to clients that ask for a station.
 *
 * The messages are protocol/telemetry.ts's. They are built as text, once per trace filter
 * and tick, by concatenation around the measurement's JSON (20 a second to every client);
 * the texts carry their message type (JsonText), and the API contract test checks what the
 * relay sends against the schemas.
 */
import type { WebSocket } from 'ws';
import type { JsonText } from '../../../protocol/schema.ts';
import type { Measurement, MeasurementMessage, SpectrumMessage, QosMeters, StationMeters, TapMeters } from '../../../protocol/telemetry.ts';
import { BandSpectrum } from '../../../worklets/dsp/spectrum.ts';
import type { LiveRegistry } from '../live/live-registry.ts';
import { METER_FIELDS, METER_OFFSET } from '../media/messages.ts';
import { QOS_LEVELS } from '../../../protocol/qos.ts';
import { outgoing, TelemetryClient, type ClientCounters, type OutgoingMessage, type SlowClientPolicy } from './telemetry-client.ts';

export interface TelemetryOptions {
  /** Measurements per second (seed 003: 10-20). */
  publishHz: number;
  policy: SlowClientPolicy;
}

interface Latest {
  values: Float64Array;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;
/** The media workers' NaN (no value yet) is JSON's null. */
const orNull = (v: number): number | null => (Number.isNaN(v) ? null : round2(v));

const centresByRate = new Map<number, Float32Array>();
/** Band centres depend only on the rate: computed once per rate. */
function bandCentres(sampleRate: number): Float32Array {
  let c = centresByRate.get(sampleRate);
  if (c === undefined) centresByRate.set(sampleRate, (c = new BandSpectrum(sampleRate).bandsHz));
  return c;
}
const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;

/** `{"type":"measurement",...}` around a measurement's JSON, without parsing or copying it again. */
function measurementMessage(ts: string, seq: number, data: JsonText<Measurement>): JsonText<MeasurementMessage> {
  return `{"type":"measurement","ts":"${ts}","seq":${seq},"data":${data}}` as JsonText<MeasurementMessage>;
}

function json<T>(value: T): JsonText<T> {
  return JSON.stringify(value) as JsonText<T>;
}

export class TelemetryHub {
  private readonly latest = new Map<number, Latest>();
  private readonly clients = new Set<TelemetryClient>();
  readonly counters: ClientCounters = { sent: 0, dropped: 0, slowClosed: 0 };
  private seq = 0;
  private tsIso = new Date().toISOString();
  /** JSON of the current measurement, per trace filter ('' = all), built on first use. */
  private readonly cache = new Map<string, JsonText<Measurement>>();
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  /** When the current measurement was made (performance.now()). */
  private lastTickMs = 0;
  private spectrumSeq = 0;
  private spectrumWatchers = 0;

  constructor(
    private readonly registry: LiveRegistry,
    private readonly options: TelemetryOptions,
  ) {
    if (!(options.publishHz >= 1 && options.publishHz <= 50)) throw new TypeError(`telemetry publishHz must be 1-50, got ${options.publishHz}`);
  }

  /**
   * Starts publishing. The timer runs only while a client listens: with none, the relay
   * does not wake up 20 times a second for nobody, and `GET /measurements` moves `seq` on
   * by the intervals that passed when it is asked (catchUp), so the rate seen is the same.
   */
  start(): void {
    this.started = true;
    this.lastTickMs = performance.now();
    if (this.clients.size > 0) this.runTimer();
  }

  private runTimer(): void {
    if (this.timer !== null || !this.started) return;
    // Each tick is scheduled from the start time, not from the last tick, so a busy event
    // loop delays a measurement but does not slow the rate down.
    const intervalMs = 1000 / this.options.publishHz;
    let next = performance.now();
    const run = (): void => {
      if (this.clients.size === 0) {
        this.timer = null;
        return;
      }
      this.tick();
      next += intervalMs;
      const now = performance.now();
      if (next < now - intervalMs) next = now; // fell behind by more than a tick: skip, don't burst
      this.timer = setTimeout(run, Math.max(0, next - now));
      this.timer.unref();
    };
    run();
  }

  /** With no timer running, moves `seq` on by the publication intervals since the last one. */
  private catchUp(): void {
    if (this.timer !== null) return;
    const intervals = Math.floor((performance.now() - this.lastTickMs) / (1000 / this.options.publishHz));
    if (intervals < 1) return;
    this.seq += intervals - 1;
    this.tick();
  }

  /** From a media worker: overwrite each station's latest meters. */
  meters(values: Float64Array): void {
    for (let o = 0; o + METER_FIELDS <= values.length; o += METER_FIELDS) {
      const id = values[o + METER_OFFSET.id];
      let l = this.latest.get(id);
      if (l === undefined) this.latest.set(id, (l = { values: new Float64Array(METER_FIELDS) }));
      l.values.set(values.subarray(o, o + METER_FIELDS));
    }
  }

  /** A station's pipeline closed: forget its meters. */
  forget(poolId: number): void {
    this.latest.delete(poolId);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** The current measurement as JSON (what GET /measurements returns). */
  measurementJson(traceId: string | null): JsonText<Measurement> {
    this.catchUp();
    const key = traceId ?? '';
    let text = this.cache.get(key);
    if (text === undefined) {
      text = json(this.build(traceId));
      this.cache.set(key, text);
    }
    return text;
  }

  addClient(socket: WebSocket, traceId: string | null, spectrumStation: string | null): TelemetryClient {
    const client = new TelemetryClient(socket, traceId, spectrumStation, this.options.policy, this.counters);
    this.clients.add(client);
    if (spectrumStation !== null) this.spectrumWatchers++;
    socket.once('close', () => {
      this.clients.delete(client);
      if (spectrumStation !== null) this.spectrumWatchers--;
    });
    // A new subscriber sees the latest measurement at once, not up to one interval later.
    this.catchUp();
    client.offer(outgoing(this.message(traceId)), Date.now());
    this.runTimer();
    return client;
  }

  /** A worker's spectra: records of [pool id, tap, bands, ...dB]; sent to the clients that asked. */
  spectra(values: Float32Array): void {
    if (this.spectrumWatchers === 0) return;
    for (let o = 0; o + 3 <= values.length; ) {
      const id = values[o];
      const tap = values[o + 1] === 0 ? 'PRE' : 'POST';
      const n = values[o + 2];
      const station = this.registry.byHandleId(id);
      if (station !== undefined) {
        const bands = bandCentres(station.sampleRate);
        if (bands.length === n) this.spectrum(station.traceId, station.stationKey, tap, bands, values.subarray(o + 3, o + 3 + n));
      }
      o += 3 + n;
    }
  }

  /**
   * Spectrum of one station's tap, for the clients that asked for that station: by its key
   * alone, or as `<trace_id>:<station_key>` (the form that names one trace's station when
   * two traces use the same key), and within the trace they watch, if they named one.
   */
  spectrum(traceId: string, stationKey: string, tap: 'PRE' | 'POST', bandsHz: ArrayLike<number>, db: ArrayLike<number>): void {
    let msg: OutgoingMessage | null = null;
    const now = Date.now();
    const qualified = `${traceId}:${stationKey}`;
    for (const c of this.clients) {
      if (c.spectrumStation !== stationKey && c.spectrumStation !== qualified) continue;
      if (c.traceId !== null && c.traceId !== traceId) continue;
      msg ??= outgoing(json<SpectrumMessage>({
        type: 'spectrum',
        ts: new Date(now).toISOString(),
        seq: ++this.spectrumSeq,
        trace_id: traceId,
        station_key: stationKey,
        tap,
        bands_hz: Array.from(bandsHz, round2),
        db: Array.from(db, round2),
      }));
      c.offer(msg, now);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const c of this.clients) c.socket.close(1001, 'relay is shutting down');
    this.clients.clear();
  }

  private tick(): void {
    this.seq++;
    this.lastTickMs = performance.now();
    this.tsIso = new Date().toISOString();
    this.cache.clear();
    const now = Date.now();
    const byFilter = new Map<string, OutgoingMessage>();
    for (const c of this.clients) {
      const key = c.traceId ?? '';
      let msg = byFilter.get(key);
      if (msg === undefined) byFilter.set(key, (msg = outgoing(this.message(c.traceId))));
      c.offer(msg, now);
    }
  }

  private message(traceId: string | null): JsonText<MeasurementMessage> {
    return measurementMessage(this.tsIso, this.seq, this.measurementJson(traceId));
  }

  private build(traceId: string | null): Measurement {
    const stations: Record<string, StationMeters> = {};
    for (const t of this.registry.activeTraces()) {
      if (traceId !== null && t.traceId !== traceId) continue;
      for (const s of t.stations) {
        const l = s.handle === null ? undefined : this.latest.get(s.handle.id);
        if (l === undefined) continue;
        const v = l.values;
        // In TAP_METER_FIELDS order (media/messages.ts).
        const tap = (o: number): TapMeters => ({
          rms_dbfs: round2(v[o]),
          peak_dbfs: round2(v[o + 1]),
          clipping_ratio: round6(v[o + 2]),
          momentary_lufs: round2(v[o + 3]),
          short_term_lufs: round2(v[o + 4]),
          integrated_lufs: orNull(v[o + 5]),
          range_lu: orNull(v[o + 6]),
          true_peak_dbtp: round2(v[o + 7]),
        });
        // Station keys are unique within a trace; across traces the later one is qualified.
        const key = stations[s.stationKey] === undefined ? s.stationKey : `${s.traceId}:${s.stationKey}`;
        stations[key] = {
          trace_id: s.traceId,
          station_key: s.stationKey,
          label: s.label,
          PRE: tap(METER_OFFSET.pre),
          POST: tap(METER_OFFSET.post),
          queue_depth: v[METER_OFFSET.queueDepth],
          dropped_frames: v[METER_OFFSET.droppedFrames],
          decode_errors: v[METER_OFFSET.decodeErrors],
          config_version: v[METER_OFFSET.configVersion],
          qos: qosMeters(v, METER_OFFSET.qos),
        };
      }
    }
    return { ts: this.tsIso, seq: this.seq, stations };
  }
}

/** A station's call quality from its meters record (media/messages.ts QOS_METER_FIELDS); null without a jitter buffer. */
function qosMeters(v: Float64Array, o: number): QosMeters | null {
  if (Number.isNaN(v[o])) return null;
  return { mos: round2(v[o]), level: QOS_LEVELS[v[o + 1]] ?? 'GOOD', loss_pct: orNull(v[o + 2]), jitter_ms: orNull(v[o + 3]), jb_delay_ms: orNull(v[o + 4]) };
}
