/**
 * The route schemas of the REST API: the shapes of protocol/ (declared there once), plus what
 * only the HTTP routes need: a summary and tags for the OpenAPI document, and the error codes
 * each route may answer. Fastify validates requests with them (through the TypeBox type
 * provider, so handlers read typed `req.query`, `req.params` and `req.body`), serializes
 * answers with them, and @fastify/swagger writes `GET /api/openapi.json` from them.
 *
 * Error answers are declared by code: a route lists its codes, and each HTTP status it may
 * answer gets the error envelope with the codes of that status (protocol/errors.ts).
 */
import type { Readable } from 'node:stream';
import { Health, OpenApiDocument, RelayStatsResponse, StatsQuery, TraceParams, TraceResponse } from '../../../protocol/api.ts';
import { ERROR_STATUS, ErrorEnvelope, type ErrorCode, type ErrorStatus } from '../../../protocol/errors.ts';
import { EXPORT_MAX_RANGE_MS, EXPORT_MIX_MAX_STATIONS, ExportQuery, SidecarQuery, SidecarResponse } from '../../../protocol/export.ts';
import {
  ActiveTracesResponse,
  ApplyRequest,
  ApplyResponse,
  EventsQuery,
  EventsResponse,
  KnobsResponse,
  SEGMENT_RATES,
  SegmentQuery,
  SnapshotQuery,
  SnapshotResponse,
} from '../../../protocol/optimizer-api.ts';
import { SessionResponse } from '../../../protocol/session.ts';
import { Measurement, MeasurementsQuery, TelemetryQuery } from '../../../protocol/telemetry.ts';
import { TraceListQuery, TraceListResponse } from '../../../protocol/traces.ts';
import {
  UploadChunkQuery,
  UploadChunkResponse,
  UploadCreateRequest,
  UploadParams,
  UploadPartRequest,
  UploadStateResponse,
} from '../../../protocol/upload.ts';
import * as T from '../../../protocol/schema.ts';

/**
 * Codes of every route that needs a token: its refusals, and an internal error. (A route with
 * a path parameter also answers `not_found`: a parameter over the router's length limit,
 * 100 characters, matches no route.)
 */
const TOKEN_ROUTE: readonly ErrorCode[] = ['unauthorized', 'forbidden', 'internal'];

type ErrorResponses = Partial<Record<ErrorStatus, ReturnType<typeof ErrorEnvelope>>>;

/** The error answers of a route: per HTTP status, the envelope with that status's codes. */
function errorResponses(codes: readonly ErrorCode[]): ErrorResponses {
  const byStatus = new Map<ErrorStatus, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: ErrorResponses = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) out[status] = ErrorEnvelope(list, `error: ${list.join(', ')}`);
  return out;
}

/** A route's schema: its shapes, and the error answers of its codes (token refusals included unless `open`). */
function route<R extends Record<number, T.TSchema>, S extends { summary: string; tags: string[]; operationId: string }>(
  schema: S,
  success: R,
  codes: readonly ErrorCode[],
  open = false,
): S & { response: R & ErrorResponses } {
  return { ...schema, response: { ...success, ...errorResponses([...(open ? ['internal' as const] : TOKEN_ROUTE), ...codes]) } };
}

// The optimizer contract (seed 000 §5) --------------------------------------------------------

export const activeTracesRoute = route(
  { summary: 'Traces with at least one live station (seed 000 §5.1)', tags: ['optimizer'], operationId: 'activeTraces' },
  { 200: ActiveTracesResponse },
  [],
);

export const snapshotRoute = route(
  {
    summary: 'Complete buckets of a trace: metrics, knobs and audio of the same bucket (seed 000 §5.2)',
    tags: ['optimizer'],
    operationId: 'snapshot',
    querystring: SnapshotQuery,
  },
  { 200: SnapshotResponse },
  ['invalid_request', 'trace_not_found', 'rate_limited'],
);

/** `audio/wav` bytes, for the document: the route sends a file or a buffer, never serialized. */
const wav = (description: string, headers: Record<string, object>) =>
  T.Unsafe<Uint8Array | Readable>({
    description,
    headers,
    content: { 'audio/wav': { schema: { type: 'string', contentMediaType: 'audio/wav' } } },
  });
