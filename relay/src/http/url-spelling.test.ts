/**
 * A route is protected by what it is, not by how its URL is spelled. Raw request lines
 * (nothing normalizes them on the way, as fetch would) for every token-protected route:
 * each character percent-encoded, absolute-form targets, encoded slashes, repeated and dot
 * segments, trailing slashes, other cases, backslashes, broken escapes. Every answer is the
 * documented one (docs/SECURITY.md, "How a URL is matched"): the route's own answer for a
 * spelling the router decodes to it (401 without a token), a 404 envelope for anything
 * else under /api or /ws, a 400 envelope for a broken escape; never a 2xx without a token,
 * never a 5xx.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';
import type { DeclaredRoute } from './access.ts';

let t: TestRelay;
let port = 0;
let routes: DeclaredRoute[] = [];

interface Raw {
  status: number;
  json: { success?: boolean; error?: { code: string } } | null;
}

/** One request with exactly this request target, on its own connection. */
function raw(method: string, requestTarget: string, token: string | null): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      const body = method === 'POST' || method === 'PUT' ? '{}' : '';
      socket.write(
        `${method} ${requestTarget} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
          (token === null ? '' : `Authorization: Bearer ${token}\r\n`) +
          (body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : '') +
          `\r\n${body}`,
      );
    });
    let out = '';
    socket.on('data', (d) => (out += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0);
      const text = out.slice(out.indexOf('\r\n\r\n') + 4);
      let json: Raw['json'] = null;
      try {
        json = JSON.parse(text) as Raw['json'];
      } catch {
        json = null;
      }
      resolve({ status, json });
    });
  });
}

const pct = (c: string, upper: boolean): string => {
  const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
  return `%${upper ? hex.toUpperCase() : hex}`;
};

/** The concrete path of a route: parameters filled in. */
const pathOf = (r: DeclaredRoute): string => r.url.replace(/:[a-z_]+/g, 'x');

// The relay's own app shell, so that an app route answers 200 whether or not `npm run build` ran.
const appDir = mkdtempSync(join(tmpdir(), 'tapwire-app-'));
writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>Tapwire</title>');

beforeAll(async () => {
  t = await startTestRelay({ appDir });
  port = Number(new URL(t.httpUrl).port);
  routes = t.relay.routes.filter((r) => r.access.kind === 'token' && r.method !== 'HEAD');
}, 60_000);

afterAll(async () => {
  await t?.close();
  rmSync(appDir, { recursive: true, force: true });
});

describe('spellings the router decodes to a protected route', () => {
  it('percent-encoding any character of the path (but /), in either case, reaches the route and its check', async () => {
    expect(routes.length).toBeGreaterThanOrEqual(12);
    const admin = t.relay.adminToken as string;
    for (const r of routes) {
      const path = pathOf(r);
      const canonical = await raw(r.method, path, admin);
      expect([401, 403], `${r.method} ${path}`).not.toContain(canonical.status);
      for (let i = 1; i < path.length; i++) {
        if (path[i] === '/') continue;
        for (const upper of [false, true]) {
          const spelled = path.slice(0, i) + pct(path[i], upper) + path.slice(i + 1);
          const without = await raw(r.method, spelled, null);
          expect(without.status, `${r.method} ${spelled} without a token`).toBe(401);
          expect(without.json?.error?.code).toBe('unauthorized');
          const withToken = await raw(r.method, spelled, admin);
          expect(withToken.status, `${r.method} ${spelled} with a token`).toBe(canonical.status);
        }
      }
      // Every character at once.
      const all = path.split('/').map((seg) => [...seg].map((c) => pct(c, false)).join('')).join('/');
      expect((await raw(r.method, all, null)).status, `${r.method} ${all}`).toBe(401);
    }
  });

  it('routes an absolute-form request line by its path, with the same check', async () => {
    for (const r of routes) {
      const path = pathOf(r);
      for (const target of [`http://127.0.0.1:${port}${path}`, `http://elsewhere.example${path}`, `HTTP://X${path.replace('/api', '/%61pi')}`]) {
        expect((await raw(r.method, target, null)).status, `${r.method} ${target}`).toBe(401);
      }
    }
  });
});

