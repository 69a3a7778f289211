/**
 * JSON schemas of the REST API (seed 000 §5): they validate requests, and the OpenAPI
 * document at `GET /api/openapi.json` is generated from them. Response schemas describe
 * the shapes without restricting them (additionalProperties stays open, so nothing a
 * handler returns is silently dropped by the serializer).
 */

const isoTs = { type: 'string', description: 'ISO-8601 UTC with milliseconds, e.g. 2026-01-03T21:15:00.000Z' } as const;
const open = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: true,
});

export const errorResponse = open(
  {
    success: { type: 'boolean', const: false },
    error: open({ code: { type: 'string' }, message: { type: 'string' } }, ['code', 'message']),
  },
  ['success', 'error'],
);

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { ...errorResponse, description: `error ${s}` }]));

const aggregate = open({ count: { type: 'integer' }, min: { type: 'number' }, max: { type: 'number' }, avg: { type: 'number' }, last: { type: 'number' } });
const tapMetrics = { type: 'object', additionalProperties: aggregate, description: 'metric name -> {count,min,max,avg,last} over the bucket\'s 20 ms frames' };

export const snapshotEntry = open(
  {
    bucket_ts: isoTs,
    bucket_ms: { type: 'integer' },
    station_key: { type: 'string' },
    knobs_snapshot: { type: 'object', additionalProperties: true, description: 'every knob in force during the bucket' },
    metrics: open({ PRE: tapMetrics, POST: tapMetrics }),
    audio: open({ PRE: open({ endpoint: { type: 'string' } }), POST: open({ endpoint: { type: 'string' } }) }),
    config_version: { type: 'integer' },
    last_knob_event_id: { type: ['integer', 'null'] },
  },
  ['bucket_ts', 'bucket_ms', 'station_key', 'knobs_snapshot', 'metrics', 'audio', 'config_version', 'last_knob_event_id'],
);

export const activeTracesRoute = {
  summary: 'Traces with at least one live station (seed 000 §5.1)',
  tags: ['optimizer'],
  response: {
    200: open({
      success: { type: 'boolean' },
      active: {
        type: 'array',
        items: open({
          trace_id: { type: 'string' },
          started_at: isoTs,
          src_extension: { type: ['string', 'null'] },
          dst_extension: { type: ['string', 'null'] },
          call_id: { type: ['string', 'null'] },
          stations: { type: 'array', items: { type: 'string' } },
        }),
      },
    }),
    ...errors(401, 403),
  },
} as const;

export const snapshotRoute = {
  summary: 'Complete buckets of a trace: metrics, knobs and audio of the same bucket (seed 000 §5.2)',
  tags: ['optimizer'],
  querystring: {
    type: 'object',
    properties: {
      trace_id: { type: 'string', minLength: 1 },
      since_bucket_ts: { ...isoTs, description: 'only buckets strictly after this one' },
      limit: { type: 'integer', minimum: 1, maximum: 100, default: 1, description: 'buckets to return (each with every station\'s entry)' },
      station_key: { type: 'string', minLength: 1 },
    },
    required: ['trace_id'],
    additionalProperties: false,
  },
  response: {
    200: open({ success: { type: 'boolean' }, trace_id: { type: 'string' }, buckets: { type: 'array', items: snapshotEntry } }),
    ...errors(400, 401, 403, 404, 429),
  },
} as const;

export const segmentRoute = {
  summary: 'A bucket\'s PRE or POST audio as 16-bit PCM mono WAV (seed 000 §5.3); Range requests work',
  tags: ['optimizer'],
  querystring: {
    type: 'object',
    properties: {
      trace_id: { type: 'string', minLength: 1 },
      station_key: { type: 'string', minLength: 1 },
      tap: { type: 'string', enum: ['PRE', 'POST'] },
      bucket_ts: isoTs,
    },
    required: ['trace_id', 'station_key', 'tap', 'bucket_ts'],
    additionalProperties: false,
  },
  response: { ...errors(400, 401, 403, 404, 416) },
} as const;

export const applyRoute = {
  summary: 'Schedule knob changes for the first sample of a future bucket (seed 000 §5.4)',
  tags: ['optimizer'],
  body: {
    type: 'object',
    properties: {
      trace_id: { type: 'string', minLength: 1 },
      station_key: { type: 'string', minLength: 1 },
      apply_at_bucket_ts: isoTs,
      idempotency_key: { type: 'string', minLength: 1, maxLength: 200 },
      source: { type: 'string', maxLength: 200 },
      reason: { type: 'string', maxLength: 2000 },
      knobs: { type: 'object', minProperties: 1, additionalProperties: { type: ['number', 'boolean'] } },
    },
    required: ['trace_id', 'station_key', 'apply_at_bucket_ts', 'idempotency_key', 'knobs'],
    additionalProperties: false,
  },
  response: {
    200: open({
      success: { type: 'boolean' },
      accepted: { type: 'boolean' },
      apply_at_bucket_ts: isoTs,
      config_version: { type: 'integer' },
      effective_knobs: { type: 'object', additionalProperties: true },
    }),
    ...errors(400, 401, 403, 404, 409, 429),
  },
} as const;

