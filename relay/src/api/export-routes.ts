/**
 * Exports of a station's audio, or a whole trace's mixed down (store/mix-export.ts), over a
 * time range (protocol/export.ts): the WAV of one tap, streamed from the segments
 * (store/segment-export.ts), or the same samples as Opus in WebM or Ogg encoded while
 * streaming (store/segment-export-webm.ts, segment-export-opus.ts), and its JSON sidecar of
 * the buckets' metrics and knobs and the knob events that took effect in the range. Requests
 * arrive checked against protocol/'s schemas; refusals are coded (ApiError) and the
 * server's error handler gives them their HTTP status.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import {
  EXPORT_MAX_RANGE_MS,
  EXPORT_MIX_MAX_STATION_MS,
  EXPORT_MIX_SAMPLE_RATE,
  EXPORT_MIX_MAX_STATIONS,
  EXPORT_OPUS_BITRATE_DEFAULT,
  EXPORT_OPUS_FORMATS,
  exportFileName,
  type ExportFormat,
  type SidecarBucket,
} from '../../../protocol/export.ts';
import { STREAM_SAMPLE_RATE } from '../media/codecs/opus-encoder.ts';
import { ApiError } from '../errors.ts';
import { needsToken } from '../http/access.ts';
import { mixSource } from '../store/mix-export.ts';
import { bucketsOverlapping, stationSource, wavBytes, wavExportStream, type ExportPlan, type PcmSource } from '../store/segment-export.ts';
import { oggOpusExportStream } from '../store/segment-export-opus.ts';
import { webmOpusExportStream } from '../store/segment-export-webm.ts';
import type { SegmentStore } from '../store/segment-store.ts';
import type { StationRow, Store } from '../store/store.ts';
import { isoOf, parseIsoMs } from '../time/bucket-clock.ts';
import { knobEvent } from './format.ts';
import type { ExportSlots } from './export-slots.ts';
import { exportRoute, sidecarRoute } from './schemas.ts';

export interface ExportDeps {
  store: Store;
  segments: SegmentStore;
  /** Bucket length, ms: how far before `from` a bucket overlapping the range can start. */
  bucketMs: number;
  /** Exports streamed at once; a slot is held until the response ends or its client goes. */
  exportSlots: ExportSlots;
}

// Routes --------------------------------------------------------------------------------------

interface Range {
  fromMs: number;
  toMs: number;
  /** The station asked for, or every station of the trace with audio in the range (a whole trace). */
  stations: StationRow[];
  /** A whole trace: station_key left out. */
  whole: boolean;
}

function parseEdge(text: string, field: 'from' | 'to'): number {
  const ms = parseIsoMs(text);
  if (ms === null) throw new ApiError('invalid_request', `${field} must be an ISO-8601 UTC timestamp such as 2026-01-03T21:15:00.000Z, got "${text}"`);
  return ms;
}

/** The request's range, checked, and its station (or the trace's stations with buckets in it, within the caps). */
function resolveRange(deps: ExportDeps, q: { trace_id: string; station_key?: string; from: string; to: string }): Range {
  const fromMs = parseEdge(q.from, 'from');
  const toMs = parseEdge(q.to, 'to');
  if (fromMs >= toMs) throw new ApiError('invalid_request', `from (${q.from}) must be before to (${q.to})`);
  if (toMs - fromMs > EXPORT_MAX_RANGE_MS) {
    throw new ApiError(
      'invalid_request',
      `the range from ${q.from} to ${q.to} is ${((toMs - fromMs) / 60_000).toFixed(1)} min; an export covers at most ${EXPORT_MAX_RANGE_MS / 60_000} min: split it into several`,
    );
  }
  if (deps.store.getTrace(q.trace_id) === undefined) throw new ApiError('trace_not_found', `no trace "${q.trace_id}"`);
  if (q.station_key !== undefined) {
    const station = deps.store.getStation(q.trace_id, q.station_key);
    if (station === undefined) throw new ApiError('station_not_found', `no station "${q.station_key}" in trace "${q.trace_id}"`);
    return { fromMs, toMs, stations: [station], whole: false };
  }
  const stations = deps.store
    .listStations(q.trace_id)
    .filter((s) => bucketsOverlapping(deps.store, q.trace_id, s.station_key, fromMs, toMs, deps.bucketMs).length > 0);
  if (stations.length > EXPORT_MIX_MAX_STATIONS) {
    throw new ApiError('invalid_request', `trace "${q.trace_id}" has ${stations.length} stations with audio in the range; a whole trace's export mixes at most ${EXPORT_MIX_MAX_STATIONS}: name a station_key, or export a shorter range`);
  }
  const stationMs = stations.length * (toMs - fromMs);
  if (stationMs > EXPORT_MIX_MAX_STATION_MS) {
    throw new ApiError(
      'invalid_request',
      `a whole trace's export reads at most ${EXPORT_MIX_MAX_STATION_MS / 60_000} min of station audio; ${stations.length} stations over ${((toMs - fromMs) / 60_000).toFixed(1)} min is ${(stationMs / 60_000).toFixed(1)}: export a shorter range or one station at a time`,
    );
  }
  return { fromMs, toMs, stations, whole: true };
}

