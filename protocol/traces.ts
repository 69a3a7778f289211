/**
 * `GET /api/traces`: every trace the relay keeps, live, ended or recorded, newest first, a
 * page at a time. A summary per trace (no per-station detail: `GET /api/traces/:trace_id`
 * has that); its fields are TraceDetail's (api.ts) where TraceDetail has them.
 */
import { TRACE_KINDS, TraceDetail } from './api.ts';
import * as T from './schema.ts';

/** Traces a page holds when the request names no `limit`. */
export const TRACE_LIST_DEFAULT_LIMIT = 50;
/** Most traces one page holds. */
export const TRACE_LIST_MAX_LIMIT = 100;
/** Longest `label` search text, characters. */
export const TRACE_LIST_MAX_LABEL = 256;

const RequestTimestamp = (description: string) => T.String({ description: `${description}: UTC ISO-8601, e.g. 2026-01-03T21:15:00.000Z` });

export const TraceListQuery = T.Object(
  {
    kind: T.Optional(T.Enum([...TRACE_KINDS], { description: 'only traces of this kind' })),
    active: T.Optional(T.Boolean({ description: 'true: only traces with a station streaming now; false: only the others' })),
    label: T.Optional(
      T.String({ minLength: 1, maxLength: TRACE_LIST_MAX_LABEL, description: 'only traces with a station whose label contains this text (ASCII letters in any case)' }),
    ),
    from: T.Optional(RequestTimestamp('only traces still running at or ended after this instant')),
    to: T.Optional(RequestTimestamp('only traces started before this instant')),
    limit: T.Optional(
      T.Integer({ minimum: 1, maximum: TRACE_LIST_MAX_LIMIT, default: TRACE_LIST_DEFAULT_LIMIT, description: `traces per page (default ${TRACE_LIST_DEFAULT_LIMIT})` }),
    ),
    cursor: T.Optional(T.String({ minLength: 1, maxLength: 1024, description: 'the `next_cursor` of the previous page, as it was sent' })),
  },
  { additionalProperties: false },
);
export type TraceListQuery = T.Static<typeof TraceListQuery>;

const detail = TraceDetail.properties;

export const TraceSummary = T.Object({
  trace_id: detail.trace_id,
  kind: detail.kind,
  active: detail.active,
  started_at: detail.started_at,
  ended_at: detail.ended_at,
  labels: T.Array(T.String(), { description: 'the labels of its stations that have one, in the order they joined' }),
  station_count: T.Integer({ minimum: 0 }),
  first_bucket_ts: detail.first_bucket_ts,
  last_bucket_ts: detail.last_bucket_ts,
  bucket_count: detail.bucket_count,
});
export type TraceSummary = T.Static<typeof TraceSummary>;

export const TraceListResponse = T.Object({
  success: T.SuccessTrue,
  traces: T.Array(TraceSummary, { description: 'newest first: started_at descending, then trace_id descending' }),
  next_cursor: T.Nullable(T.String(), 'pass as `cursor` (with the same filters) for the next page; null on the last page'),
});
export type TraceListResponse = T.Static<typeof TraceListResponse>;
