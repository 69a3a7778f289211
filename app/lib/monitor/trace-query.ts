/**
 * The monitor's past-traces search as plain data: the filters a person sets (label text,
 * kind, activity, a local-time range), how they sit in the page's address (so a search can
 * be bookmarked and shared), and the `GET /api/traces` request (protocol/traces.ts) they
 * make. No DOM; the local-time conversion uses the runtime's time zone, as the inputs do.
 */
import { TRACE_LIST_MAX_LABEL, TRACE_LIST_MAX_LIMIT } from '../../../protocol/traces.ts';

export const TRACE_KIND_FILTERS = ['all', 'live', 'recorded'] as const;
export type TraceKindFilter = (typeof TRACE_KIND_FILTERS)[number];
export const TRACE_ACTIVITY_FILTERS = ['all', 'active', 'ended'] as const;
export type TraceActivityFilter = (typeof TRACE_ACTIVITY_FILTERS)[number];

export interface TraceFilters {
  /** Text a station label contains ('' for any). */
  label: string;
  kind: TraceKindFilter;
  activity: TraceActivityFilter;
  /** `<input type="datetime-local">` values (local time, e.g. 2026-01-03T21:15), '' for open. */
  from: string;
  to: string;
}

export const NO_FILTERS: TraceFilters = { label: '', kind: 'all', activity: 'all', from: '', to: '' };

/** Page address parameters, each left out at its default. */
const PARAMS = { label: 'label', kind: 'kind', activity: 'activity', from: 'from', to: 'to' } as const;

/** Page address parameter for the traces per page (1-100; the pager's default when absent). */
export const PAGE_SIZE_PARAM = 'per_page';

/** The page size a page's query asks for, or null when it asks for none or for one out of range. */
export function pageSizeFromQuery(q: URLSearchParams): number | null {
  const v = Number(q.get(PAGE_SIZE_PARAM) ?? NaN);
  return Number.isInteger(v) && v >= 1 && v <= TRACE_LIST_MAX_LIMIT ? v : null;
}

/** A datetime-local value: date, hours and minutes, optional seconds and fraction. */
const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/;

const pick = <T extends string>(value: string | null, choices: readonly T[], fallback: T): T =>
  value !== null && (choices as readonly string[]).includes(value) ? (value as T) : fallback;

/** The filters in a page's query; unknown or malformed values fall back to "any". */
export function filtersFromQuery(q: URLSearchParams): TraceFilters {
  const time = (v: string | null): string => (v !== null && LOCAL_TIME.test(v) ? v : '');
  return {
    label: (q.get(PARAMS.label) ?? '').slice(0, TRACE_LIST_MAX_LABEL),
    kind: pick(q.get(PARAMS.kind), TRACE_KIND_FILTERS, 'all'),
    activity: pick(q.get(PARAMS.activity), TRACE_ACTIVITY_FILTERS, 'all'),
    from: time(q.get(PARAMS.from)),
    to: time(q.get(PARAMS.to)),
  };
}

/**
 * `base` (the page's current query, whose other parameters are kept) with the filters in
 * place of the old ones, defaults left out.
 */
export function filtersToQuery(f: TraceFilters, base: URLSearchParams = new URLSearchParams()): URLSearchParams {
  const q = new URLSearchParams(base);
  const put = (name: string, value: string, fallback: string): void => {
    if (value === fallback) q.delete(name);
    else q.set(name, value);
  };
  put(PARAMS.label, f.label.trim(), '');
  put(PARAMS.kind, f.kind, 'all');
  put(PARAMS.activity, f.activity, 'all');
  put(PARAMS.from, f.from, '');
  put(PARAMS.to, f.to, '');
  return q;
}

export const sameFilters = (a: TraceFilters, b: TraceFilters): boolean =>
  a.label.trim() === b.label.trim() && a.kind === b.kind && a.activity === b.activity && a.from === b.from && a.to === b.to;

/** A datetime-local value as a UTC ISO instant (read in the runtime's time zone), or null when it is no time. */
export function localInputToIso(value: string): string | null {
  if (!LOCAL_TIME.test(value)) return null;
  // Without a zone, ECMAScript reads a date-time form as local time (ECMA-262 §21.4.3.2).
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export type TraceListRequest = { ok: true; path: string } | { ok: false; message: string };

/**
 * The `GET /api/traces` path for these filters, one page of `limit` traces after `cursor`
 * (the previous page's next_cursor), or why the filters cannot be asked for.
 */
export function traceListRequest(f: TraceFilters, opts: { limit?: number; cursor?: string | null } = {}): TraceListRequest {
  const q = new URLSearchParams();
  const label = f.label.trim();
  if (label.length > TRACE_LIST_MAX_LABEL) return { ok: false, message: `The label search is at most ${TRACE_LIST_MAX_LABEL} characters.` };
  if (label !== '') q.set('label', label);
  if (f.kind !== 'all') q.set('kind', f.kind);
  if (f.activity !== 'all') q.set('active', String(f.activity === 'active'));
  const from = f.from === '' ? null : localInputToIso(f.from);
  const to = f.to === '' ? null : localInputToIso(f.to);
  if (f.from !== '' && from === null) return { ok: false, message: `"From" is not a date and time: ${f.from}` };
  if (f.to !== '' && to === null) return { ok: false, message: `"To" is not a date and time: ${f.to}` };
  if (from !== null && to !== null && from > to) return { ok: false, message: '"From" is later than "To": swap them, or clear one.' };
  if (from !== null) q.set('from', from);
  if (to !== null) q.set('to', to);
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > TRACE_LIST_MAX_LIMIT) throw new RangeError(`limit must be an integer in 1-${TRACE_LIST_MAX_LIMIT}, got ${opts.limit}`);
    q.set('limit', String(opts.limit));
  }
  if (opts.cursor) q.set('cursor', opts.cursor);
  const s = q.toString();
  return { ok: true, path: `/api/traces${s ? `?${s}` : ''}` };
}

/** What to tell a person when the list request failed with `status` (0: no answer at all). */
export function traceListErrorText(status: number, relayMessage: string | null): string {
  if (status === 0) return `Could not reach the relay${relayMessage ? ` (${relayMessage})` : ''}. Check the connection and try again.`;
  if (status === 401) return 'Not signed in: listing past traces needs a token with the read:snapshots scope. Open the sign-in link the relay printed.';
  if (status === 403) return 'This token lacks the read:snapshots scope, which listing past traces needs. Sign in with a token that has it.';
  return `The relay refused the search (${status})${relayMessage ? `: ${relayMessage}` : ''}.`;
}

/** A duration for people: "45 s", "12 min 5 s", "3 h 20 min". */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}