export const eventsRoute = {
  summary: 'The knob event log of a trace (optionally one station)',
  tags: ['optimizer'],
  querystring: {
    type: 'object',
    properties: {
      trace_id: { type: 'string', minLength: 1 },
      station_key: { type: 'string', minLength: 1 },
      after_id: { type: 'integer', minimum: 0, description: 'only events with a larger id (paging)' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'events to return at most, oldest first (default: all)' },
    },
    required: ['trace_id'],
    additionalProperties: false,
  },
  response: {
    200: open({
      success: { type: 'boolean' },
      trace_id: { type: 'string' },
      events: {
        type: 'array',
        items: open({
          id: { type: 'integer' },
          created_at: isoTs,
          apply_at_bucket_ts: isoTs,
          station_key: { type: 'string' },
          knobs_requested: { type: 'object', additionalProperties: true },
          knobs_effective: { type: 'object', additionalProperties: true },
          source: { type: ['string', 'null'] },
          reason: { type: ['string', 'null'] },
          config_version: { type: 'integer' },
          idempotency_key: { type: ['string', 'null'] },
          superseded_by: { type: ['integer', 'null'], description: 'the event that replaced this change before its bucket started (a later apply for an earlier or the same bucket), or null' },
        }),
      },
    }),
    ...errors(400, 401, 403, 404),
  },
} as const;

export const traceRoute = {
  summary: 'One trace, live or ended, with its stations and bucket range',
  tags: ['traces'],
  params: { type: 'object', properties: { trace_id: { type: 'string', minLength: 1 } }, required: ['trace_id'] },
  response: { 200: open({ success: { type: 'boolean' }, trace: { type: 'object', additionalProperties: true } }), ...errors(401, 403, 404) },
} as const;

export const knobsRoute = {
  summary: 'The knob registry: name, type, unit, range, default',
  tags: ['optimizer'],
  response: { 200: open({ success: { type: 'boolean' }, knobs: { type: 'array', items: { type: 'object', additionalProperties: true } } }), ...errors(401, 403) },
} as const;

export const statsRoute = {
  summary: 'Relay and per-station ingest counters, pipeline latency',
  tags: ['relay'],
  querystring: { type: 'object', properties: { reset_latency: { type: 'string', enum: ['1'] } }, additionalProperties: false },
  response: { 200: { type: 'object', additionalProperties: true }, ...errors(401, 403) },
} as const;

// Uploads of offline recordings (protocol/upload.ts). Field values beyond their types
// (codec, rates, timestamps) are checked by the upload service, whose messages name them.
const uploadParams = {
  type: 'object',
  properties: { upload_id: { type: 'string', description: 'chosen by the client: 1-64 of letters, digits, _ . : -' } },
  required: ['upload_id'],
} as const;

const uploadPart = open({ first_index: { type: 'integer' }, end_index: { type: 'integer' }, frames: { type: 'integer' }, bucket_ts: { type: 'array', items: isoTs } });

const uploadState = {
  success: { type: 'boolean' },
  upload_id: { type: 'string' },
  trace_id: { type: 'string' },
  station_key: { type: 'string' },
  label: { type: ['string', 'null'] },
  codec: { type: 'string' },
  sample_rate: { type: 'integer' },
  frame_ms: { type: 'integer' },
  started_at: isoTs,
  packets_received: { type: 'integer', description: 'packet indices the relay has, stored or processed' },
  end_index: { type: 'integer', description: 'one past the highest of them, or 0' },
  parts: { type: 'array', items: uploadPart },
  expired_at: { ...isoTs, type: ['string', 'null'], description: 'when the relay expired the upload (deleted its unprocessed packets), or null' },
} as const;

/** Packet indices (MAX_UPLOAD_PACKET_INDEX of protocol/upload.ts). */
const packetIndex = { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 } as const;

export const uploadCreateRoute = {
  summary: 'Create an upload of an offline recording (201), or confirm it (200)',
  tags: ['uploads'],
  params: uploadParams,
  body: {
    type: 'object',
    properties: {
      codec: { type: 'string' },
      sample_rate: { type: 'integer' },
      channels: { type: 'integer' },
      frame_ms: { type: 'integer' },
      started_at: { ...isoTs, description: 'wall time of the first sample of packet 0' },
      label: { type: 'string' },
    },
    required: ['codec', 'sample_rate', 'channels', 'frame_ms', 'started_at'],
    additionalProperties: false,
  },
  response: { 200: open(uploadState), 201: open(uploadState), ...errors(400, 401, 403, 409) },
} as const;

export const uploadChunkRoute = {
  summary: 'Store a chunk of packets first_index, first_index + 1, ... (application/octet-stream)',
  tags: ['uploads'],
  params: uploadParams,
  querystring: { type: 'object', properties: { first_index: packetIndex }, required: ['first_index'], additionalProperties: false },
  response: {
    200: open({ ...uploadState, accepted: { type: 'integer' }, duplicates: { type: 'integer' } }),
    ...errors(400, 401, 403, 404, 409, 410, 413, 415),
  },
} as const;

export const uploadPartRoute = {
  summary: 'Process a run of stored packets [first_index, end_index) into buckets at their capture times',
  tags: ['uploads'],
  params: uploadParams,
  body: {
    type: 'object',
    properties: { first_index: packetIndex, end_index: { ...packetIndex, maximum: 2 ** 31 } },
    required: ['first_index', 'end_index'],
    additionalProperties: false,
  },
  response: { 200: open(uploadState), ...errors(400, 401, 403, 404, 409, 410, 503) },
} as const;

export const uploadStateRoute = {
  summary: 'An upload\'s state: packets received, parts processed',
  tags: ['uploads'],
  params: uploadParams,
  response: { 200: open(uploadState), ...errors(400, 401, 403, 404) },
} as const;
