/**
 * Seed 000 §9, "Auth", on real relays: every `/api` route needs a bearer token
 * (loopback included) with the scope its route names; the first start's admin token sits
 * in a 0600 file; the ingest WebSocket needs a token with scope `ingest` when the relay
 * listens beyond loopback, and none on a loopback-only relay.
 */
import { statSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sine } from '../audio/signals.ts';
import type { Scope } from '../auth/scopes.ts';
import { encodeAudio, SimulatedStation } from '../sim/simulator.ts';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';

let lo: TestRelay; // listens on 127.0.0.1 only
let ex: TestRelay; // listens on 0.0.0.0 (exposed); reached through 127.0.0.1
let exHttp = '';
let exWs = '';
const audio = encodeAudio(sine(1000, -20, 1, 16000), 16000, 'pcm16');

interface Res {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

async function call(base: string, method: string, path: string, authorization?: string, body?: unknown): Promise<Res> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json: unknown = undefined;
  if ((r.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(text);
  return { status: r.status, headers: r.headers, json, text };
}

function expectError(res: Res, status: number, code: string, what: string): void {
  expect(res.status, `${what}: ${res.status} ${res.text}`).toBe(status);
  expect(res.json, what).toEqual({ success: false, error: { code, message: expect.any(String) } });
  expect(res.json.error.message.trim().length).toBeGreaterThan(0);
}

const APPLY_BODY = {
  trace_id: 'trace_nothere',
  station_key: 'St_1',
  apply_at_bucket_ts: '2030-01-01T00:00:00.000Z',
  idempotency_key: 'auth-test',
  knobs: { 'pcm.input_gain_db': 1 },
};

/** Every /api route: the ones the contract names, plus whatever the OpenAPI document lists. */
let routes: { method: string; path: string; body?: unknown }[] = [];

beforeAll(async () => {
  [lo, ex] = await Promise.all([startTestRelay(), startTestRelay({ host: '0.0.0.0' })]);
  const port = Number(new URL(ex.httpUrl).port);
  expect(port).toBeGreaterThan(0);
  exHttp = `http://127.0.0.1:${port}`;
  exWs = `ws://127.0.0.1:${port}/ws/ingest`;

  routes = [
    { method: 'GET', path: '/api/traces/active' },
    { method: 'GET', path: '/api/optimizer/snapshot?trace_id=trace_nothere' },
    { method: 'GET', path: '/api/optimizer/snapshot' }, // invalid, but auth comes first
    { method: 'GET', path: '/api/audio/segment?trace_id=trace_nothere&station_key=St_1&tap=PRE&bucket_ts=2026-01-03T21:15:00.000Z' },
    { method: 'POST', path: '/api/optimizer/knobs/apply', body: APPLY_BODY },
    { method: 'POST', path: '/api/optimizer/knobs/apply', body: {} },
    { method: 'GET', path: '/api/optimizer/events?trace_id=trace_nothere' },
    { method: 'GET', path: '/api/optimizer/knobs' },
    { method: 'GET', path: '/api/traces/trace_nothere' },
    { method: 'GET', path: '/api/openapi.json' },
    { method: 'GET', path: '/api/relay/stats' },
  ];
  const doc = await call(lo.httpUrl, 'GET', '/api/openapi.json', `Bearer ${lo.relay.adminToken}`);
  expect(doc.status).toBe(200);
  for (const [path, item] of Object.entries(doc.json.paths as Record<string, Record<string, unknown>>)) {
    // The document also describes the health check and the live meters, which are not /api routes.
    if (!path.startsWith('/api/')) continue;
    for (const method of Object.keys(item)) {
      const concrete = path.replace(/\{[^}]+\}/g, 'x');
      if (!routes.some((r) => r.method === method.toUpperCase() && r.path.split('?')[0] === concrete)) {
        routes.push({ method: method.toUpperCase(), path: concrete, body: method === 'get' ? undefined : {} });
      }
    }
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([lo?.close(), ex?.close()]);
});

describe('bearer tokens on /api (seed 000 §9)', () => {
  it('answers 401 without a token on every /api route, loopback included', async () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
    for (const r of routes) expectError(await call(lo.httpUrl, r.method, r.path, undefined, r.body), 401, 'unauthorized', `${r.method} ${r.path}`);
    for (const r of routes) expectError(await call(exHttp, r.method, r.path, undefined, r.body), 401, 'unauthorized', `exposed ${r.method} ${r.path}`);
  });

  it('answers 401 to an unknown token and to a malformed Authorization header', async () => {
    const admin = lo.relay.adminToken as string;
    for (const r of routes) {
      const what = `${r.method} ${r.path}`;
      expectError(await call(lo.httpUrl, r.method, r.path, 'Bearer tw_thisisnotatokenthisisnotatoken', r.body), 401, 'unauthorized', what);
      expectError(await call(lo.httpUrl, r.method, r.path, `Basic ${Buffer.from(`x:${admin}`).toString('base64')}`, r.body), 401, 'unauthorized', what);
      expectError(await call(lo.httpUrl, r.method, r.path, admin, r.body), 401, 'unauthorized', `${what} without "Bearer"`);
    }
  });

  it('answers 401 to a revoked token that worked before', async () => {
    const { id, token } = lo.relay.tokens.create(['read:snapshots', 'read:audio', 'write:knobs'], 'to revoke');
    expect((await call(lo.httpUrl, 'GET', '/api/traces/active', `Bearer ${token}`)).status).toBe(200);
    expect(lo.relay.tokens.revoke(id)).toBe(true);
    for (const r of routes) expectError(await call(lo.httpUrl, r.method, r.path, `Bearer ${token}`, r.body), 401, 'unauthorized', `${r.method} ${r.path}`);
  });

  it('answers 403 to a token without the route\'s scope, and lets the right scope through', async () => {
    const tok = (...scopes: Scope[]): string => `Bearer ${lo.relay.tokens.create(scopes).token}`;
    const snapshots = tok('read:snapshots');
    const audioOnly = tok('read:audio');
    const knobsOnly = tok('write:knobs');
    const ingestOnly = tok('ingest');
    const apply = (auth: string): Promise<Res> => call(lo.httpUrl, 'POST', '/api/optimizer/knobs/apply', auth, APPLY_BODY);
    const snapshot = (auth: string): Promise<Res> => call(lo.httpUrl, 'GET', '/api/optimizer/snapshot?trace_id=trace_nothere', auth);
    const segment = (auth: string): Promise<Res> =>
      call(lo.httpUrl, 'GET', '/api/audio/segment?trace_id=trace_nothere&station_key=St_1&tap=PRE&bucket_ts=2026-01-03T21:15:00.000Z', auth);

    expectError(await apply(snapshots), 403, 'forbidden', 'read:snapshots on apply');
    expectError(await apply(audioOnly), 403, 'forbidden', 'read:audio on apply');
    expectError(await snapshot(knobsOnly), 403, 'forbidden', 'write:knobs on snapshot');
    expectError(await snapshot(audioOnly), 403, 'forbidden', 'read:audio on snapshot');
    expectError(await segment(snapshots), 403, 'forbidden', 'read:snapshots on segment');
    expectError(await segment(knobsOnly), 403, 'forbidden', 'write:knobs on segment');
    expectError(await call(lo.httpUrl, 'GET', '/api/traces/active', knobsOnly), 403, 'forbidden', 'write:knobs on active traces');
    expectError(await call(lo.httpUrl, 'GET', '/api/optimizer/events?trace_id=trace_nothere', audioOnly), 403, 'forbidden', 'read:audio on events');
    expectError(await call(lo.httpUrl, 'GET', '/api/traces/trace_nothere', ingestOnly), 403, 'forbidden', 'ingest on a trace');
    expectError(await snapshot(ingestOnly), 403, 'forbidden', 'ingest on snapshot');
    // The scope is checked before the request itself: a wrong-scope invalid request is 403.
    expectError(await call(lo.httpUrl, 'POST', '/api/optimizer/knobs/apply', snapshots, {}), 403, 'forbidden', 'read:snapshots on an invalid apply');

    // The right scope gets past auth to the handler (an unknown trace is then 404).
    expectError(await apply(knobsOnly), 404, 'trace_not_found', 'write:knobs on apply');
    expectError(await snapshot(snapshots), 404, 'trace_not_found', 'read:snapshots on snapshot');
    expectError(await segment(audioOnly), 404, 'trace_not_found', 'read:audio on segment');
    expect((await call(lo.httpUrl, 'GET', '/api/traces/active', snapshots)).status).toBe(200);
  });

  it('creates the admin token file with mode 0600 on first start; its token has every scope', async () => {
    for (const t of [lo, ex]) {
      const path = join(t.dataDir, 'admin-token');
      expect(t.relay.adminTokenPath).toBe(path);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const token = readFileSync(path, 'utf8').trim();
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect(token).toBe(t.relay.adminToken);
      const base = t === lo ? lo.httpUrl : exHttp;
      const auth = `Bearer ${token}`;
      expect((await call(base, 'GET', '/api/traces/active', auth)).status).toBe(200);
      expect((await call(base, 'GET', '/api/relay/stats', auth)).status).toBe(200);
      expectError(await call(base, 'GET', '/api/optimizer/snapshot?trace_id=trace_nothere', auth), 404, 'trace_not_found', 'admin on snapshot');
      expectError(
        await call(base, 'GET', '/api/audio/segment?trace_id=trace_nothere&station_key=St_1&tap=PRE&bucket_ts=2026-01-03T21:15:00.000Z', auth),
        404,
        'trace_not_found',
        'admin on segment',
      );
      expectError(await call(base, 'POST', '/api/optimizer/knobs/apply', auth, APPLY_BODY), 404, 'trace_not_found', 'admin on apply');
    }
    // The store keeps hashes, never the token itself.
    const stored = JSON.stringify(lo.relay.store.db.prepare('SELECT * FROM tokens').all());
    expect(stored.includes(lo.relay.adminToken as string)).toBe(false);
  });
});

type Upgrade = { kind: 'open'; ws: WebSocket } | { kind: 'refused'; status: number; body: string };

/** Opens a WebSocket, reporting an HTTP refusal of the upgrade with its status and body. */
function upgrade(url: string, headers?: Record<string, string>): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve({ kind: 'open', ws }));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ kind: 'refused', status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

