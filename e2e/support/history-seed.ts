/**
 * A long, ended trace written straight into a relay's store (its own API, one SQLite
 * transaction), for tests and benchmarks of the history views: `hours` of 5 s buckets for
 * each station, with a knob change every hour that the buckets from then on carry (so
 * every change verifies). Levels drift slowly so the charts have a shape, and POST follows
 * PRE plus the gain in force.
 */
import { defaultKnobs } from '../../protocol/knobs.ts';
import type { BucketMetrics } from '../../protocol/metrics.ts';
import { newStreamId } from '../../relay/src/ids.ts';
import type { Store } from '../../relay/src/store/store.ts';

const BUCKET_MS = 5000;
const RATE = 48000;
const HOUR_MS = 3600_000;

export interface SeededTrace {
  traceId: string;
  stationKeys: string[];
  /** Start of the first bucket and end of the last, ms since the epoch. */
  fromMs: number;
  toMs: number;
  bucketsPerStation: number;
  /** Knob events written per station (one an hour after the first hour). */
  eventsPerStation: number;
}

function tapMetrics(lufs: number, peakDbfs: number): BucketMetrics['PRE'] {
  const agg = (v: number) => ({ count: 250, min: v - 6, max: v, avg: v - 3, last: v - 2 });
  const zero = { count: 250, min: 0, max: 0, avg: 0, last: 0 };
  return {
    'pcm.rms_dbfs': agg(peakDbfs - 10),
    'pcm.peak_dbfs': agg(peakDbfs),
    'pcm.clipping_ratio': zero,
    'pcm.dc_offset': zero,
    'loudness.momentary_lufs': agg(lufs + 2),
    'loudness.integrated_lufs': { bucket: lufs, station: lufs, active_s: 5 },
  } as unknown as BucketMetrics['PRE'];
}

/** Seeds the trace ending at the bucket boundary at or before `endMs`. */
export function seedLongTrace(store: Store, opts: { traceId: string; stations: number; hours: number; endMs: number }): SeededTrace {
  const toMs = Math.floor(opts.endMs / BUCKET_MS) * BUCKET_MS;
  const fromMs = toMs - opts.hours * HOUR_MS;
  const n = (opts.hours * HOUR_MS) / BUCKET_MS;
  const stationKeys = Array.from({ length: opts.stations }, (_, i) => `St_${i + 1}_${String(1000 + i)}`);
  const ingest = { frames_received: 250, bytes_received: 0, frames_dropped: 0, decode_errors: 0, frames_concealed: 0, resyncs: 0, late_frames: 0, frames_out_of_order: 0 };
  let eventId = store.maxKnobEventId();
  store.db.transaction(() => {
    store.insertTrace({ trace_id: opts.traceId, kind: 'live', started_at: fromMs, ended_at: toMs, call_id: null });
    for (const [s, key] of stationKeys.entries()) {
      store.insertStation({ trace_id: opts.traceId, station_key: key, label: `long ${s + 1}`, codec: 'pcm16', sample_rate: RATE, stream_id: newStreamId(), started_at: fromMs, ended_at: toMs, end_reason: 'stop', client: '' });
      let knobs = defaultKnobs();
      let version = 0;
      let lastEvent: number | null = null;
      for (let i = 0; i < n; i++) {
        const ts = fromMs + i * BUCKET_MS;
        if (i > 0 && (i * BUCKET_MS) % HOUR_MS === 0) {
          // Each hour the gain steps between -6 and +6 dB (station s starts on the other side).
          const gainDb = ((ts - fromMs) / HOUR_MS + s) % 2 === 0 ? -6 : 6;
          knobs = { ...knobs, 'pcm.input_gain_db': gainDb };
          version++;
          lastEvent = ++eventId;
          const applied = { 'pcm.input_gain_db': gainDb };
          store.insertKnobEvent({ id: lastEvent, trace_id: opts.traceId, station_key: key, created_at: ts - 60_000, apply_at_bucket_ts: ts, knobs_requested: applied, knobs_effective: applied, source: 'seed', reason: `hourly step ${version}`, config_version: version, idempotency_key: null, request_hash: null });
        }
        // A slow drift (one cycle every 40 min) and a small per-bucket wobble.
        const preLufs = -24 + 4 * Math.sin((2 * Math.PI * i) / 480 + s) + 0.7 * Math.sin(i * 1.7);
        const gainDb = knobs['pcm.input_gain_db'] as number;
        store.insertBucket({
          trace_id: opts.traceId, station_key: key, bucket_ts: ts, bucket_ms: BUCKET_MS, sample_rate: RATE,
          metrics: { PRE: tapMetrics(preLufs, preLufs + 9), POST: tapMetrics(preLufs + gainDb, Math.min(0, preLufs + gainDb + 9)) },
          knobs, config_version: version, last_knob_event_id: lastEvent, ingest,
          sample_start: i * (RATE * BUCKET_MS) / 1000, samples: (RATE * BUCKET_MS) / 1000,
          pre_path: null, post_path: null, segment_bytes: 0, client: '',
        });
      }
    }
  })();
  return { traceId: opts.traceId, stationKeys, fromMs, toMs, bucketsPerStation: n, eventsPerStation: opts.hours - 1 };
}
