/**
 * `GET /api/traces` on a real relay: live traces (one streaming, one ended) from simulated
 * stations, a recorded trace from an offline capture upload, and older traces written to the
 * relay's store with known times, for paging (three share a started_at) and the time filter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceListResponse, TraceSummary } from '../../../protocol/traces.ts';
import { sine } from '../audio/signals.ts';
import type { Scope } from '../auth/scopes.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { call, chunkOf, createBody, opusTone, uploadClient, type Res } from '../testing/upload-client.ts';

const RATE = 16000;
const ms = (iso: string): number => Date.parse(iso);

let t: TestRelay;
let lobby: SimulatedStation;
let streaming: Promise<void> = Promise.resolve();
let liveTrace = '';
let endedTrace = '';
let recordedTrace = '';

/** Traces written straight to the store: [trace_id, started_at, ended_at]. */
const SEEDED: [string, string, string | null][] = [
  ['trace_seed_early', '2025-01-01T00:00:00.000Z', '2025-01-01T00:10:00.000Z'],
  ['trace_seed_mid', '2025-01-01T00:20:00.000Z', '2025-01-01T00:30:00.000Z'],
  ['trace_seed_open', '2025-01-01T00:40:00.000Z', null],
  // Three traces started in the same millisecond: ordered by trace_id.
  ['trace_seed_tie_a', '2025-01-01T01:00:00.000Z', '2025-01-01T01:05:00.000Z'],
  ['trace_seed_tie_b', '2025-01-01T01:00:00.000Z', '2025-01-01T01:05:00.000Z'],
  ['trace_seed_tie_c', '2025-01-01T01:00:00.000Z', '2025-01-01T01:05:00.000Z'],
  ...Array.from({ length: 6 }, (_, i): [string, string, string] => [
    `trace_seed_fill_${i}`,
    `2025-01-01T02:0${i}:00.000Z`,
    `2025-01-01T02:0${i}:30.000Z`,
  ]),
];

const token = (...scopes: Scope[]): string => t.relay.tokens.create(scopes, 'trace-list.test').token;
const list = (query: string, tok: string | null = t.relay.adminToken as string): Promise<Res> => call(t.httpUrl, tok, 'GET', `/api/traces${query}`);

async function page(query: string): Promise<TraceListResponse> {
  const res = await list(query);
  expect(res.status, res.body.toString('utf8')).toBe(200);
  return res.json as TraceListResponse;
}

const ids = (traces: TraceSummary[]): string[] => traces.map((x) => x.trace_id);

/** Every trace the relay has, in the list's order, from the store itself. */
function expectedOrder(): string[] {
  return t.relay.store
    .listTraces()
    .sort((a, b) => b.started_at - a.started_at || (a.trace_id < b.trace_id ? 1 : a.trace_id > b.trace_id ? -1 : 0))
    .map((r) => r.trace_id);
}

function expectRefused(res: Res, status: number, code: string, parameter?: string): void {
  expect(res.status, res.body.toString('utf8')).toBe(status);
  expect(res.json).toMatchObject({ success: false, error: { code } });
  if (parameter !== undefined) expect(res.json.error.message).toMatch(new RegExp(`\\b${parameter}\\b`));
}