const segmentHeaders: Record<string, object> = {
  'X-Sample-Rate': { type: 'integer', description: 'Hz: the station\'s own rate, or `rate` when the request names one' },
  'X-Channels': { type: 'integer', description: '1 (mono)' },
  'X-Bucket-MS': { type: 'integer', description: 'bucket length, ms (5000)' },
  'Accept-Ranges': { type: 'string', description: 'bytes' },
};

export const segmentRoute = route(
  {
    summary: `A bucket's PRE or POST audio as 16-bit PCM mono WAV (seed 000 §5.3), at the station's rate or resampled to ${SEGMENT_RATES.join(', ')} Hz; Range requests work`,
    tags: ['optimizer'],
    operationId: 'segment',
    querystring: SegmentQuery,
  },
  {
    200: wav('the WAV file', segmentHeaders),
    206: wav('a byte range of the WAV file', { ...segmentHeaders, 'Content-Range': { type: 'string', description: 'bytes start-end/size' } }),
  },
  ['invalid_request', 'trace_not_found', 'bucket_not_found', 'audio_not_found', 'range_not_satisfiable'],
);

const exportErrors: readonly ErrorCode[] = ['invalid_request', 'trace_not_found', 'station_not_found'];

export const exportRoute = route(
  {
    summary: `A station's PRE or POST audio over [from, to), or a whole trace's mixed down to one channel (station_key left out, at most ${EXPORT_MIX_MAX_STATIONS} stations), streamed: one 16-bit PCM mono WAV (at the station's rate; 48 kHz for a trace), or Opus in WebM or Ogg (48 kHz mono, encoded while it streams); silence where no audio was stored; at most ${EXPORT_MAX_RANGE_MS / 60_000} min`,
    tags: ['optimizer'],
    operationId: 'exportAudio',
    querystring: ExportQuery,
  },
  {
    // Sent as a stream, never serialized.
    200: T.Unsafe<Uint8Array | Readable>({
      description:
        'format=wav: round((to - from) * rate) samples, sample i at from + i / rate, with Content-Length. format=webm: Opus in WebM, chunked: a Segment of unknown size, Info with the Duration, clusters of 1 s, no Cues (an index cannot be written before a streamed VBR file is complete); CodecDelay and the last block\'s DiscardPadding make it decode to exactly (to - from) * 48000 samples. format=ogg: Opus in Ogg (RFC 7845), chunked; it decodes to exactly (to - from) * 48000 samples (pre-skip and end trimming), sample j at from + j / 48000',
      headers: {
        'X-Sample-Rate': { type: 'integer', description: "Hz: the station's rate (wav), 48000 (a whole trace; webm and ogg: the rate they decode at)" },
        'X-Channels': { type: 'integer', description: '1 (mono)' },
        'X-Stations': { type: 'integer', description: 'the stations in the file: 1 for a station; for a whole trace, those mixed (with audio in the range)' },
        'Content-Disposition': { type: 'string', description: 'attachment; filename="<trace>_<station, or mix>_<tap>_<from>.<format>"' },
      },
      content: {
        'audio/wav': { schema: { type: 'string', contentMediaType: 'audio/wav' } },
        'audio/webm': { schema: { type: 'string', contentMediaType: 'audio/webm' } },
        'audio/ogg': { schema: { type: 'string', contentMediaType: 'audio/ogg' } },
      },
    }),
  },
  exportErrors,
);

export const sidecarRoute = route(
  {
    summary: 'The buckets (metrics, knobs, config version) and knob events of a station, or of a whole trace (station_key left out), over [from, to): the JSON beside an export',
    tags: ['optimizer'],
    operationId: 'exportSidecar',
    querystring: SidecarQuery,
  },
  { 200: SidecarResponse },
  exportErrors,
);

export const applyRoute = route(
  {
    summary: 'Schedule knob changes for the first sample of a future bucket (seed 000 §5.4)',
    tags: ['optimizer'],
    operationId: 'applyKnobs',
    body: ApplyRequest,
  },
  { 200: ApplyResponse },
  [
    'invalid_request',
    'unknown_knob',
    'unsupported_media_type',
    'body_too_large',
    'trace_not_found',
    'station_not_found',
    'bucket_mismatch',
    'idempotency_conflict',
    'station_not_live',
    'rate_limited',
  ],
);

export const eventsRoute = route(
  { summary: 'The knob event log of a trace (optionally one station), oldest first', tags: ['optimizer'], operationId: 'knobEvents', querystring: EventsQuery },
  { 200: EventsResponse },
  ['invalid_request', 'trace_not_found'],
);

