/**
 * The shipped reverse-proxy recipes (docs/DEPLOY.md) with the real programs: Debian's nginx
 * and Caddy, each running its file from deploy/ over TLS, in front of a real relay that
 * trusts 127.0.0.1 as its proxy. Through each: a station streams over wss:// and the relay
 * makes its buckets; a telemetry client receives measurements; the API answers with a token
 * and refuses without one although the proxy connects from loopback; COOP and COEP arrive
 * as the relay sent them; the per-address cap counts the client the proxy names (clients
 * here are other loopback addresses: 127.0.0.2, ...); bodies up to the relay's 1 MiB pass
 * and larger ones are refused.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { MeasurementMessage } from '../../../protocol/telemetry.ts';
import { sine } from '../audio/signals.ts';
import { defaultConfig } from '../config.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { commandPath, httpsRequest, NGINX_CONF, startCaddy, startNginx, type HttpsAnswer, type RunningProxy } from '../testing/reverse-proxy.ts';
import { skipWithout } from '../testing/tool-required.ts';

/** A 1 kHz sine at -20 dBFS peak: each 20 ms frame holds 20 whole periods, RMS -23.01 dBFS. */
const SINE_PEAK_DBFS = -20;
const SINE_RMS_DBFS = SINE_PEAK_DBFS - 10 * Math.log10(2);
const MIB = 1024 * 1024;

/** A WebSocket through the proxy: 101 when it opened (kept in `ws`), else the refusal's status and body. */
function upgrade(url: string, ca: string, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { ca, localAddress, headers });
    ws.on('open', () => resolve({ status: 101, body: '', ws }));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ws }));
    });
    ws.on('error', (err) => resolve({ status: 0, body: err.message, ws }));
  });
}

const errorCode = (a: HttpsAnswer): string => (JSON.parse(a.body) as { error: { code: string } }).error.code;

const PROXIES = [
  { name: 'nginx', present: commandPath('nginx') !== null, start: startNginx },
  { name: 'caddy', present: commandPath('caddy') !== null, start: startCaddy },
] as const;

