/**
 * Every resource a client can hold has a cap, a timeout and a clear error (docs/SECURITY.md):
 * connections per endpoint and per address, live stations per relay, per address and per
 * trace, a `start` that never comes, a station that goes silent, a peer that stops
 * answering pings. Real relays with small limits, real sockets, several client addresses
 * (127.0.0.x).
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import type { IngestServerMessage } from '../../../protocol/ingest.ts';
import type { RelayConfig } from '../config.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { connectIngest, PCM16_START, type IngestClient } from '../testing/ingest-client.ts';
import { call, createBody } from '../testing/upload-client.ts';

let relays: TestRelay[] = [];
const open: WebSocket[] = [];

async function relay(overrides: Partial<RelayConfig>): Promise<TestRelay> {
  const t = await startTestRelay(overrides);
  relays.push(t);
  return t;
}

afterEach(async () => {
  for (const ws of open.splice(0)) ws.terminate();
  await Promise.all(relays.map((t) => t.close()));
  relays = [];
});

async function client(t: TestRelay, localAddress = '127.0.0.1'): Promise<IngestClient> {
  const c = await connectIngest(t.wsUrl, { localAddress });
  open.push(c.ws);
  return c;
}

/** A 20 ms PCM16 frame at 48 kHz of a constant value. */
function frame(seq: number): Uint8Array {
  return encodeFrame({ timestampMs: seq * 20, sequence: seq & 0xffff, codec: CODEC_IDS.pcm16, flags: 0 }, new Uint8Array(new Int16Array(960).fill(1000).buffer));
}

async function started(c: IngestClient, start: Record<string, unknown> = PCM16_START): Promise<Extract<IngestServerMessage, { type: 'started' }>> {
  c.ws.send(JSON.stringify(start));
  return (await c.next('started')) as Extract<IngestServerMessage, { type: 'started' }>;
}

/** An upgrade's answer: 101, or the refusal's status, Retry-After and body. */
function upgrade(url: string, localAddress = '127.0.0.1'): Promise<{ status: number; retryAfter: string | null; body: any; ws: WebSocket | null }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress });
    ws.on('open', () => {
      open.push(ws);
      resolve({ status: 101, retryAfter: null, body: null, ws });
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: (res.headers['retry-after'] as string) ?? null, body: JSON.parse(text), ws: null }));
    });
    ws.on('error', () => undefined);
  });
}