export const knobsRoute = route(
  { summary: 'The knob registry: name, type, unit, range, default', tags: ['optimizer'], operationId: 'knobRegistry' },
  { 200: KnobsResponse },
  [],
);

export const traceRoute = route(
  { summary: 'One trace, live or ended, with its stations and bucket range', tags: ['traces'], operationId: 'trace', params: TraceParams },
  { 200: TraceResponse },
  ['invalid_request', 'trace_not_found', 'not_found'],
);

export const traceListRoute = route(
  {
    summary: 'Every trace the relay keeps, live, ended or recorded, newest first; filtered by kind, activity, station label and time, paged with a cursor',
    tags: ['traces'],
    operationId: 'listTraces',
    querystring: TraceListQuery,
  },
  { 200: TraceListResponse },
  ['invalid_request'],
);

// The relay -------------------------------------------------------------------------------------

export const statsRoute = route(
  { summary: 'Relay and per-station ingest counters, pipeline latency', tags: ['relay'], operationId: 'relayStats', querystring: StatsQuery },
  { 200: RelayStatsResponse },
  ['invalid_request'],
);

export const healthRoute = route({ summary: 'Health check (no token)', tags: ['relay'], operationId: 'health', security: [] as Record<string, string[]>[] }, { 200: Health }, [], true);

export const sessionRoute = route(
  { summary: 'Who the presented token is: its id, label, scopes and creation time, never the secret (any valid token)', tags: ['relay'], operationId: 'session' },
  { 200: SessionResponse },
  [],
);

export const openApiRoute = route({ summary: 'This document (any valid token)', tags: ['relay'], operationId: 'openapi' }, { 200: OpenApiDocument }, []);

/**
 * Live meters (seed 003): the measurement `/ws/telemetry` also pushes. No token on a relay
 * bound to loopback only; beyond it `read:snapshots`, as a header or `?token=`.
 */
export const measurementsRoute = route(
  {
    summary: 'The latest live measurement of every streaming station (no token on a loopback-only relay)',
    tags: ['telemetry'],
    operationId: 'measurements',
    querystring: MeasurementsQuery,
  },
  { 200: Measurement },
  ['invalid_request'],
);

/** `/ws/telemetry`'s query (the route is a WebSocket, outside the document: no tags). */
export const telemetrySocketRoute = { querystring: TelemetryQuery };

// Uploads of offline recordings (protocol/upload.ts) -------------------------------------------

export const uploadCreateRoute = route(
  {
    summary: 'Create an upload of an offline recording (201), or confirm it (200)',
    tags: ['uploads'],
    operationId: 'createUpload',
    params: UploadParams,
    body: UploadCreateRequest,
  },
  { 200: UploadStateResponse, 201: UploadStateResponse },
  ['invalid_request', 'unsupported_media_type', 'body_too_large', 'upload_too_old', 'upload_conflict', 'not_found'],
);

export const uploadChunkRoute = route(
  {
    summary: 'Store a chunk of packets first_index, first_index + 1, ... (application/octet-stream)',
    tags: ['uploads'],
    operationId: 'uploadChunk',
    params: UploadParams,
    querystring: UploadChunkQuery,
    // The body is bytes, parsed by the route's own content-type parser; described, not validated.
    consumes: ['application/octet-stream'],
  },
  { 200: UploadChunkResponse },
  [
    'invalid_request',
    'bad_chunk',
    'unsupported_media_type',
    'body_too_large',
    'upload_quota',
    'upload_not_found',
    'chunk_conflict',
    'upload_expired',
    'not_found',
  ],
);

export const uploadPartRoute = route(
  {
    summary: 'Process a run of stored packets [first_index, end_index) into buckets at their capture times',
    tags: ['uploads'],
    operationId: 'processUploadPart',
    params: UploadParams,
    body: UploadPartRequest,
  },
  { 200: UploadStateResponse },
  [
    'invalid_request',
    'unsupported_media_type',
    'body_too_large',
    'upload_too_old',
    'upload_not_found',
    'part_overlap',
    'incomplete',
    'upload_expired',
    'processing_failed',
    'not_found',
  ],
);

export const uploadStateRoute = route(
  { summary: 'An upload\'s state: packets received, parts processed', tags: ['uploads'], operationId: 'uploadState', params: UploadParams },
  { 200: UploadStateResponse },
  ['invalid_request', 'upload_not_found', 'not_found'],
);
