/**
 * Each station's ingest health as the monitor shows it, from `GET /api/relay/stats`
 * (protocol/api.ts RelayStats): its counters, its listeners now, the share of concealed
 * and dropped frames over the last ~10 s (from the counters' growth between polls), and
 * its call quality (protocol/qos.ts). Parsing happens here, at the edge: only typed values
 * leave. Pure: the poller (station-stats.svelte.ts) brings the bodies and the clock.
 */
import type { StationStats, TransportQuality } from '$protocol/api';
import { qosLevel, type QosLevel } from '../../../protocol/qos.ts';

/** The counters the panel shows; all are cumulative since the station started. */
const COUNTERS = ['frames_received', 'frames_dropped', 'decode_errors', 'frames_concealed', 'late_frames', 'frames_out_of_order', 'resyncs'] as const;
type Counter = (typeof COUNTERS)[number];

/** Shares are worked out over this much history, ms. */
export const HEALTH_WINDOW_MS = 10_000;
/** Snapshots kept per station: enough for the window at a 2 s poll, with room for a slow one. */
const MAX_SNAPSHOTS = 12;

export interface StationHealth {
  /** `<trace_id>/<station_key>`, as monitor.svelte.ts keys station details. */
  key: string;
  transport: string;
  queueDepth: number;
  counters: Record<Counter, number> | null;
  listeners: number;
  /** Concealed and dropped frames as a share of frames received over the window, percent; null before two polls. */
  concealedPercent: number | null;
  droppedPercent: number | null;
  quality: TransportQuality | null;
  /** The call-quality level, when the station has figures. */
  level: QosLevel | null;
  /** The relay's jitter buffer for this station: the mean wait of the packets played and the delay it aims at now, ms; null before it reports. */
  jitterBuffer: { delayMs: number | null; targetMs: number } | null;
}

export interface RelayStatsView {
  stations: StationStats[];
  /** Listeners now, by `<trace_id>/<station_key>`. */
  listeners: Map<string, number>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isNullableNumber = (v: unknown): v is number | null => v === null || (typeof v === 'number' && Number.isFinite(v));

function isQuality(v: unknown): v is TransportQuality {
  return isObject(v) && isCount(v.window_s) && isNullableNumber(v.loss_percent) && isNullableNumber(v.jitter_ms) && isNullableNumber(v.latency_ms) && isNullableNumber(v.mos);
}

function isStationStats(v: unknown): v is StationStats {
  if (!isObject(v) || typeof v.trace_id !== 'string' || typeof v.station_key !== 'string' || typeof v.transport !== 'string' || !isCount(v.queue_depth)) return false;
  for (const c of COUNTERS) if (v[c] !== undefined && !isCount(v[c])) return false;
  return v.transport_quality === undefined || isQuality(v.transport_quality);
}

/** The parts of a `/api/relay/stats` body the monitor uses, or null when it is not one. */
export function parseRelayStats(v: unknown): RelayStatsView | null {
  if (!isObject(v) || !Array.isArray(v.stations) || !Array.isArray(v.listen_streams)) return null;
  if (!v.stations.every(isStationStats)) return null;
  const listeners = new Map<string, number>();
  for (const l of v.listen_streams) {
    if (!isObject(l) || l.kind !== 'station' || typeof l.trace_id !== 'string' || typeof l.station_key !== 'string' || !isObject(l.listeners)) continue;
    const n = (isCount(l.listeners.mse) ? l.listeners.mse : 0) + (isCount(l.listeners.packets) ? l.listeners.packets : 0);
    const key = `${l.trace_id}/${l.station_key}`;
    listeners.set(key, (listeners.get(key) ?? 0) + n);
  }
  return { stations: v.stations, listeners };
}

interface Snapshot {
  atMs: number;
  received: number;
  concealed: number;
  dropped: number;
}

/** Every station's health, poll after poll; forgets stations that have gone. */
export class HealthTracker {
  private readonly history = new Map<string, Snapshot[]>();

  /** Takes one poll's stats, taken at `nowMs`, and says each station's health. */
  update(view: RelayStatsView, nowMs: number): Record<string, StationHealth> {
    const out: Record<string, StationHealth> = {};
    for (const s of view.stations) {
      const key = `${s.trace_id}/${s.station_key}`;
      const counters = s.frames_received === undefined ? null : (Object.fromEntries(COUNTERS.map((c) => [c, s[c] ?? 0])) as Record<Counter, number>);
      let concealedPercent: number | null = null;
      let droppedPercent: number | null = null;
      if (counters !== null) {
        const snaps = this.history.get(key) ?? [];
        snaps.push({ atMs: nowMs, received: counters.frames_received, concealed: counters.frames_concealed, dropped: counters.frames_dropped });
        // Keep the newest snapshot at least the window old, and nothing older.
        while (snaps.length > MAX_SNAPSHOTS || (snaps.length > 2 && nowMs - snaps[1].atMs >= HEALTH_WINDOW_MS)) snaps.shift();
        this.history.set(key, snaps);
        const base = snaps[0];
        const received = counters.frames_received - base.received;
        if (snaps.length >= 2 && received > 0) {
          concealedPercent = ((counters.frames_concealed - base.concealed) / received) * 100;
          droppedPercent = ((counters.frames_dropped - base.dropped) / received) * 100;
        }
      }
      const q = s.transport_quality ?? null;
      const jb = s.call_quality;
      out[key] = {
        key,
        transport: s.transport,
        queueDepth: s.queue_depth,
        counters,
        listeners: view.listeners.get(key) ?? 0,
        concealedPercent,
        droppedPercent,
        quality: q,
        level: q === null ? null : qosLevel({ latencyMs: q.latency_ms, lossPercent: q.loss_percent, jitterMs: q.jitter_ms, mos: q.mos }),
        jitterBuffer:
          jb !== undefined && isObject(jb) && isNullableNumber(jb.jitter_buffer_delay_ms) && isCount(jb.jitter_buffer_target_ms)
            ? { delayMs: jb.jitter_buffer_delay_ms, targetMs: jb.jitter_buffer_target_ms }
            : null,
      };
    }
    for (const key of this.history.keys()) if (!(key in out)) this.history.delete(key);
    return out;
  }
}
