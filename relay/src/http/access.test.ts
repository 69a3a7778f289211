/**
 * Who may use what, over every route the relay registers (its declared access, not a list
 * kept by hand): no token, malformed headers, an unknown and a revoked token, a token of
 * each scope, on a relay bound to loopback only and on an exposed one; WebSocket endpoints
 * by real upgrades. A route that declares no access cannot be registered.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SCOPES, type Scope } from '../auth/scopes.ts';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';
import { installAccessControl, PUBLIC, type DeclaredRoute } from './access.ts';

let lo: TestRelay; // bound to 127.0.0.1
let ex: TestRelay; // bound to 0.0.0.0, reached through 127.0.0.1
let exBase = '';

interface Answer {
  status: number;
  body: string;
}

/** A concrete request for a route pattern: parameters and the wildcard filled in. */
function target(r: DeclaredRoute): string {
  return r.url.replace(/:[a-z_]+/g, 'x').replace(/\*$/, 'capture');
}

async function http(base: string, r: DeclaredRoute, headers: Record<string, string>, query = ''): Promise<Answer> {
  const hasBody = r.method === 'POST' || r.method === 'PUT';
  const res = await fetch(`${base}${target(r)}${query}`, {
    method: r.method,
    headers: { ...headers, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
    body: hasBody ? '{}' : undefined,
  });
  return { status: res.status, body: await res.text() };
}

/** A WebSocket upgrade: 101 when it opened, else the HTTP status of the refusal. */
function upgrade(base: string, r: DeclaredRoute, headers: Record<string, string>, query = ''): Promise<Answer> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}${target(r)}${query}`, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve({ status: 101, body: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => undefined);
  });
}

const call = (base: string, r: DeclaredRoute, headers: Record<string, string>, query = ''): Promise<Answer> =>
  r.websocket ? upgrade(base, r, headers, query) : http(base, r, headers, query);

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const what = (r: DeclaredRoute, how: string, a: Answer): string => `${r.method} ${r.url} ${how}: ${a.status} ${a.body.slice(0, 160)}`;

function expectRefused(a: Answer, status: 401 | 403, label: string): void {
  expect(a.status, label).toBe(status);
  expect(JSON.parse(a.body), label).toEqual({ success: false, error: { code: status === 401 ? 'unauthorized' : 'forbidden', message: expect.any(String) } });
}

function expectAllowed(a: Answer, label: string): void {
  expect([401, 403], label).not.toContain(a.status);
}

/** Whether a token with `scope` may use a route that needs `needed` (null: any valid token). */
const grants = (scope: Scope, needed: Scope | null): boolean => needed === null || scope === needed || scope === 'admin';

let routes: DeclaredRoute[] = [];
let tokens: Record<Scope, string>;
let exTokens: Record<Scope, string>;
let revoked = '';
let exRevoked = '';

beforeAll(async () => {
  [lo, ex] = await Promise.all([startTestRelay(), startTestRelay({ host: '0.0.0.0' })]);
  exBase = `http://127.0.0.1:${new URL(ex.httpUrl).port}`;
  // HEAD routes answer as their GET does; the matrix walks the methods a client uses.
  routes = lo.relay.routes.filter((r) => r.method !== 'HEAD');
  const mint = (t: TestRelay): Record<Scope, string> => Object.fromEntries(SCOPES.map((s) => [s, t.relay.tokens.create([s], `only ${s}`).token])) as Record<Scope, string>;
  tokens = mint(lo);
  exTokens = mint(ex);
  for (const [t, set] of [[lo, (v: string) => (revoked = v)], [ex, (v: string) => (exRevoked = v)]] as const) {
    const { id, token } = t.relay.tokens.create([...SCOPES], 'to revoke');
    t.relay.tokens.revoke(id);
    set(token);
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([lo?.close(), ex?.close()]);
});

