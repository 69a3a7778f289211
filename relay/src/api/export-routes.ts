/**
 * Exports of a station's audio over a time range (protocol/export.ts): the WAV of one tap,
 * streamed from the segments (store/segment-export.ts), or the same samples as Opus in Ogg
 * encoded while streaming (store/segment-export-opus.ts), and its JSON sidecar of the
 * buckets' metrics and knobs and the knob events that took effect in the range. Requests
 * arrive checked against protocol/'s schemas; refusals are coded (ApiError) and the
 * server's error handler gives them their HTTP status.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { EXPORT_MAX_RANGE_MS, EXPORT_OPUS_BITRATE_DEFAULT, type ExportFormat, type SidecarBucket } from '../../../protocol/export.ts';
import { STREAM_SAMPLE_RATE } from '../media/codecs/opus-encoder.ts';
import { ApiError } from '../errors.ts';
import { needsToken } from '../http/access.ts';
import { bucketsOverlapping, exportBytes, wavExportStream, type ExportPlan } from '../store/segment-export.ts';
import { oggOpusExportStream } from '../store/segment-export-opus.ts';
import type { SegmentStore } from '../store/segment-store.ts';
import type { StationRow, Store } from '../store/store.ts';
import { isoOf, parseIsoMs } from '../time/bucket-clock.ts';
import { knobEvent } from './format.ts';
import { exportRoute, sidecarRoute } from './schemas.ts';

export interface ExportDeps {
  store: Store;
  segments: SegmentStore;
  /** Bucket length, ms: how far before `from` a bucket overlapping the range can start. */
  bucketMs: number;
}

// Routes --------------------------------------------------------------------------------------

interface Range {
  fromMs: number;
  toMs: number;
  station: StationRow;
}

function parseEdge(text: string, field: 'from' | 'to'): number {
  const ms = parseIsoMs(text);
  if (ms === null) throw new ApiError('invalid_request', `${field} must be an ISO-8601 UTC timestamp such as 2026-01-03T21:15:00.000Z, got "${text}"`);
  return ms;
}

/** The request's range, checked, and its station. */
function resolveRange(deps: ExportDeps, q: { trace_id: string; station_key: string; from: string; to: string }): Range {
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
  const station = deps.store.getStation(q.trace_id, q.station_key);
  if (station === undefined) throw new ApiError('station_not_found', `no station "${q.station_key}" in trace "${q.trace_id}"`);
  return { fromMs, toMs, station };
}

/** A file name part safe in a quoted header value and on any file system. */
const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '-');

export function exportFileName(traceId: string, stationKey: string, tap: string, fromMs: number, format: ExportFormat = 'wav'): string {
  return `${safe(traceId)}_${safe(stationKey)}_${safe(tap)}_${safe(isoOf(fromMs))}.${format}`;
}

const CONTENT_TYPES: Record<ExportFormat, string> = { wav: 'audio/wav', ogg: 'audio/ogg' };

export function registerExportRoutes(server: FastifyInstance, deps: ExportDeps): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/api/audio/export', { schema: exportRoute, config: { access: needsToken('read:audio') } }, async (req, reply) => {
    const q = req.query;
    const format = q.format ?? 'wav';
    if (q.bitrate !== undefined && format === 'wav') throw new ApiError('invalid_request', `bitrate applies to format ogg only, not ${format}: leave it out or ask for format=ogg`);
    const { fromMs, toMs, station } = resolveRange(deps, q);
    const rate = station.sample_rate;
    const size = exportBytes(fromMs, toMs, rate);
    if (format === 'wav' && size === null) throw new ApiError('invalid_request', `the range is too long for one WAV file at ${rate} Hz (over 4 GiB): split it into several`);
    const rows = bucketsOverlapping(deps.store, q.trace_id, q.station_key, fromMs, toMs, deps.bucketMs);
    const segments = rows.map((r) => {
      const rel = q.tap === 'PRE' ? r.pre_path : r.post_path;
      return { bucketTs: r.bucket_ts, path: rel === null || r.sample_rate !== rate ? null : deps.segments.absolute(rel) };
    });
    const plan: ExportPlan = { fromMs, toMs, sampleRate: rate, segments };
    reply
      .header('Content-Type', CONTENT_TYPES[format])
      .header('X-Channels', '1')
      .header('Content-Disposition', `attachment; filename="${exportFileName(q.trace_id, q.station_key, q.tap, fromMs, format)}"`)
      .header('Cache-Control', 'private, no-store');
    // Fastify destroys the stream when the response closes early (a client gone): no more reads.
    if (format === 'ogg') {
      // Encoded while it streams: no length known up front (chunked).
      return reply.header('X-Sample-Rate', String(STREAM_SAMPLE_RATE)).send(oggOpusExportStream(plan, { bitrate: q.bitrate ?? EXPORT_OPUS_BITRATE_DEFAULT }));
    }
    return reply
      .header('Content-Length', String(size))
      .header('X-Sample-Rate', String(rate))
      .send(wavExportStream(plan));
  });

  app.get('/api/audio/export/sidecar', { schema: sidecarRoute, config: { access: needsToken('read:snapshots') } }, async (req) => {
    const q = req.query;
    const { fromMs, toMs, station } = resolveRange(deps, q);
    // Bounded by the range: one bucket per bucketMs, plus one starting before `from`.
    const limit = Math.floor((toMs - fromMs) / deps.bucketMs) + 2;
    const buckets: SidecarBucket[] = deps.store
      .listBuckets(q.trace_id, { stationKey: q.station_key, sinceBucketTs: fromMs - deps.bucketMs, limit })
      .filter((b) => b.bucket_ts < toMs && b.bucket_ts + b.bucket_ms > fromMs)
      .map((b) => ({ bucket_ts: isoOf(b.bucket_ts), metrics: b.metrics, knobs_snapshot: b.knobs, config_version: b.config_version }));
    // A superseded change never took effect.
    const events = deps.store
      .listKnobEvents(q.trace_id, q.station_key)
      .filter((e) => e.apply_at_bucket_ts >= fromMs && e.apply_at_bucket_ts < toMs && (e.superseded_by ?? null) === null)
      .map(knobEvent);
    return {
      success: true as const,
      trace_id: q.trace_id,
      station_key: q.station_key,
      from: isoOf(fromMs),
      to: isoOf(toMs),
      sample_rate: station.sample_rate,
      buckets,
      knob_events: events,
    };
  });
}
