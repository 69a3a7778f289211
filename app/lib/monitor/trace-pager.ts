/**
 * Pages through `GET /api/traces` for the monitor's past-traces search: a new search starts
 * from the first page and makes any answer still on its way to an older one stale (it is
 * dropped, so a slow page of an old search never shows under new filters); "load more"
 * follows the keyset cursor. Rows are capped: past the cap a person narrows the search
 * rather than the page growing without bound.
 *
 * Plain TypeScript: the fetch is given (the page passes the signed-in session's), and every
 * change is handed to `onChange` as a new value, which the component keeps in a rune.
 */
import type { TraceListResponse, TraceSummary } from '../../../protocol/traces.ts';
import { traceListErrorText, traceListRequest, type TraceFilters } from './trace-query.ts';

/** Traces per page asked for when the page says nothing (the relay's maximum is 100). */
export const TRACE_PAGE_SIZE = 25;
/** Most rows kept on the page. */
export const TRACE_MAX_ROWS = 1000;

export interface TracePagerView {
  rows: readonly TraceSummary[];
  /** Whether the relay has more after the last row (and the cap allows them). */
  hasMore: boolean;
  /** The cap stopped paging. */
  capped: boolean;
  loading: boolean;
  /** At least one page of the current search arrived. */
  loaded: boolean;
  error: string | null;
}

export const EMPTY_PAGER_VIEW: TracePagerView = { rows: [], hasMore: false, capped: false, loading: false, loaded: false, error: null };

/** A 200's body, or an error's (protocol/errors.ts ErrorBody): read at the edge, checked below. */
type ListBody = Partial<TraceListResponse> & { error?: { message?: string } };

export type FetchPath = (path: string, init: { signal: AbortSignal }) => Promise<Response>;

export class TracePager {
  #view: TracePagerView = EMPTY_PAGER_VIEW;
  #filters: TraceFilters | null = null;
  #cursor: string | null = null;
  #abort: AbortController | null = null;
  #closed = false;

  constructor(
    private readonly fetchPath: FetchPath,
    private readonly onChange: (view: TracePagerView) => void,
    private readonly pageSize = TRACE_PAGE_SIZE,
  ) {}

  get view(): TracePagerView {
    return this.#view;
  }

  /** Starts a search from its first page; resolves when that page (or its error) is in. */
  search(filters: TraceFilters): Promise<void> {
    this.#filters = { ...filters };
    this.#cursor = null;
    this.#set({ ...EMPTY_PAGER_VIEW });
    return this.#load();
  }

  /** The next page of the current search; nothing when there is none or one is loading. */
  more(): Promise<void> {
    if (this.#filters === null || this.#view.loading || !this.#view.hasMore) return Promise.resolve();
    return this.#load();
  }

  /** Idempotent: drops what is in flight. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort?.abort();
    this.#abort = null;
  }

  #set(view: TracePagerView): void {
    this.#view = view;
    if (!this.#closed) this.onChange(view);
  }

  async #load(): Promise<void> {
    if (this.#closed || this.#filters === null) return;
    const req = traceListRequest(this.#filters, { limit: this.pageSize, cursor: this.#cursor });
    if (!req.ok) {
      this.#set({ ...this.#view, loading: false, loaded: true, error: req.message });
      return;
    }
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    this.#set({ ...this.#view, loading: true, error: null });

    let status = 0;
    let body: ListBody | null = null;
    let failure: string | null = null;
    try {
      const res = await this.fetchPath(req.path, { signal: abort.signal });
      status = res.status;
      body = (await res.json().catch(() => null)) as ListBody | null;
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
    // A newer search (or close) took over while this one was on its way.
    if (abort !== this.#abort || abort.signal.aborted) return;
    this.#abort = null;

    if (status !== 200 || body === null || !Array.isArray(body.traces) || body.next_cursor === undefined) {
      const message = status === 0 ? failure : (body?.error?.message ?? null);
      this.#set({ ...this.#view, loading: false, loaded: true, error: traceListErrorText(status, message) });
      return;
    }
    const next = body.next_cursor;
    const rows = [...this.#view.rows, ...body.traces].slice(0, TRACE_MAX_ROWS);
    const capped = next !== null && rows.length >= TRACE_MAX_ROWS;
    this.#cursor = next;
    this.#set({ rows, hasMore: next !== null && !capped, capped, loading: false, loaded: true, error: null });
  }
}