async function rejections(t: TestRelay): Promise<Record<string, number>> {
  const text = await (await fetch(`${t.httpUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^tapwire_limit_rejections_total\{limit="([a-z_]+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

describe('connection caps', () => {
  it('refuses an ingest upgrade over the relay-wide cap with 503 and Retry-After, over the per-address cap with 429', async () => {
    const t = await relay({ maxIngestConnections: 4, maxConnectionsPerAddress: 3 });
    for (let i = 0; i < 3; i++) expect((await upgrade(t.wsUrl, '127.0.0.1')).status).toBe(101);
    const perAddress = await upgrade(t.wsUrl, '127.0.0.1');
    expect(perAddress).toMatchObject({ status: 429, retryAfter: '10', body: { success: false, error: { code: 'too_many_connections' } } });
    expect(perAddress.body.error.message).toMatch(/127\.0\.0\.1 has 3 connections open to \/ws\/ingest/);
    expect((await upgrade(t.wsUrl, '127.0.0.2')).status).toBe(101);
    const full = await upgrade(t.wsUrl, '127.0.0.3');
    expect(full).toMatchObject({ status: 503, retryAfter: '10', body: { success: false, error: { code: 'relay_busy' } } });
    expect(await rejections(t)).toMatchObject({ ingest_connections: 1, ingest_connections_per_address: 1 });
    // A closed connection gives its slot back.
    open[0].close();
    await waitFor(async () => ((await upgrade(t.wsUrl, '127.0.0.3')).status === 101 ? true : undefined), 5000, 'a slot freed by a close');
  });

  it('caps telemetry clients the same way', async () => {
    const t = await relay({ maxTelemetryClients: 2 });
    const url = `${t.httpUrl.replace('http', 'ws')}/ws/telemetry`;
    expect((await upgrade(url)).status).toBe(101);
    expect((await upgrade(url, '127.0.0.2')).status).toBe(101);
    const third = await upgrade(url, '127.0.0.3');
    expect(third).toMatchObject({ status: 503, retryAfter: '10', body: { error: { code: 'relay_busy' } } });
    expect(t.relay.telemetry.clientCount).toBe(2);
    expect((await rejections(t)).telemetry_clients).toBe(1);
  });
});

describe('station caps', () => {
  it('per client address: the next start gets too_many_stations and close 1013; another address still streams', async () => {
    const t = await relay({ maxStationsPerAddress: 2 });
    for (let i = 0; i < 2; i++) await started(await client(t));
    const third = await client(t);
    third.ws.send(JSON.stringify(PCM16_START));
    const { code, reason } = await third.closed;
    expect(code).toBe(1013);
    expect(reason).toMatch(/limit per client address/);
    expect(third.messages).toEqual([{ type: 'error', code: 'too_many_stations', message: expect.stringMatching(/127\.0\.0\.1 has 2 live stations/) }]);
    await started(await client(t, '127.0.0.2'));
    expect((await rejections(t)).stations_per_address).toBe(1);
  });

  it('per relay and per trace', async () => {
    const t = await relay({ maxLiveStations: 3, maxStationsPerTrace: 2 });
    const first = await started(await client(t, '127.0.0.1'));
    await started(await client(t, '127.0.0.2'), { ...PCM16_START, trace_id: first.trace_id });
    const crowded = await client(t, '127.0.0.3');
    crowded.ws.send(JSON.stringify({ ...PCM16_START, trace_id: first.trace_id }));
    expect((await crowded.closed).code).toBe(1013);
    expect(crowded.messages[0]).toMatchObject({ type: 'error', code: 'trace_full' });
    await started(await client(t, '127.0.0.3'));
    const over = await client(t, '127.0.0.4');
    over.ws.send(JSON.stringify(PCM16_START));
    expect((await over.closed).code).toBe(1013);
    expect(over.messages[0]).toMatchObject({ type: 'error', code: 'relay_full' });
    expect(await rejections(t)).toMatchObject({ stations: 1, stations_per_trace: 1 });
  });

  it('a station that stops gives its place back', async () => {
    const t = await relay({ maxStationsPerAddress: 1 });
    const a = await client(t);
    await started(a);
    a.ws.send(JSON.stringify({ type: 'stop' }));
    await a.closed;
    await started(await client(t));
  });

  it('refuses a live start into a recorded trace (an upload)', async () => {
    const t = await relay({});
    const up = await call(t.httpUrl, t.relay.adminToken, 'PUT', '/api/uploads/field-1', createBody(Date.now() - 60_000));
    expect(up.status).toBe(201);
    const c = await client(t);
    c.ws.send(JSON.stringify({ ...PCM16_START, trace_id: up.json.trace_id }));
    expect((await c.closed).code).toBe(1008);
    expect(c.messages[0]).toMatchObject({ type: 'error', code: 'bad_start', field: 'trace_id', message: expect.stringMatching(/recorded trace/) });
    expect(t.relay.store.getTrace(up.json.trace_id)).toMatchObject({ kind: 'recorded' });
    expect(t.relay.registry.activeTraces()).toEqual([]);
  });
});

describe('timeouts', () => {
  it('closes a connection that sends no start with start_timeout and 4408', async () => {
    const t = await relay({ startTimeoutMs: 400 });
    const c = await client(t);
    const t0 = Date.now();
    const { code, reason } = await c.closed;
    expect(code).toBe(4408);
    expect(reason).toMatch(/no "start" within 400 ms/);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(c.messages).toEqual([{ type: 'error', code: 'start_timeout', message: expect.any(String) }]);
    expect((await rejections(t)).start_timeout).toBe(1);
  });

  it('ends a station that goes silent, finalizes its audio, and closes the connection', async () => {
    const t = await relay({ stationIdleTimeoutMs: 600, bucketGraceMs: 200 });
    const c = await client(t);
    const s = await started(c);
    for (let n = 0; n < 10; n++) {
      c.ws.send(frame(n));
      await sleep(20);
    }
    const { code } = await c.closed;
    expect(code).toBe(4408);
    expect(c.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'idle_timeout', station_key: s.station_key });
    expect(t.relay.store.getStation(s.trace_id, s.station_key)).toMatchObject({ end_reason: 'idle' });
    // Its last bucket is written, as on a disconnect.
    const bucket = await waitFor(() => (t.relay.store.bucketRange(s.trace_id).count > 0 ? t.relay.store.listBuckets(s.trace_id)[0] : undefined), 8000, 'the bucket');
    expect(bucket.ingest.frames_received).toBe(10);
    await waitFor(() => (t.relay.registry.heldCount === 0 ? true : undefined), 2000, 'its place given back');
    expect((await rejections(t)).station_idle).toBe(1);
  });
});

describe('heartbeats', () => {
  it('cuts an ingest peer that stops answering pings; its station ends; a peer that answers stays', async () => {
    const t = await relay({ heartbeatIntervalMs: 300, heartbeatTimeoutMs: 300 });
    const [mute, fine] = [await client(t), await client(t, '127.0.0.2')];
    const [m, f] = [await started(mute), await started(fine)];
    // The mute peer's network goes: it still writes audio, but reads nothing (so sends no pong).
    ((mute.ws as unknown as { _socket: Socket })._socket).pause();
    let n = 0;
    const timer = setInterval(() => {
      mute.ws.send(frame(n));
      fine.ws.send(frame(n));
      n++;
    }, 20);
    try {
      await waitFor(() => (t.relay.store.getStation(m.trace_id, m.station_key)?.end_reason === 'heartbeat_timeout' ? true : undefined), 3000, 'the mute station to end');
      await sleep(1000); // three more ping intervals for the peer that answers
      expect(fine.ws.readyState).toBe(WebSocket.OPEN);
      expect(t.relay.store.getStation(f.trace_id, f.station_key)?.ended_at).toBeNull();
    } finally {
      clearInterval(timer);
    }
    expect((await rejections(t)).heartbeat_timeout).toBe(1);
    ((mute.ws as unknown as { _socket: Socket })._socket).resume();
    expect((await mute.closed).code).toBe(1006);
  });

  it('cuts a telemetry client that stops answering pings', async () => {
    const t = await relay({ heartbeatIntervalMs: 300, heartbeatTimeoutMs: 300 });
    const up = await upgrade(`${t.httpUrl.replace('http', 'ws')}/ws/telemetry`);
    const ws = up.ws as WebSocket;
    await waitFor(() => (t.relay.telemetry.clientCount === 1 ? true : undefined), 2000, 'the client');
    ((ws as unknown as { _socket: Socket })._socket).pause();
    await waitFor(() => (t.relay.telemetry.clientCount === 0 ? true : undefined), 3000, 'the client to be cut');
  });
});

describe('/metrics', () => {
  it('exports the ingress queue depth', async () => {
    const t = await relay({});
    const text = await (await fetch(`${t.httpUrl}/metrics`)).text();
    expect(text).toMatch(/^tapwire_ingress_queue_depth 0$/m);
    expect(text).toMatch(/^tapwire_ingress_queue_depth_max 0$/m);
  });
});