describe('declared access', () => {
  it('knows which relay is exposed from the sockets it bound', () => {
    expect(lo.relay.isLoopbackOnly).toBe(true);
    expect(ex.relay.isLoopbackOnly).toBe(false);
  });

  it('covers every route, and every /api route needs a token with a scope it names', () => {
    const urls = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const must of ['GET /healthz', 'GET /ws/ingest', 'GET /ws/listen', 'GET /ws/telemetry', 'GET /measurements', 'GET /metrics', 'GET /api/optimizer/snapshot', 'POST /api/optimizer/knobs/apply', 'PUT /api/uploads/:upload_id/packets', 'GET /*']) {
      expect(urls, must).toContain(must);
    }
    for (const r of routes.filter((x) => x.url.startsWith('/api/'))) {
      expect(r.access.kind, `${r.method} ${r.url}`).toBe('token');
      // The document and the token's own description are for any valid token.
      if (r.url !== '/api/openapi.json' && r.url !== '/api/session') expect(r.access.kind === 'token' && r.access.scope !== null, `${r.method} ${r.url} names a scope`).toBe(true);
    }
    // /ws/listen asks for no token: the stream_id in its query is the capability (docs/SECURITY.md, "Listening").
    expect(routes.filter((r) => r.access.kind === 'public').map((r) => r.url).sort()).toEqual(['/*', '/healthz', '/ws/listen']);
  });

  it('is the table docs/SECURITY.md shows, route by route', () => {
    const doc = readFileSync(new URL('../../../docs/SECURITY.md', import.meta.url), 'utf8');
    const rows = new Map<string, string>();
    for (const m of doc.matchAll(/^\| `(GET|POST|PUT|DELETE) (\S+)`[^|]*\| ([^|]+) \|$/gm)) rows.set(`${m[1]} ${m[2]}`, m[3].trim());
    const expected = (r: DeclaredRoute): RegExp => {
      if (r.access.kind === 'public') return /^anyone$/;
      if (r.access.kind === 'token-beyond-loopback') return new RegExp(`^no token on a loopback-only relay; beyond it \`${r.access.scope}\``);
      return r.access.scope === null ? /^any valid token$/ : new RegExp(`^\`${r.access.scope}\`$`);
    };
    for (const r of routes) {
      const row = rows.get(`${r.method} ${r.url}`);
      expect(row, `${r.method} ${r.url} in docs/SECURITY.md`).toBeDefined();
      expect(row, `${r.method} ${r.url}`).toMatch(expected(r));
    }
    expect(rows.size).toBe(routes.length);
  });

  it('refuses to register a route that declares no access, or an unknown scope, at startup', async () => {
    const app = Fastify();
    installAccessControl(app, { tokens: lo.relay.tokens, exposed: () => true, refuse: (reply) => reply });
    expect(() => app.get('/open', async () => 'x')).toThrow(/declares no access/);
    expect(() => app.get('/odd', { config: { access: { kind: 'token', scope: 'read:everything' } as never } }, async () => 'x')).toThrow(/declares no access/);
    expect(() => app.get('/fine', { config: { access: PUBLIC } }, async () => 'x')).not.toThrow();
    await app.close();
  });
});

describe('the matrix, on a relay bound to loopback', () => {
  it('answers 401 without a token, with a malformed header, an unknown and a revoked token, wherever a token is needed', async () => {
    for (const r of routes) {
      const needs = r.access.kind === 'token';
      const cases: [string, Record<string, string>][] = [
        ['no token', {}],
        ['Basic', { authorization: `Basic ${Buffer.from(`x:${tokens.admin}`).toString('base64')}` }],
        ['no "Bearer"', { authorization: tokens.admin }],
        ['unknown', bearer('tw_notatokennotatokennotatokennotatoken')],
        ['revoked', bearer(revoked)],
      ];
      for (const [how, headers] of cases) {
        const a = await call(lo.httpUrl, r, headers);
        if (needs) expectRefused(a, 401, what(r, how, a));
        else expectAllowed(a, what(r, how, a));
      }
    }
  });

  it('answers 403 to a token without the route\'s scope and lets the right scope (or admin) through', async () => {
    for (const r of routes) {
      for (const scope of SCOPES) {
        const a = await call(lo.httpUrl, r, bearer(tokens[scope]));
        if (r.access.kind === 'token' && !grants(scope, r.access.scope)) expectRefused(a, 403, what(r, scope, a));
        else expectAllowed(a, what(r, scope, a));
      }
    }
  });
});

describe('the matrix, on an exposed relay', () => {
  it('needs a token with the named scope on every route but the public ones, WebSockets and live meters included', async () => {
    for (const r of routes) {
      if (r.access.kind === 'public') {
        expectAllowed(await call(exBase, r, {}), `${r.method} ${r.url} public`);
        continue;
      }
      expectRefused(await call(exBase, r, {}), 401, `${r.method} ${r.url} no token`);
      expectRefused(await call(exBase, r, bearer(exRevoked)), 401, `${r.method} ${r.url} revoked`);
      for (const scope of SCOPES) {
        const a = await call(exBase, r, bearer(exTokens[scope]));
        if (grants(scope, r.access.scope)) expectAllowed(a, what(r, scope, a));
        else expectRefused(a, 403, what(r, scope, a));
      }
    }
  });

  it('takes ?token= only where a browser cannot set a header (WebSockets, live meters)', async () => {
    for (const r of routes) {
      if (r.access.kind === 'public') continue;
      const a = await call(exBase, r, {}, `?token=${encodeURIComponent(exTokens.admin)}`);
      if (r.access.tokenInQuery === true) expectAllowed(a, what(r, '?token=', a));
      else expectRefused(a, 401, what(r, '?token= ignored', a));
    }
  });
});
