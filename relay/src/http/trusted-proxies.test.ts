/**
 * Clients behind a reverse proxy (TAPWIRE_TRUSTED_PROXIES): the X-Forwarded-For walk on its
 * own, then real relays reached over loopback with forwarding headers. A request that names
 * a forwarded client never gets the loopback relay's no-token access; a trusted proxy's
 * forwarded address is what the per-address caps count; an untrusted peer's header is ignored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';
import { carriesForwardingHeaders, TrustedProxies } from './trusted-proxies.ts';
import { runCommand } from '../testing/relay-command.ts';


describe('TrustedProxies.clientOf', () => {
  const proxies = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);

  it('believes X-Forwarded-For only from a trusted peer', () => {
    expect(proxies.clientOf('127.0.0.1', '203.0.113.5')).toBe('203.0.113.5');
    expect(proxies.clientOf('::ffff:127.0.0.1', '203.0.113.5')).toBe('203.0.113.5');
    expect(proxies.clientOf('192.0.2.1', '203.0.113.5')).toBe('192.0.2.1');
    expect(proxies.clientOf('::ffff:192.0.2.1', '203.0.113.5')).toBe('192.0.2.1');
    expect(proxies.clientOf('127.0.0.1', undefined)).toBe('127.0.0.1');
  });

  it('takes the right-most address that is not a trusted proxy, so a forged left part is skipped', () => {
    expect(proxies.clientOf('127.0.0.1', '6.6.6.6, 203.0.113.5, 10.1.2.3')).toBe('203.0.113.5');
    expect(proxies.clientOf('127.0.0.1', ['6.6.6.6', '203.0.113.5,10.1.2.3'])).toBe('203.0.113.5');
    expect(proxies.clientOf('fd00::1', '2001:db8::7')).toBe('2001:db8::7');
  });

  it('stops at an entry that is not an address: the last hop that wrote one is the client', () => {
    expect(proxies.clientOf('127.0.0.1', 'unknown, 10.0.0.9')).toBe('10.0.0.9');
    expect(proxies.clientOf('127.0.0.1', '203.0.113.5, garbage')).toBe('127.0.0.1');
  });

  it('with every hop trusted, the left-most is the client', () => {
    expect(proxies.clientOf('127.0.0.1', '10.0.0.8, 10.0.0.9')).toBe('10.0.0.8');
  });

  it('trusts nobody when empty', () => {
    const none = new TrustedProxies([]);
    expect(none.any).toBe(false);
    expect(none.clientOf('127.0.0.1', '203.0.113.5')).toBe('127.0.0.1');
  });

  it('refuses an entry that is not an address or block, naming the variable', () => {
    expect(() => new TrustedProxies(['nginx'])).toThrow(/TAPWIRE_TRUSTED_PROXIES.*"nginx"/);
  });

  it('knows the headers a proxy names a client with', () => {
    expect(carriesForwardingHeaders({ 'x-forwarded-for': '1.2.3.4' })).toBe(true);
    expect(carriesForwardingHeaders({ forwarded: 'for=1.2.3.4' })).toBe(true);
    expect(carriesForwardingHeaders({ 'x-real-ip': '1.2.3.4' })).toBe(true);
    expect(carriesForwardingHeaders({ host: 'x', 'x-forwarded-proto': 'https' })).toBe(false);
  });
});

/** A WebSocket upgrade: 101 when it opened (the socket is kept), else the refusal's status and body. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => resolve({ status: 101, body: '', ws }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ws }));
    });
    ws.on('error', () => undefined);
  });
}

const FORWARDED: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.5' }, { forwarded: 'for=203.0.113.5;proto=https' }, { 'x-real-ip': '203.0.113.5' }];

describe('a relay bound to loopback, with no trusted proxy', () => {
  let t: TestRelay;
  beforeAll(async () => {
    t = await startTestRelay();
  });
  afterAll(async () => t?.close());

  it('answers a direct local request to an open-on-loopback route without a token', async () => {
    expect(t.relay.isLoopbackOnly).toBe(true);
    expect((await fetch(`${t.httpUrl}/measurements`)).status).toBe(200);
  });

  it.each(FORWARDED)('asks a request that names a forwarded client (%o) for its token: a local proxy makes everyone look local', async (headers) => {
    const res = await fetch(`${t.httpUrl}/measurements`, { headers });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const ws = await upgrade(`${t.httpUrl.replace('http', 'ws')}/ws/telemetry`, headers);
    expect(ws.status).toBe(401);
    const ok = await fetch(`${t.httpUrl}/measurements`, { headers: { ...headers, authorization: `Bearer ${t.relay.adminToken}` } });
    expect(ok.status).toBe(200);
  });
});

describe('a relay behind a trusted proxy (127.0.0.1)', () => {
  let t: TestRelay;
  let wsBase = '';
  const open: WebSocket[] = [];
  beforeAll(async () => {
    t = await startTestRelay({ trustedProxies: ['127.0.0.1'], maxConnectionsPerAddress: 1 });
    wsBase = `${t.httpUrl.replace('http', 'ws')}/ws/telemetry?token=${t.relay.adminToken}`;
  });
  afterAll(async () => {
    for (const ws of open) ws.terminate();
    await t?.close();
  });

  it('counts as exposed: no route is open without a token, even from loopback with no forwarding header', async () => {
    expect(t.relay.isLoopbackOnly).toBe(false);
    expect((await fetch(`${t.httpUrl}/measurements`)).status).toBe(401);
    expect((await fetch(`${t.httpUrl}/measurements`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } })).status).toBe(200);
  });

  it('caps connections per forwarded client address, not per proxy', async () => {
    const first = await upgrade(wsBase, { 'x-forwarded-for': '203.0.113.5' });
    open.push(first.ws);
    expect(first.status).toBe(101);
    // The same client through a second proxy hop (trusted) and a forged left part: still 203.0.113.5.
    const again = await upgrade(wsBase, { 'x-forwarded-for': '6.6.6.6, 203.0.113.5, 127.0.0.1' });
    expect(again.status).toBe(429);
    expect(JSON.parse(again.body).error.message).toMatch(/^203\.0\.113\.5 has 1 connections open to \/ws\/telemetry/);
    // Another client through the same proxy has its own allowance.
    const other = await upgrade(wsBase, { 'x-forwarded-for': '203.0.113.6' });
    open.push(other.ws);
    expect(other.status).toBe(101);
  });
});

describe('a relay whose trusted proxy is another host', () => {
  let t: TestRelay;
  const open: WebSocket[] = [];
  beforeAll(async () => {
    t = await startTestRelay({ trustedProxies: ['192.0.2.10'], maxConnectionsPerAddress: 1 });
  });
  afterAll(async () => {
    for (const ws of open) ws.terminate();
    await t?.close();
  });

  it('ignores X-Forwarded-For from this peer: the socket address is the client', async () => {
    const url = `${t.httpUrl.replace('http', 'ws')}/ws/telemetry?token=${t.relay.adminToken}`;
    const first = await upgrade(url, { 'x-forwarded-for': '203.0.113.5' });
    open.push(first.ws);
    expect(first.status).toBe(101);
    const second = await upgrade(url, { 'x-forwarded-for': '203.0.113.6' });
    expect(second.status).toBe(429);
    expect(JSON.parse(second.body).error.message).toMatch(/^127\.0\.0\.1 has 1 connections open/);
  });
});

describe('the relay process with a bad TAPWIRE_TRUSTED_PROXIES', () => {
  it('exits 78 with one line naming the variable and the entry', async () => {
    const { code, stderr } = await runCommand('relay/bin/relay.ts', [], { TAPWIRE_PORT: '0', TAPWIRE_TRUSTED_PROXIES: '127.0.0.1,nginx.local' });
    expect(code).toBe(78);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^tapwire: trustedProxies \(TAPWIRE_TRUSTED_PROXIES\) must list .*"nginx\.local" is not an IP address/)]);
  });
});