describe('spellings that are not a route', () => {
  const variants = (path: string): [string, string][] => {
    const segs = path.split('/').slice(1);
    const out: [string, string][] = [];
    for (let i = 0; i < path.length; i++) if (path[i] === '/' && i > 0) out.push(['encoded slash', path.slice(0, i) + '%2F' + path.slice(i + 1)], ['encoded slash', path.slice(0, i) + '%2f' + path.slice(i + 1)]);
    for (let i = 0; i < path.length; i++) if (path[i] === '/') out.push(['repeated slash', path.slice(0, i) + '/' + path.slice(i)]);
    for (let k = 1; k < segs.length; k++) {
      const before = '/' + segs.slice(0, k).join('/');
      const after = segs.slice(k).join('/');
      out.push(['dot segment', `${before}/./${after}`], ['dot-dot segment', `${before}/x/../${after}`], ['encoded dot-dot', `${before}/x/%2e%2e/${after}`]);
    }
    out.push(['trailing slash', `${path}/`], ['upper case', path.toUpperCase()], ['first letters upper', path.replace(/\/([a-z])/g, (_m, c: string) => `/${c.toUpperCase()}`)]);
    out.push(['backslashes', `/${segs.join('\\')}`], ['semicolon parameter', `${path};x=1`], ['NUL', `${path}%00`], ['double-encoded', path.replace('/api', '/%2561pi')]);
    return out;
  };

  it('answers a 404 envelope (or, where another route matches, its own error), never anything else', async () => {
    const admin = t.relay.adminToken as string;
    for (const r of routes) {
      for (const [kind, spelled] of variants(pathOf(r))) {
        for (const token of [null, admin]) {
          const a = await raw(r.method, spelled, token);
          const label = `${kind}: ${r.method} ${spelled} ${token === null ? 'without' : 'with'} a token`;
          // A double-encoded /api is a literal "%61pi" path: an app route, answered with the shell.
          if (kind === 'double-encoded' && r.method === 'GET') {
            expect(a.status, label).toBe(200);
            expect(a.json, label).toBeNull();
            continue;
          }
          // A spelling may still be another route's path (`/api/traces/active;x=1` is the trace
          // "active;x=1"): then that route's check and answer, never its data.
          expect(token === null ? [401, 404] : [400, 404], label).toContain(a.status);
          expect(a.json, label).toEqual({ success: false, error: { code: expect.any(String), message: expect.any(String) } });
          // Only spellings that keep a prefix and change what follows can meet a parameter route (`x%2Fpackets` is the upload "x/packets").
          if (a.json?.error?.code !== 'not_found') expect(['semicolon parameter', 'NUL', 'trailing slash', 'encoded slash'], label).toContain(kind);
        }
      }
    }
  });

  it('answers a broken escape, or a request target that is not a path, with a 400 envelope', async () => {
    for (const target of ['/api/traces/%E0%A4%A', '/api/traces/%zz', '/%61pi/traces/%', '\\api\\relay\\stats', 'api/relay/stats']) {
      const a = await raw('GET', target, null);
      expect(a.status, target).toBe(400);
      expect(a.json, target).toEqual({ success: false, error: { code: 'invalid_request', message: expect.any(String) } });
    }
  });

  it('tells a plain GET on a WebSocket endpoint to upgrade, in the envelope', async () => {
    for (const target of ['/ws/ingest', '/%77s/ingest', '/ws/telemetry']) {
      const a = await raw('GET', target, null);
      expect(a.status, target).toBe(426);
      expect(a.json?.error?.code, target).toBe('upgrade_required');
    }
  });
});
