import { describe, expect, it } from 'vitest';
import { TRACE_LIST_MAX_LABEL } from '../../../protocol/traces.ts';
import { filtersFromQuery, pageSizeFromQuery, filtersToQuery, formatDurationMs, localInputToIso, NO_FILTERS, sameFilters, traceListErrorText, traceListRequest, type TraceFilters } from './trace-query.ts';

const f = (over: Partial<TraceFilters>): TraceFilters => ({ ...NO_FILTERS, ...over });
const params = (path: string): URLSearchParams => new URL(path, 'http://x').searchParams;

describe('past-traces filters in the page address', () => {
  it('round-trips every filter and leaves defaults out', () => {
    const all = f({ label: 'Front Desk', kind: 'recorded', activity: 'ended', from: '2026-01-03T21:15', to: '2026-01-04T08:00:30' });
    const q = filtersToQuery(all);
    expect(q.toString()).toBe('label=Front+Desk&kind=recorded&activity=ended&from=2026-01-03T21%3A15&to=2026-01-04T08%3A00%3A30');
    expect(filtersFromQuery(q)).toEqual(all);
    expect(filtersToQuery(NO_FILTERS).toString()).toBe('');
    expect(filtersFromQuery(new URLSearchParams())).toEqual(NO_FILTERS);
  });

  it('keeps the page\'s other parameters and removes filters set back to their default', () => {
    const q = filtersToQuery(f({ kind: 'all', label: '  ' }), new URLSearchParams('kind=live&label=x&view=compact'));
    expect(q.toString()).toBe('view=compact');
  });

  it('reads unknown or malformed values as "any"', () => {
    const got = filtersFromQuery(new URLSearchParams(`kind=streamed&activity=maybe&from=yesterday&to=2026-01-03&label=${'a'.repeat(300)}`));
    expect(got).toEqual(f({ label: 'a'.repeat(TRACE_LIST_MAX_LABEL) }));
  });

  it('reads a page size in 1-100 and ignores others', () => {
    expect(pageSizeFromQuery(new URLSearchParams('per_page=3'))).toBe(3);
    for (const bad of ['', 'per_page=0', 'per_page=101', 'per_page=2.5', 'per_page=ten']) expect(pageSizeFromQuery(new URLSearchParams(bad)), bad).toBeNull();
  });

  it('compares filters ignoring spaces around the label', () => {
    expect(sameFilters(f({ label: ' lobby ' }), f({ label: 'lobby' }))).toBe(true);
    expect(sameFilters(f({ kind: 'live' }), NO_FILTERS)).toBe(false);
  });
});

describe('GET /api/traces requests', () => {
  it('asks for nothing when nothing is set', () => {
    expect(traceListRequest(NO_FILTERS)).toEqual({ ok: true, path: '/api/traces' });
  });

  it('maps each filter to the relay\'s parameter', () => {
    const r = traceListRequest(f({ label: ' front desk ', kind: 'live', activity: 'ended' }), { limit: 2, cursor: 'abc_-' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.path.startsWith('/api/traces?')).toBe(true);
    expect(Object.fromEntries(params(r.path))).toEqual({ label: 'front desk', kind: 'live', active: 'false', limit: '2', cursor: 'abc_-' });
    const active = traceListRequest(f({ activity: 'active' }));
    expect(active.ok && params(active.path).get('active')).toBe('true');
  });

  it('sends the local-time range as UTC instants', () => {
    const r = traceListRequest(f({ from: '2026-01-03T21:15', to: '2026-01-03T22:00:30' }));
    if (!r.ok) throw new Error(r.message);
    const p = params(r.path);
    // The same instants as the local times, read in this runtime's zone.
    expect(Date.parse(p.get('from') as string)).toBe(new Date(2026, 0, 3, 21, 15).getTime());
    expect(Date.parse(p.get('to') as string)).toBe(new Date(2026, 0, 3, 22, 0, 30).getTime());
    expect(p.get('from')).toMatch(/Z$/);
  });

  it('refuses a range that ends before it starts, and times that are none', () => {
    expect(traceListRequest(f({ from: '2026-01-04T00:00', to: '2026-01-03T00:00' }))).toEqual({ ok: false, message: expect.stringContaining('later than') });
    expect(traceListRequest(f({ from: 'soon' }))).toEqual({ ok: false, message: expect.stringContaining('"From"') });
    expect(traceListRequest(f({ to: '2026-13-45T99:00' }))).toEqual({ ok: false, message: expect.stringContaining('"To"') });
    expect(traceListRequest(f({ label: 'x'.repeat(TRACE_LIST_MAX_LABEL + 1) })).ok).toBe(false);
    expect(localInputToIso('')).toBeNull();
  });

  it('refuses a page size the relay would refuse', () => {
    expect(() => traceListRequest(NO_FILTERS, { limit: 0 })).toThrow(RangeError);
    expect(() => traceListRequest(NO_FILTERS, { limit: 101 })).toThrow(RangeError);
  });
});

describe('error texts and durations', () => {
  it('says which scope is missing on 401 and 403, and what failed otherwise', () => {
    expect(traceListErrorText(401, null)).toMatch(/read:snapshots/);
    expect(traceListErrorText(401, null)).toMatch(/sign-in/);
    expect(traceListErrorText(403, 'token lacks scope')).toMatch(/lacks the read:snapshots scope/);
    expect(traceListErrorText(0, 'Failed to fetch')).toBe('Could not reach the relay (Failed to fetch). Check the connection and try again.');
    expect(traceListErrorText(400, 'cursor is not one this relay gave')).toBe('The relay refused the search (400): cursor is not one this relay gave.');
  });

  it('formats durations', () => {
    expect(formatDurationMs(44_600)).toBe('45 s');
    expect(formatDurationMs(725_000)).toBe('12 min 5 s');
    expect(formatDurationMs(120_000)).toBe('2 min');
    expect(formatDurationMs(3 * 3600_000 + 20 * 60_000 + 10_000)).toBe('3 h 20 min');
    expect(formatDurationMs(-1)).toBe('–');
  });
});
