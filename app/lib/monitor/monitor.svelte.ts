/**
 * What the monitor page shows: the live stations grouped by trace, their details from the
 * REST API (codec, rate, start), their ingest health (station-stats.svelte.ts), the
 * transport's state, the latest measurement, and the spectra of the station in focus. The
 * station list is reactive and changes only when stations come, go or change label or
 * config version; the meters and the spectrum read `latest` and `spectra` every frame
 * without going through reactivity.
 */
import type { TraceDetail, StationDetail } from '$protocol/api';
import type { Measurement, SpectrumMessage, StationMeters } from '$protocol/telemetry';
import { relayStatus } from '$lib/relay-status.svelte';
import { session } from '$lib/session.svelte';
import { StationStatsPoller } from './station-stats.svelte';
import { TelemetryTransport, type TransportState } from './telemetry-transport';

export interface StationView {
  /** The measurement's key for the station (qualified as <trace_id>:<station_key> when shared). */
  key: string;
  traceId: string;
  stationKey: string;
  label: string | null;
  configVersion: number;
}

export interface TraceView {
  traceId: string;
  stations: StationView[];
}

/** A trace's details are asked for again at most this often while one of its stations lacks them, ms. */
const DETAIL_RETRY_MS = 5000;

function telemetryUrl(spectrumStation: string | null): string {
  const url = new URL('/ws/telemetry', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (session.token) url.searchParams.set('token', session.token);
  // The relay sends the PRE and POST spectra of one station to a socket that asks (seed 003 WS-3).
  if (spectrumStation !== null) url.searchParams.set('spectrum', spectrumStation);
  return url.href;
}

/** The latest spectra of the station in focus; replaced, never grown. */
export interface FocusSpectra {
  PRE: SpectrumMessage | null;
  POST: SpectrumMessage | null;
  /** When the latest arrived (performance.now()). */
  atMs: number;
}

export class Monitor {
  transport = $state<TransportState>('stale');
  traces = $state<TraceView[]>([]);
  /** Station details by `<trace_id>/<station_key>`. */
  details = $state<Record<string, StationDetail>>({});
  traceStarted = $state<Record<string, string>>({});
  /** seq and ts of the latest measurement (updated at most once a second, for the header). */
  lastSeq = $state<number | null>(null);
  lastTs = $state<string | null>(null);

  /** The station in focus (its StationView), whose spectrum is shown; one at a time. */
  focus = $state<StationView | null>(null);
  /** Ingest health of every live station, polled from /api/relay/stats. */
  readonly stats = new StationStatsPoller();

  /** The latest measurement; read every frame. */
  latest: Measurement | null = null;
  /** The spectra of the station in focus; read every frame. */
  spectra: FocusSpectra = { PRE: null, POST: null, atMs: -Infinity };

  private t: TelemetryTransport | null = null;
  private signature = '';
  private readonly detailAskedMs = new Map<string, number>();
  private headerAtMs = -Infinity;

  private stopWatching: (() => void) | null = null;

  start(): void {
    // Back from an outage: reconnect at once instead of at the end of the socket's backoff.
    this.stopWatching ??= relayStatus.onRecovered(() => this.t?.reconnectNow());
    this.t ??= new TelemetryTransport({
      measurementsUrl: '/measurements',
      socketUrl: () => telemetryUrl(this.focus === null ? null : `${this.focus.traceId}:${this.focus.stationKey}`),
      fetch: (url) => session.fetch(url, { cache: 'no-store', headers: { accept: 'application/json' } }),
      onMeasurement: (m) => this.onMeasurement(m),
      onSpectrum: (s) => this.onSpectrum(s),
      onState: (s) => (this.transport = s),
    });
    this.t.start();
    this.stats.start();
  }

  close(): void {
    this.stopWatching?.();
    this.stopWatching = null;
    this.t?.close();
    this.t = null;
    this.stats.close();
  }

  /** Puts a station in focus (null: none), asking the relay for its spectra instead of the last one's. */
  setFocus(station: StationView | null): void {
    if (station?.key === this.focus?.key) return;
    this.focus = station;
    this.spectra = { PRE: null, POST: null, atMs: -Infinity };
    this.t?.reopen();
  }

  private onSpectrum(s: SpectrumMessage): void {
    // A message for the station asked for before a reopen is late, not ours.
    const focus = this.focus;
    if (focus === null || s.trace_id !== focus.traceId || s.station_key !== focus.stationKey) return;
    this.spectra[s.tap] = s;
    this.spectra.atMs = performance.now();
  }

  /** The latest meters of the station under `key`, or null when it has gone. */
  meters(key: string): StationMeters | null {
    return this.latest?.stations[key] ?? null;
  }

  private onMeasurement(m: Measurement): void {
    this.latest = m;
    const now = performance.now();
    if (now - this.headerAtMs >= 1000) {
      this.headerAtMs = now;
      this.lastSeq = m.seq;
      this.lastTs = m.ts;
    }
    const keys = Object.keys(m.stations).sort();
    const signature = keys.map((k) => `${k}\u0000${m.stations[k].label ?? ''}\u0000${m.stations[k].config_version}`).join('\u0001');
    if (signature === this.signature) {
      if (this.missingDetails) this.askForMissingDetails();
      return;
    }
    this.signature = signature;

    const byTrace = new Map<string, StationView[]>();
    for (const key of keys) {
      const s = m.stations[key];
      const view: StationView = { key, traceId: s.trace_id, stationKey: s.station_key, label: s.label, configVersion: s.config_version };
      const list = byTrace.get(s.trace_id);
      if (list) list.push(view);
      else byTrace.set(s.trace_id, [view]);
    }
    this.traces = [...byTrace].map(([traceId, stations]) => ({ traceId, stations }));
    if (this.focus !== null && !(this.focus.key in m.stations)) this.setFocus(null);
    // Forget what belongs to stations and traces that have gone, so memory follows the page.
    const current = new Set(this.traces.flatMap((t) => t.stations.map((s) => `${t.traceId}/${s.stationKey}`)));
    if (Object.keys(this.details).some((k) => !current.has(k))) {
      this.details = Object.fromEntries(Object.entries(this.details).filter(([k]) => current.has(k)));
    }
    if (Object.keys(this.traceStarted).some((id) => !byTrace.has(id))) {
      this.traceStarted = Object.fromEntries(Object.entries(this.traceStarted).filter(([id]) => byTrace.has(id)));
    }
    for (const id of this.detailAskedMs.keys()) if (!byTrace.has(id)) this.detailAskedMs.delete(id);
    this.askForMissingDetails();
  }

  private missingDetails = false;

  private askForMissingDetails(): void {
    this.missingDetails = false;
    for (const t of this.traces) {
      if (t.stations.some((s) => !(`${t.traceId}/${s.stationKey}` in this.details))) {
        this.missingDetails = true;
        void this.loadDetails(t.traceId);
      }
    }
  }

  private async loadDetails(traceId: string): Promise<void> {
    const now = performance.now();
    if (now - (this.detailAskedMs.get(traceId) ?? -Infinity) < DETAIL_RETRY_MS) return;
    this.detailAskedMs.set(traceId, now);
    try {
      const res = await session.fetch(`/api/traces/${encodeURIComponent(traceId)}`, { headers: { accept: 'application/json' } });
      if (!res.ok) return;
      const body = (await res.json()) as { trace?: TraceDetail };
      const trace = body.trace;
      if (!trace || !Array.isArray(trace.stations)) return;
      const next = { ...this.details };
      for (const s of trace.stations) if (s.live) next[`${traceId}/${s.station_key}`] = s;
      this.details = next;
      this.traceStarted = { ...this.traceStarted, [traceId]: trace.started_at };
    } catch {
      // The details are extras: the meters work without them, and the next change asks again.
    }
  }
}
