/**
 * The past-traces pager against a real relay: traces written to its store with known times
 * and labelled stations, paged two at a time, filtered, refused without the scope, and a
 * search superseded while its first page is on its way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../../relay/src/auth/scopes.ts';
import { startTestRelay, type TestRelay } from '../../../relay/src/testing/harness.ts';
import { TracePager, type FetchPath, type TracePagerView } from './trace-pager.ts';
import { NO_FILTERS, type TraceFilters } from './trace-query.ts';

let t: TestRelay;
const ms = (iso: string): number => Date.parse(iso);

/** [trace_id, started_at, ended_at, station label]. */
const SEEDED: [string, string, string, string][] = [
  ['trace_p1', '2025-03-01T10:00:00.000Z', '2025-03-01T10:05:00.000Z', 'Lobby Phone'],
  ['trace_p2', '2025-03-01T11:00:00.000Z', '2025-03-01T11:05:00.000Z', 'Front Desk'],
  ['trace_p3', '2025-03-01T12:00:00.000Z', '2025-03-01T12:05:00.000Z', 'Lobby Tablet'],
  ['trace_p4', '2025-03-01T13:00:00.000Z', '2025-03-01T13:05:00.000Z', 'Kitchen'],
  ['trace_p5', '2025-03-01T14:00:00.000Z', '2025-03-01T14:05:00.000Z', 'Lobby Desk'],
];

const fetchWith = (token: string | null, base = t.httpUrl): FetchPath => (path, init) =>
  fetch(base + path, { ...init, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
const token = (...scopes: Scope[]): string => t.relay.tokens.create(scopes, 'trace-pager.test').token;
const f = (over: Partial<TraceFilters>): TraceFilters => ({ ...NO_FILTERS, ...over });

function pager(fetchPath: FetchPath, pageSize = 2): { p: TracePager; views: TracePagerView[] } {
  const views: TracePagerView[] = [];
  return { p: new TracePager(fetchPath, (v) => views.push(v), pageSize), views };
}

beforeAll(async () => {
  t = await startTestRelay();
  for (const [traceId, startedAt, endedAt, label] of SEEDED) {
    t.relay.store.insertTrace({ trace_id: traceId, kind: 'live', started_at: ms(startedAt), ended_at: ms(endedAt), call_id: null });
    t.relay.store.insertStation({
      trace_id: traceId, station_key: 'st_1', label, codec: 'opus', sample_rate: 48000, stream_id: `stream_${traceId}`,
      started_at: ms(startedAt), ended_at: ms(endedAt), end_reason: 'stop', client: 'token:test',
    });
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('TracePager on a real relay', () => {
  it('pages through every trace newest first, two at a time, each once', async () => {
    const { p } = pager(fetchWith(t.relay.adminToken as string));
    await p.search(NO_FILTERS);
    expect(p.view.rows.map((r) => r.trace_id)).toEqual(['trace_p5', 'trace_p4']);
    expect(p.view).toMatchObject({ hasMore: true, loaded: true, loading: false, error: null });
    await p.more();
    await p.more();
    expect(p.view.rows.map((r) => r.trace_id)).toEqual(['trace_p5', 'trace_p4', 'trace_p3', 'trace_p2', 'trace_p1']);
    expect(p.view.hasMore).toBe(false);
    // Nothing more to load: no request, nothing changes.
    const before = p.view;
    await p.more();
    expect(p.view).toBe(before);
    expect(p.view.rows[0]).toMatchObject({ kind: 'live', active: false, labels: ['Lobby Desk'], station_count: 1 });
  });

  it('filters by label and by time, and a new search starts over', async () => {
    const { p } = pager(fetchWith(t.relay.adminToken as string));
    await p.search(f({ label: 'lobby' }));
    await p.more();
    expect(p.view.rows.map((r) => r.trace_id)).toEqual(['trace_p5', 'trace_p3', 'trace_p1']);
    await p.search(f({ label: 'LOBBY', activity: 'active' }));
    expect(p.view).toMatchObject({ rows: [], hasMore: false, loaded: true, error: null });
    // Local times, in whatever zone this runs: 11:30-13:30 UTC overlaps p3 and p4 only.
    const local = (iso: string): string => {
      const d = new Date(iso);
      const pad = (n: number): string => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    };
    await p.search(f({ from: local('2025-03-01T11:30:00.000Z'), to: local('2025-03-01T13:30:00.000Z') }));
    expect(p.view.rows.map((r) => r.trace_id)).toEqual(['trace_p4', 'trace_p3']);
  });

  it('says which scope is missing without a token or without read:snapshots, and when the relay cannot be reached', async () => {
    for (const [tok, status] of [[null, /Not signed in.*read:snapshots/], [token('ingest'), /lacks the read:snapshots scope/]] as const) {
      const { p } = pager(fetchWith(tok));
      await p.search(NO_FILTERS);
      expect(p.view.error).toMatch(status);
      expect(p.view.rows).toEqual([]);
    }
    const { p: ok } = pager(fetchWith(token('read:snapshots')));
    await ok.search(NO_FILTERS);
    expect(ok.view.error).toBeNull();

    // A port nothing listens on (the relay's, after it moved on: a closed listener on 127.0.0.1).
    const { p: off } = pager(fetchWith(t.relay.adminToken as string, 'http://127.0.0.1:9'));
    await off.search(NO_FILTERS);
    expect(off.view.error).toMatch(/^Could not reach the relay/);
  });

  it('refuses a reversed range without asking the relay', async () => {
    let asked = 0;
    const { p } = pager((path, init) => (asked++, fetchWith(t.relay.adminToken as string)(path, init)));
    await p.search(f({ from: '2025-03-02T00:00', to: '2025-03-01T00:00' }));
    expect(asked).toBe(0);
    expect(p.view.error).toMatch(/later than/);
  });

  it('drops the answer of a search a newer one replaced', async () => {
    const real = fetchWith(t.relay.adminToken as string);
    let release: () => void = () => undefined;
    let delivered = false;
    const held = new Promise<void>((r) => (release = r));
    // The first search's answer is held back until the second one has arrived. The signal is
    // not passed on, so the answer does arrive (as one already on its way would) and only the
    // pager's own check keeps it off the page.
    const { p, views } = pager(async (path) => {
      const res = await real(path, { signal: new AbortController().signal });
      if (!path.includes('label=kitchen')) return res;
      // Read in full, then held: a slow network between the relay's answer and the page.
      const text = await res.text();
      await held;
      delivered = true;
      return new Response(text, { status: res.status, headers: res.headers });
    });
    const first = p.search(f({ label: 'kitchen' }));
    await p.search(f({ label: 'front' }));
    release();
    await first;
    expect(delivered).toBe(true);
    expect(p.view.rows.map((r) => r.trace_id)).toEqual(['trace_p2']);
    expect(views.some((v) => v.rows.some((r) => r.trace_id === 'trace_p4'))).toBe(false);
  });
});
