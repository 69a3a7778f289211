/**
 * `GET /api/traces` (protocol/traces.ts): every trace the relay keeps, newest first, a page
 * at a time. Keyset paging: the cursor carries the last row's (started_at, trace_id), so a
 * page is one index range scan however deep it is, and traces started meanwhile never shift
 * a page already read.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { TRACE_LIST_DEFAULT_LIMIT, type TraceListResponse, type TraceSummary } from '../../../protocol/traces.ts';
import { ApiError } from '../errors.ts';
import { needsToken } from '../http/access.ts';
import type { TraceSummaryRow } from '../store/store.ts';
import { isoOf, parseIsoMs } from '../time/bucket-clock.ts';
import type { ApiContext } from './optimizer-routes.ts';
import { traceListRoute } from './schemas.ts';

interface CursorPosition {
  startedAt: number;
  traceId: string;
}

/** base64url of `{"started_at": <epoch ms>, "trace_id": "..."}`: opaque to clients. */
export function encodeCursor(p: CursorPosition): string {
  return Buffer.from(JSON.stringify({ started_at: p.startedAt, trace_id: p.traceId })).toString('base64url');
}

export function decodeCursor(text: string): CursorPosition {
  const refuse = (): never => {
    throw new ApiError('invalid_request', 'cursor is not one this relay gave: pass the next_cursor of the previous page as it was sent, or leave cursor out for the first page');
  };
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return refuse();
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return refuse();
  }
  const o = v as { started_at?: unknown; trace_id?: unknown } | null;
  if (typeof o !== 'object' || o === null || !Number.isSafeInteger(o.started_at) || typeof o.trace_id !== 'string' || o.trace_id === '') return refuse();
  return { startedAt: o.started_at as number, traceId: o.trace_id };
}

function parseTimestamp(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseIsoMs(text);
  if (ms === null) throw new ApiError('invalid_request', `${field} must be an ISO-8601 UTC timestamp such as 2026-01-03T21:15:00.000Z, got "${text}"`);
  return ms;
}

function summary(r: TraceSummaryRow, active: ReadonlySet<string>): TraceSummary {
  return {
    trace_id: r.trace_id,
    kind: r.kind,
    active: active.has(r.trace_id),
    started_at: isoOf(r.started_at),
    ended_at: r.ended_at === null ? null : isoOf(r.ended_at),
    labels: r.labels,
    station_count: r.station_count,
    first_bucket_ts: r.first_bucket_ts === null ? null : isoOf(r.first_bucket_ts),
    last_bucket_ts: r.last_bucket_ts === null ? null : isoOf(r.last_bucket_ts),
    bucket_count: r.bucket_count,
  };
}

export function registerTraceListRoutes(server: FastifyInstance, deps: ApiContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();

  // A static path: fastify's router prefers it to /api/traces/:trace_id and /api/traces/active
  // in any registration order, and it has no trailing segment to collide with them.
  app.get('/api/traces', { schema: traceListRoute, config: { access: needsToken('read:snapshots') } }, async (req): Promise<TraceListResponse> => {
    const q = req.query;
    const fromMs = parseTimestamp(q.from, 'from');
    const toMs = parseTimestamp(q.to, 'to');
    if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) throw new ApiError('invalid_request', `from (${q.from}) must not be later than to (${q.to})`);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    // The schema's default fills it in; the type cannot say so.
    const limit = q.limit ?? TRACE_LIST_DEFAULT_LIMIT;
    // The registry says which traces stream now, as for GET /api/traces/active and /:trace_id.
    const activeIds = deps.registry.activeTraces().map((t) => t.traceId as string);
    // One row more than the page: whether there is a next page, without a second query.
    const rows = deps.store.listTraceSummaries({ kind: q.kind, active: q.active, label: q.label, fromMs, toMs, after }, activeIds, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const active = new Set(activeIds);
    return {
      success: true,
      traces: page.map((r) => summary(r, active)),
      next_cursor: rows.length > limit && last !== undefined ? encodeCursor({ startedAt: last.started_at, traceId: last.trace_id }) : null,
    };
  });
}
