/**
 * The optimizer contract's JSON (seed 000 §5): what the relay's REST API accepts and answers,
 * declared once as schemas. The relay validates requests and generates its OpenAPI document
 * from them; the reference optimizer, the app, the benchmarks and the tests use the types
 * derived from them.
 *
 * Request schemas are closed (an unknown field is a 400); response schemas declare every
 * field the relay sends, and clients should ignore fields they do not know.
 */
import { KnobPatch, KnobSpec, KnobValues } from './knobs.ts';
import { BucketMetrics, Tap } from './metrics.ts';
import * as T from './schema.ts';

const TraceId = T.String({ minLength: 1, description: 'e.g. trace_abc123' });
const StationKey = T.String({ minLength: 1, description: 'e.g. St_3_3333' });
/** A timestamp the client sends; the relay parses it and says what is wrong with it. */
const RequestTimestamp = (description: string) => T.String({ description: `${description}: UTC ISO-8601, e.g. 2026-01-03T21:15:00.000Z` });

// §5.1 -------------------------------------------------------------------------------------

export const ActiveTrace = T.Object({
  trace_id: T.String(),
  started_at: T.IsoTimestamp(),
  src_extension: T.Nullable(T.String(), 'the label of the trace\'s first live station, or null'),
  dst_extension: T.Nullable(T.String(), 'the label of its second live station, or null'),
  call_id: T.Optional(T.Nullable(T.String())),
  stations: T.Array(T.String(), { description: 'live station keys, in the order they joined' }),
});
export type ActiveTrace = T.Static<typeof ActiveTrace>;

export const ActiveTracesResponse = T.Object({ success: T.SuccessTrue, active: T.Array(ActiveTrace) });
export type ActiveTracesResponse = T.Static<typeof ActiveTracesResponse>;

// §5.2 -------------------------------------------------------------------------------------

/** Buckets a snapshot returns when the request names no `limit`. */
export const SNAPSHOT_DEFAULT_LIMIT = 1;
/** Most buckets one snapshot returns. */
export const SNAPSHOT_MAX_LIMIT = 100;

export const SnapshotQuery = T.Object(
  {
    trace_id: TraceId,
    since_bucket_ts: T.Optional(RequestTimestamp('only buckets strictly after this one')),
    limit: T.Optional(
      T.Integer({
        minimum: 1,
        maximum: SNAPSHOT_MAX_LIMIT,
        default: SNAPSHOT_DEFAULT_LIMIT,
        description: 'buckets to return (each with every station\'s entry)',
      }),
    ),
    station_key: T.Optional(StationKey),
  },
  { additionalProperties: false },
);
export type SnapshotQuery = T.Static<typeof SnapshotQuery>;

const SegmentLink = T.Object({ endpoint: T.String({ description: 'the GET /api/audio/segment path of this bucket\'s audio' }) });

/** One (bucket, station) entry of a snapshot: metrics, knobs and audio of the same bucket. */
export const SnapshotEntry = T.Object({
  bucket_ts: T.IsoTimestamp('start of the bucket, on a 5 s boundary'),
  bucket_ms: T.Integer({ description: 'bucket length, ms (5000)' }),
  station_key: T.String(),
  knobs_snapshot: KnobValues,
  metrics: BucketMetrics,
  audio: T.Object({ PRE: SegmentLink, POST: SegmentLink }),
  config_version: T.Integer({ minimum: 0 }),
  last_knob_event_id: T.Nullable(T.Integer(), 'the latest knob event in force during the bucket, or null'),
});
export type SnapshotEntry = T.Static<typeof SnapshotEntry>;

export const SnapshotResponse = T.Object({ success: T.SuccessTrue, trace_id: T.String(), buckets: T.Array(SnapshotEntry) });
export type SnapshotResponse = T.Static<typeof SnapshotResponse>;

// §5.3 -------------------------------------------------------------------------------------

/**
 * Rates a segment can be resampled to (`rate=`). Seed 000 §5.3's example answers 16000, so
 * an optimizer written to it may assume 16 kHz; without `rate` a segment keeps its station's
 * own rate.
 */
export const SEGMENT_RATES = [8000, 16000, 48000] as const;
export type SegmentRate = (typeof SEGMENT_RATES)[number];