beforeAll(async () => {
  t = await startTestRelay({ snapshotMinIntervalMs: 0 });
  const audio = encodeAudio(sine(700, -20, 5, RATE), RATE, 'pcm16');

  // An ended live trace first (it starts earlier than the streaming one), then the streaming one.
  const gone = new SimulatedStation({ url: t.wsUrl, audio, label: 'Gone Phone', durationS: 1 });
  endedTrace = (await gone.connect()).trace_id;
  await runStations([gone]);
  await sleep(20); // a later started_at for the next trace
  lobby = new SimulatedStation({ url: t.wsUrl, audio, label: 'Lobby Phone', durationS: 60 });
  liveTrace = (await lobby.connect()).trace_id;
  streaming = runStations([lobby]);

  // A recorded trace: 5 s of Opus captured offline ten minutes ago, uploaded and processed.
  const up = uploadClient(t.httpUrl, t.relay.adminToken as string);
  expect((await up.create('front-desk', createBody(Date.now() - 10 * 60_000, 'Front Desk Recorder'))).status).toBe(201);
  expect((await up.chunk('front-desk', 0, chunkOf(opusTone(440, -12, 5), 0))).status).toBe(200);
  expect((await up.part('front-desk', 0, 250)).status).toBe(200);
  recordedTrace = (await up.state('front-desk')).json.trace_id;

  for (const [traceId, startedAt, endedAt] of SEEDED) {
    t.relay.store.insertTrace({ trace_id: traceId, kind: 'live', started_at: ms(startedAt), ended_at: endedAt === null ? null : ms(endedAt), call_id: null });
  }

  await waitFor(async () => ((await call(t.httpUrl, t.relay.adminToken as string, 'GET', `/api/traces/${endedTrace}`)).json?.trace?.ended_at ? true : undefined), 10_000, 'the ended trace');
  await waitFor(() => (t.relay.registry.activeTraces().some((a) => a.traceId === liveTrace) ? true : undefined), 10_000, 'the lobby station streaming');
}, 60_000);

afterAll(async () => {
  lobby?.stop();
  await Promise.race([streaming, sleep(5000)]);
  await t?.close();
});