async function expectRefused(url: string, status: number, code: string, headers?: Record<string, string>): Promise<void> {
  const r = await upgrade(url, headers);
  if (r.kind === 'open') r.ws.terminate();
  expect(r.kind, `${url} should be refused`).toBe('refused');
  if (r.kind !== 'refused') return;
  expect(r.status).toBe(status);
  expect(JSON.parse(r.body)).toEqual({ success: false, error: { code, message: expect.any(String) } });
}

/** A real station: connect, `start`, `started`, then stop. */
async function startsStreaming(url: string, headers?: Record<string, string>): Promise<void> {
  const st = new SimulatedStation({ url, audio, headers, durationS: 0.2 });
  const started = await st.connect();
  expect(started.type).toBe('started');
  expect(started.trace_id).toMatch(/^trace_/);
  st.stop();
  await st.done;
}

describe('the ingest WebSocket ("Auth")', () => {
  it('on an exposed relay, refuses an upgrade without a token (401) or with an unknown one (401)', async () => {
    await expectRefused(exWs, 401, 'unauthorized');
    await expectRefused(`${exWs}?token=tw_thisisnotatokenthisisnotatoken`, 401, 'unauthorized');
    await expectRefused(exWs, 401, 'unauthorized', { authorization: 'Bearer tw_thisisnotatokenthisisnotatoken' });
    const { id, token } = ex.relay.tokens.create(['ingest']);
    ex.relay.tokens.revoke(id);
    await expectRefused(`${exWs}?token=${token}`, 401, 'unauthorized');
  });

  it('on an exposed relay, accepts a token with scope ingest in ?token= or in the Authorization header', async () => {
    const { token } = ex.relay.tokens.create(['ingest'], 'field tester');
    await startsStreaming(`${exWs}?token=${encodeURIComponent(token)}`);
    await startsStreaming(exWs, { authorization: `Bearer ${token}` });
  });

  it('on an exposed relay, refuses a token without scope ingest with 403', async () => {
    const { token } = ex.relay.tokens.create(['read:snapshots', 'read:audio', 'write:knobs']);
    await expectRefused(`${exWs}?token=${token}`, 403, 'forbidden');
    await expectRefused(exWs, 403, 'forbidden', { authorization: `Bearer ${token}` });
  });

  it('on a loopback-only relay, needs no token', async () => {
    await startsStreaming(lo.wsUrl);
    const { token } = lo.relay.tokens.create(['ingest']);
    await startsStreaming(`${lo.wsUrl}?token=${token}`);
  });
});