for (const p of PROXIES) {
  describe.skipIf(skipWithout(`${p.name} (Debian package ${p.name})`, p.present))(`the relay behind ${p.name} (deploy/)`, () => {
    let t: TestRelay;
    let proxy: RunningProxy;
    let token = '';
    const sockets: WebSocket[] = [];
    const get = (path: string, headers: Record<string, string> = {}, localAddress?: string): Promise<HttpsAnswer> => httpsRequest(`${proxy.httpsUrl}${path}`, proxy.ca, { headers, localAddress });
    const bearer = (): Record<string, string> => ({ authorization: `Bearer ${token}` });

    beforeAll(async () => {
      t = await startTestRelay({ trustedProxies: ['127.0.0.1'], maxConnectionsPerAddress: 1, snapshotMinIntervalMs: 0 });
      token = t.relay.adminToken as string;
      proxy = await p.start(Number(new URL(t.httpUrl).port));
    });
    afterAll(async () => {
      for (const ws of sockets) ws.terminate();
      await proxy?.close();
      await t?.close();
    });

    it('passes the relay\'s COOP, COEP and CORP headers through unchanged', async () => {
      const direct = await fetch(`${t.httpUrl}/`);
      const proxied = await get('/');
      expect(proxied.status).toBe(direct.status);
      for (const h of ['cross-origin-opener-policy', 'cross-origin-embedder-policy', 'cross-origin-resource-policy']) {
        expect(proxied.headers[h], h).toBe(direct.headers.get(h));
      }
      expect(proxied.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(proxied.headers['cross-origin-embedder-policy']).toBe('require-corp');
    });

    it('answers the API with a token, and refuses without one although the proxy connects from loopback', async () => {
      const ok = await get('/api/traces', bearer());
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toMatchObject({ success: true });
      const none = await get('/api/traces');
      expect(none.status).toBe(401);
      expect(errorCode(none)).toBe('unauthorized');
      // An open-on-loopback route: the relay is on loopback, but its clients come through the proxy.
      expect((await get('/measurements')).status).toBe(401);
      expect((await get('/measurements', bearer())).status).toBe(200);
      const ws = await upgrade(`${proxy.httpsUrl.replace('https', 'wss')}/ws/telemetry`, proxy.ca, '127.0.0.7');
      expect(ws.status).toBe(401);
    });

    it('carries a station over wss:// /ws/ingest and live meters over /ws/telemetry; the relay writes the buckets', async () => {
      const wss = proxy.httpsUrl.replace('https', 'wss');
      const telemetry = await upgrade(`${wss}/ws/telemetry?token=${token}`, proxy.ca, '127.0.0.4');
      sockets.push(telemetry.ws);
      expect(telemetry.status).toBe(101);
      const measurements: MeasurementMessage[] = [];
      telemetry.ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { type: string };
        if (m.type === 'measurement') measurements.push(m as MeasurementMessage);
      });

      const station = new SimulatedStation({
        url: `${wss}/ws/ingest`,
        audio: encodeAudio(sine(1000, SINE_PEAK_DBFS, 3, 48000), 48000, 'pcm16'),
        stationKey: `${p.name}-station`,
        durationS: 3,
        headers: bearer(),
        socket: { ca: proxy.ca, localAddress: '127.0.0.2' },
      });
      const traceId = (await station.connect()).trace_id;
      await runStations([station]);

      // Live meters reached the telemetry client through the proxy, at the sine's level.
      const metered = measurements.map((m) => m.data.stations[`${p.name}-station`]).filter((s) => s !== undefined && s.PRE.rms_dbfs > -60);
      expect(metered.length).toBeGreaterThan(10);
      expect(Math.max(...metered.map((s) => s.PRE.rms_dbfs))).toBeCloseTo(SINE_RMS_DBFS, 1);

      // The station's buckets, read through the proxy: the PRE level of its frames is the sine's.
      const buckets = await waitFor(
        async () => {
          const snap = await get(`/api/optimizer/snapshot?trace_id=${traceId}&limit=10`, bearer());
          const b = (JSON.parse(snap.body) as { buckets?: { station_key: string; metrics: { PRE: Record<string, { max: number; count: number }> } }[] }).buckets ?? [];
          const mine = b.filter((x) => x.station_key === `${p.name}-station`);
          return mine.reduce((n, x) => n + x.metrics.PRE['pcm.rms_dbfs'].count, 0) >= 140 ? mine : undefined;
        },
        20_000,
        'the station\'s buckets',
      );
      for (const b of buckets) expect(b.metrics.PRE['pcm.rms_dbfs'].max).toBeCloseTo(SINE_RMS_DBFS, 1);
    });

    it('caps connections per client the proxy names, whatever a client forges', async () => {
      const url = `${proxy.httpsUrl.replace('https', 'wss')}/ws/telemetry?token=${token}`;
      const first = await upgrade(url, proxy.ca, '127.0.0.5');
      sockets.push(first.ws);
      expect(first.status).toBe(101);
      // The same client again, claiming another address: the proxy's entry for it is what counts.
      const again = await upgrade(url, proxy.ca, '127.0.0.5', { 'x-forwarded-for': '198.51.100.9' });
      expect(again.status).toBe(429);
      expect(JSON.parse(again.body).error.message).toMatch(/^127\.0\.0\.5 has 1 connections open to \/ws\/telemetry/);
      // Another client through the same proxy has an allowance of its own.
      const other = await upgrade(url, proxy.ca, '127.0.0.6');
      sockets.push(other.ws);
      expect(other.status).toBe(101);
    });

    it('lets a body of the relay\'s 1 MiB limit through and refuses a larger one', async () => {
      const post = (bytes: number, expectContinue = false): Promise<HttpsAnswer> =>
        httpsRequest(`${proxy.httpsUrl}/api/uploads/upl_nothere/packets`, proxy.ca, {
          method: 'POST',
          headers: { ...bearer(), 'content-type': 'application/octet-stream' },
          body: Buffer.alloc(bytes),
          expectContinue,
        });
      const atLimit = await post(MIB);
      expect(atLimit.status).not.toBe(413);
      // The relay's own answer (the upload does not exist), in its envelope.
      expect(JSON.parse(atLimit.body)).toMatchObject({ success: false });
      const refused = (a: HttpsAnswer): void => {
        expect(a.status).toBe(413);
        expect(errorCode(a)).toBe('body_too_large');
        expect(a.headers['content-type']).toMatch(/^application\/json/);
      };
      // Refused by the proxy from its Content-Length, in the relay's envelope, before any body is sent.
      for (let i = 0; i < 3; i++) refused(await post(MIB + 1, true));
      // Sent at once: nginx reads the body and answers. Caddy answers and closes without reading
      // it, so the client may see its connection reset before it reads the 413 (docs/DEPLOY.md);
      // never a 502, never the relay's answer.
      for (let i = 0; i < 3; i++) {
        const a = await post(MIB + 1).catch((err: NodeJS.ErrnoException) => err);
        if (p.name === 'caddy' && a instanceof Error && (a as NodeJS.ErrnoException).code === 'ECONNRESET') continue;
        refused(a as HttpsAnswer);
      }
    });

    it('upgrades /ws/listen and passes the relay\'s close code through', async () => {
      const listen = await upgrade(`${proxy.httpsUrl.replace('https', 'wss')}/ws/listen?stream_id=str_nothere&tap=POST`, proxy.ca, '127.0.0.8');
      expect(listen.status).toBe(101);
      const code = await new Promise<number>((resolve) => listen.ws.once('close', (c) => resolve(c)));
      expect([1008, 4404]).toContain(code);
    });

    if (p.name === 'nginx') {
      it('redirects plain HTTP to HTTPS', async () => {
        const res = await fetch(`${proxy.httpUrl}/capture?x=1`, { redirect: 'manual' });
        expect(res.status).toBe(301);
        expect(res.headers.get('location')).toBe('https://127.0.0.1/capture?x=1');
      });

      it('keeps sockets longer than the relay\'s heartbeat, idle and request timeouts', () => {
        const conf = readFileSync(NGINX_CONF, 'utf8');
        const c = defaultConfig();
        const longest = Math.max(c.heartbeatIntervalMs + c.heartbeatTimeoutMs, c.stationIdleTimeoutMs, 120_000) / 1000;
        for (const key of ['proxy_read_timeout', 'proxy_send_timeout']) {
          const s = Number(new RegExp(`^\\s*${key} (\\d+)s;$`, 'm').exec(conf)?.[1]);
          expect(s, key).toBeGreaterThanOrEqual(longest);
        }
      });
    }
  });
}