describe('GET /api/traces', () => {
  it('lists every trace newest first (ties by trace_id), with the live one active and the ended one not', async () => {
    const body = await page('');
    expect(body.success).toBe(true);
    expect(body.next_cursor).toBeNull();
    expect(ids(body.traces)).toEqual(expectedOrder());
    expect(body.traces).toHaveLength(SEEDED.length + 3);
    // Newest first: the streaming trace, then the one that ended, then the upload of ten minutes ago.
    expect(ids(body.traces).slice(0, 3)).toEqual([liveTrace, endedTrace, recordedTrace]);
    expect(ids(body.traces).filter((id) => id.startsWith('trace_seed_tie'))).toEqual(['trace_seed_tie_c', 'trace_seed_tie_b', 'trace_seed_tie_a']);

    const [live, ended] = body.traces;
    expect(live).toMatchObject({ trace_id: liveTrace, kind: 'live', active: true, ended_at: null, labels: ['Lobby Phone'], station_count: 1 });
    expect(ended).toMatchObject({ trace_id: endedTrace, kind: 'live', active: false, labels: ['Gone Phone'], station_count: 1 });
    expect(ended.ended_at).not.toBeNull();
    // The same fields as the trace's own details.
    const detail = (await call(t.httpUrl, t.relay.adminToken as string, 'GET', `/api/traces/${endedTrace}`)).json.trace;
    for (const k of ['kind', 'active', 'started_at', 'ended_at', 'first_bucket_ts', 'last_bucket_ts', 'bucket_count'] as const) expect(ended[k], k).toEqual(detail[k]);

    expect(ids((await page('?active=true')).traces)).toEqual([liveTrace]);
    expect(ids((await page('?active=false')).traces)).toEqual(expectedOrder().filter((id) => id !== liveTrace));
  });

  it('finds a recorded trace made by an offline capture upload by its label, in any case, and kind=recorded', async () => {
    const found = (await page('?kind=recorded&label=front%20DESK')).traces;
    expect(ids(found)).toEqual([recordedTrace]);
    expect(found[0]).toMatchObject({ kind: 'recorded', active: false, labels: ['Front Desk Recorder'], station_count: 1 });
    expect(found[0].ended_at).not.toBeNull();
    expect(found[0].bucket_count).toBeGreaterThan(0);
    expect(found[0].first_bucket_ts).not.toBeNull();
    expect(ids((await page('?kind=recorded')).traces)).toEqual([recordedTrace]);
    expect((await page('?kind=live&label=front')).traces).toEqual([]);
    expect(ids((await page('?label=phone')).traces)).toEqual([liveTrace, endedTrace]);
    // The text is matched as it is: % is no wildcard.
    expect((await page('?label=%25')).traces).toEqual([]);
  });

  it('pages through more traces than limit, visiting each exactly once, in order', async () => {
    for (const [query, expected] of [
      ['limit=4', expectedOrder()],
      ['kind=live&limit=2', expectedOrder().filter((id) => id !== recordedTrace)],
    ] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const body: TraceListResponse = await page(`?${query}${cursor === null ? '' : `&cursor=${cursor}`}`);
        expect(body.traces.length).toBeLessThanOrEqual(Number(/limit=(\d+)/.exec(query)?.[1]));
        seen.push(...ids(body.traces));
        cursor = body.next_cursor;
        pages++;
      } while (cursor !== null && pages < 50);
      expect(seen, query).toEqual(expected);
      expect(new Set(seen).size).toBe(seen.length);
      expect(pages).toBe(Math.ceil(expected.length / Number(/limit=(\d+)/.exec(query)?.[1])));
    }
    // A page that ends exactly at the last trace has no next page.
    expect((await page(`?limit=${expectedOrder().length}`)).next_cursor).toBeNull();
    expect((await page(`?limit=${expectedOrder().length - 1}`)).next_cursor).not.toBeNull();
  });

  it('keeps traces overlapping [from, to): started before to, and ended after from or still running', async () => {
    const q = (from: string, to: string): Promise<string[]> => page(`?from=${from}&to=${to}`).then((b) => ids(b.traces));
    expect(await q('2025-01-01T00:25:00.000Z', '2025-01-01T00:45:00.000Z')).toEqual(['trace_seed_open', 'trace_seed_mid']);
    // Both ends exclusive: a trace that ended at from, or started at to, is outside.
    expect(await q('2025-01-01T00:30:00.000Z', '2025-01-01T00:40:00.000Z')).toEqual([]);
    expect(await q('2025-01-01T00:05:00.000Z', '2025-01-01T00:05:00.000Z')).toEqual(['trace_seed_early']);
    // Only from: everything running at or after it, the trace left open included.
    const recent = ids((await page(`?from=2025-06-01T00:00:00.000Z`)).traces);
    expect(recent).toEqual([liveTrace, endedTrace, recordedTrace, 'trace_seed_open']);
    // Only to: everything started before it.
    expect(ids((await page('?to=2025-01-01T00:20:00.001Z')).traces)).toEqual(['trace_seed_mid', 'trace_seed_early']);
  });

  it('needs a token with read:snapshots', async () => {
    expectRefused(await list('', null), 401, 'unauthorized');
    expectRefused(await list('', token('ingest', 'read:audio')), 403, 'forbidden');
    expect((await list('', token('read:snapshots'))).status).toBe(200);
  });

  it('answers a bad query value with a 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['?kind=streamed', 'kind'],
      ['?active=maybe', 'active'],
      ['?limit=0', 'limit'],
      ['?limit=101', 'limit'],
      ['?limit=ten', 'limit'],
      ['?from=yesterday', 'from'],
      ['?to=2026-02-30T00:00:00.000Z', 'to'],
      ['?from=2025-01-02T00:00:00.000Z&to=2025-01-01T00:00:00.000Z', 'from'],
      ['?cursor=not!base64', 'cursor'],
      [`?cursor=${Buffer.from('not json').toString('base64url')}`, 'cursor'],
      [`?cursor=${Buffer.from(JSON.stringify({ started_at: 'soon', trace_id: 'x' })).toString('base64url')}`, 'cursor'],
      ['?label=', 'label'],
      ['?sort=oldest', 'sort'],
    ];
    for (const [query, parameter] of cases) expectRefused(await list(query), 400, 'invalid_request', parameter);
  });
});