const CONTENT_TYPES: Record<ExportFormat, string> = { wav: 'audio/wav', webm: 'audio/webm', ogg: 'audio/ogg' };

export function registerExportRoutes(server: FastifyInstance, deps: ExportDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/api/audio/export', { schema: exportRoute, config: { access: needsToken('read:audio') } }, async (req, reply) => {
    const q = req.query;
    const format = q.format ?? 'wav';
    const opus = EXPORT_OPUS_FORMATS.includes(format);
    if (q.bitrate !== undefined && !opus) throw new ApiError('invalid_request', `bitrate applies to formats webm and ogg only, not ${format}: leave it out or ask for format=webm or format=ogg`);
    const { fromMs, toMs, stations, whole } = resolveRange(deps, q);
    const plans = stations.map((station): ExportPlan => {
      const rate = station.sample_rate;
      const rows = bucketsOverlapping(deps.store, q.trace_id, station.station_key, fromMs, toMs, deps.bucketMs);
      const segments = rows.map((r) => {
        const rel = q.tap === 'PRE' ? r.pre_path : r.post_path;
        return { bucketTs: r.bucket_ts, path: rel === null || r.sample_rate !== rate ? null : deps.segments.absolute(rel) };
      });
      return { fromMs, toMs, sampleRate: rate, segments };
    });
    const source: PcmSource = whole ? mixSource(fromMs, toMs, plans) : stationSource(plans[0]);
    const size = wavBytes(source.samples);
    if (format === 'wav' && size === null) throw new ApiError('invalid_request', `the range is too long for one WAV file at ${source.sampleRate} Hz (over 4 GiB): split it into several`);
    // 'close' comes when the response has ended, or when its client went before the end.
    reply.raw.once('close', deps.exportSlots.acquire());
    reply
      .header('Content-Type', CONTENT_TYPES[format])
      .header('X-Channels', '1')
      .header('Content-Disposition', `attachment; filename="${exportFileName(q.trace_id, q.station_key ?? null, q.tap, fromMs, format)}"`)
      .header('Cache-Control', 'private, no-store')
      .header('X-Stations', String(stations.length));
    // Fastify destroys the stream when the response closes early (a client gone): no more reads.
    if (opus) {
      // Encoded while it streams: no length known up front (chunked).
      const options = { bitrate: q.bitrate ?? EXPORT_OPUS_BITRATE_DEFAULT };
      return reply.header('X-Sample-Rate', String(STREAM_SAMPLE_RATE)).send(format === 'webm' ? webmOpusExportStream(source, options) : oggOpusExportStream(source, options));
    }
    return reply
      .header('Content-Length', String(size))
      .header('X-Sample-Rate', String(source.sampleRate))
      .send(wavExportStream(source));
  });

  app.get('/api/audio/export/sidecar', { schema: sidecarRoute, config: { access: needsToken('read:snapshots') } }, async (req) => {
    const q = req.query;
    const { fromMs, toMs, stations, whole } = resolveRange(deps, q);
    // Bounded by the range: one bucket per bucketMs and station, plus one starting before `from`.
    const limit = (Math.floor((toMs - fromMs) / deps.bucketMs) + 2) * Math.max(1, stations.length);
    const keys = new Set(stations.map((s) => s.station_key));
    const buckets: SidecarBucket[] = deps.store
      .listBuckets(q.trace_id, { stationKey: q.station_key, sinceBucketTs: fromMs - deps.bucketMs, limit })
      .filter((b) => keys.has(b.station_key) && b.bucket_ts < toMs && b.bucket_ts + b.bucket_ms > fromMs)
      .map((b) => ({ station_key: b.station_key, bucket_ts: isoOf(b.bucket_ts), metrics: b.metrics, knobs_snapshot: b.knobs, config_version: b.config_version }));
    // A superseded change never took effect.
    const events = deps.store
      .listKnobEvents(q.trace_id, q.station_key)
      .filter((e) => keys.has(e.station_key) && e.apply_at_bucket_ts >= fromMs && e.apply_at_bucket_ts < toMs && (e.superseded_by ?? null) === null)
      .map(knobEvent);
    return {
      success: true as const,
      trace_id: q.trace_id,
      station_key: q.station_key ?? null,
      from: isoOf(fromMs),
      to: isoOf(toMs),
      sample_rate: whole ? EXPORT_MIX_SAMPLE_RATE : stations[0].sample_rate,
      buckets,
      knob_events: events,
    };
  });
}