export const SegmentQuery = T.Object(
  {
    trace_id: TraceId,
    station_key: StationKey,
    tap: Tap,
    bucket_ts: RequestTimestamp('the bucket'),
    // An integer with an enum rather than a union of literals, so that the query string's
    // text coerces to a number before the enum is checked.
    rate: T.Optional(
      T.Unsafe<SegmentRate>({
        type: 'integer',
        enum: [...SEGMENT_RATES],
        description: 'resample to this rate, Hz (band-limited; X-Sample-Rate and the WAV header say it); default: the station\'s own rate',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SegmentQuery = T.Static<typeof SegmentQuery>;

/** A change should reach the relay this long before its bucket starts, ms (seed 000 §5.4: later than the bucket in progress). */
export const APPLY_MIN_LEAD_MS = 1500;

/**
 * Start of the next bucket a change made at `nowMs` can catch: the next boundary, or the one
 * after when the next is less than `leadMs` away.
 */
export function nextApplyBucketMs(nowMs: number, bucketMs: number, leadMs = APPLY_MIN_LEAD_MS): number {
  let at = (Math.floor(nowMs / bucketMs) + 1) * bucketMs;
  if (at - nowMs < leadMs) at += bucketMs;
  return at;
}

/** The `GET /api/audio/segment` path of a bucket's audio at one tap (a snapshot entry's `audio.<tap>.endpoint`). */
export function segmentEndpoint(traceId: string, stationKey: string, tap: 'PRE' | 'POST', bucketTsMs: number): string {
  const q = new URLSearchParams({ trace_id: traceId, station_key: stationKey, tap, bucket_ts: new Date(bucketTsMs).toISOString() });
  return `/api/audio/segment?${q.toString().replace(/%3A/g, ':')}`;
}

// §5.4 -------------------------------------------------------------------------------------

export const ApplyRequest = T.Object(
  {
    trace_id: TraceId,
    station_key: StationKey,
    apply_at_bucket_ts: RequestTimestamp('the bucket from whose first sample the knobs apply: on a 5 s boundary, later than the bucket in progress'),
    idempotency_key: T.String({ minLength: 1, maxLength: 200, description: 'the same key and body return the first answer' }),
    source: T.Optional(T.String({ maxLength: 200, description: 'who asks (stored with the knob event)' })),
    reason: T.Optional(T.String({ maxLength: 2000, description: 'why (stored with the knob event)' })),
    knobs: KnobPatch,
  },
  { additionalProperties: false },
);
export type ApplyRequest = T.Static<typeof ApplyRequest>;

export const ApplyResponse = T.Object({
  success: T.SuccessTrue,
  accepted: T.Boolean(),
  apply_at_bucket_ts: T.IsoTimestamp(),
  config_version: T.Integer({ minimum: 1, description: 'the station\'s configuration version once this change applies' }),
  effective_knobs: T.Object(KnobPatch.properties, { description: 'the knobs as they will apply, clamped to their ranges' }),
});
export type ApplyResponse = T.Static<typeof ApplyResponse>;

// The knob event log ------------------------------------------------------------------------

/** Most events one page returns. */
export const EVENTS_MAX_LIMIT = 1000;

export const EventsQuery = T.Object(
  {
    trace_id: TraceId,
    station_key: T.Optional(StationKey),
    after_id: T.Optional(T.Integer({ minimum: 0, description: 'only events with a larger id (paging: the last id seen)' })),
    limit: T.Optional(T.Integer({ minimum: 1, maximum: EVENTS_MAX_LIMIT, description: 'events to return at most, oldest first (default: all)' })),
  },
  { additionalProperties: false },
);
export type EventsQuery = T.Static<typeof EventsQuery>;

/** One entry of `GET /api/optimizer/events`. */
export const KnobEvent = T.Object({
  id: T.Integer({ minimum: 1 }),
  created_at: T.IsoTimestamp(),
  apply_at_bucket_ts: T.IsoTimestamp(),
  station_key: T.String(),
  knobs_requested: T.Object(KnobPatch.properties, { description: 'the knobs as requested (before clamping)' }),
  knobs_effective: T.Object(KnobPatch.properties, { description: 'the knobs as they applied' }),
  source: T.Nullable(T.String()),
  reason: T.Nullable(T.String()),
  config_version: T.Integer({ minimum: 1 }),
  idempotency_key: T.Nullable(T.String()),
  superseded_by: T.Nullable(
    T.Integer(),
    'the event that replaced this change before its bucket started (a later apply for an earlier or the same bucket: the latest request wins), or null when it took effect',
  ),
});
export type KnobEvent = T.Static<typeof KnobEvent>;

export const EventsResponse = T.Object({ success: T.SuccessTrue, trace_id: T.String(), events: T.Array(KnobEvent) });
export type EventsResponse = T.Static<typeof EventsResponse>;

// The knob registry -------------------------------------------------------------------------

export const KnobsResponse = T.Object({ success: T.SuccessTrue, knobs: T.Array(KnobSpec) });
export type KnobsResponse = T.Static<typeof KnobsResponse>;
