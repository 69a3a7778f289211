/**
 * What bounds live listening, on real relays: the listener caps (per relay and per client
 * address before the upgrade, in the API's envelope; per stream after it, 1013), the relay's
 * shutdown (`stream_end` "relay shutting down", 1001), heartbeats, and a listener that never
 * reads: it is skipped, then closed with 4008, while a listener that reads keeps the full
 * rate.
 *
 * The listener that never reads is a small Python client (Debian's python3): on loopback the
 * kernel's socket buffers take megabytes before the relay sees anything unsent (its send
 * buffer is sized from loopback's 64 KiB segments), so the client asks for a small receive
 * buffer and 536-byte segments, as a phone on a slow link would have, and the relay's own
 * buffer then fills within seconds.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StartedMessage } from '../../../protocol/ingest.ts';
import { sine } from '../audio/signals.ts';
import { encodeAudio, SimulatedStation } from '../sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { skipWithout } from '../testing/tool-required.ts';
import { ListenClient } from './listen-client.ts';
import { readCluster } from './webm-reader.ts';

const tone = encodeAudio(sine(440, -12, 1, 48000), 48000, 'opus');
const relays: TestRelay[] = [];
const timers: NodeJS.Timeout[] = [];

/** One station streaming in real time until the relay stops. */
async function stream(t: TestRelay, label: string): Promise<StartedMessage> {
  const sim = new SimulatedStation({ url: t.wsUrl, audio: tone, durationS: 600, label });
  const started = await sim.connect();
  const timer = setInterval(() => sim.pump(performance.now()), 5);
  timers.push(timer);
  await waitFor(() => (t.relay.registry.byStream(started.stream_id)?.handle ? true : undefined), 5000, 'the station to stream');
  return started;
}

afterAll(async () => {
  for (const timer of timers) clearInterval(timer);
  await Promise.all(relays.map((r) => r.close()));
});

describe('listener caps, and the relay shutting down', () => {
  it('refuses past each cap with the endpoint caps\' answers, then ends every listener with 1001', async () => {
    const t = await startTestRelay({ maxListeners: 3, maxListenersPerAddress: 2, maxListenersPerStream: 2 });
    relays.push(t);
    const s1 = await stream(t, 'one');
    const s2 = await stream(t, 'two');
    const at = (addr: string, id: string): Promise<ListenClient> => ListenClient.connect(t.httpUrl, `stream_id=${id}`, { localAddress: addr });

    const a1 = await at('127.0.0.1', s1.stream_id);
    const a2 = await at('127.0.0.1', s1.stream_id);
    // A third from the same address: refused before the upgrade, in the API's envelope.
    const a3 = await at('127.0.0.1', s2.stream_id);
    expect(a3.refused?.status).toBe(429);
    expect(a3.refused?.headers['retry-after']).toBe('10');
    expect(JSON.parse(a3.refused?.body ?? '')).toEqual({ success: false, error: { code: 'too_many_connections', message: expect.stringContaining('/ws/listen') } });

    // A third on stream one from another address: the stream is full (after the upgrade: 1013).
    const b1 = await at('127.0.0.2', s1.stream_id);
    expect((await b1.closed).code).toBe(1013);
    expect(b1.texts).toEqual([{ type: 'error', code: 'stream_full', message: expect.stringMatching(/2 listeners, its limit; try again later/) }]);

    const b2 = await at('127.0.0.2', s2.stream_id);
    await b2.binaryCount(1);
    // The fourth on the relay: 503, whoever asks.
    const c1 = await at('127.0.0.3', s2.stream_id);
    expect(c1.refused?.status).toBe(503);
    expect(JSON.parse(c1.refused?.body ?? '')).toMatchObject({ success: false, error: { code: 'relay_busy' } });
    expect(t.relay.limits.get('listeners_per_address')).toBe(1);
    expect(t.relay.limits.get('listeners_per_stream')).toBe(1);
    expect(t.relay.limits.get('listeners')).toBe(1);

    await Promise.all([a1.binaryCount(1), a2.binaryCount(1)]);
    const stopped = t.relay.stop();
    for (const c of [a1, a2, b2]) {
      expect(await c.closed).toEqual({ code: 1001, reason: 'relay shutting down' });
      expect(c.texts.at(-1)).toEqual({ type: 'stream_end', reason: 'relay shutting down' });
    }
    await stopped;
  });
});

describe('heartbeats', () => {
  it('cut a listener that stops answering pings, and count it', async () => {
    const t = await startTestRelay({ heartbeatIntervalMs: 200, heartbeatTimeoutMs: 300 });
    relays.push(t);
    const s = await stream(t, 'beat');
    const url = `${t.httpUrl.replace(/^http/, 'ws')}/ws/listen?stream_id=${s.stream_id}&mode=packets`;
    const mute = new ListenClient(new WebSocket(url, { autoPong: false, perMessageDeflate: false }));
    const alive = await ListenClient.connect(t.httpUrl, `stream_id=${s.stream_id}&mode=packets`);
    await mute.opened;
    expect((await mute.closed).code).toBe(1006);
    await waitFor(() => t.relay.listen.counters.disconnects.get('heartbeat_timeout'), 2000, 'the relay to count the cut');
    expect(t.relay.listen.counters.disconnects.get('heartbeat_timeout')).toBe(1);
    await sleep(600);
    expect(alive.close).toBeNull();
    alive.terminate();
  });
});

const python = '/usr/bin/python3';
const hasPython = spawnSync(python, ['-c', 'import socket'], { stdio: 'ignore' }).status === 0;

/**
 * A WebSocket client that upgrades, prints the status line, then reads nothing until it is
 * told to on stdin; then it reads everything and prints what it got as JSON (binary frames,
 * text messages, the close frame).
 */
const NEVER_READS = String.raw`
import base64, json, os, socket, struct, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
s.connect(('127.0.0.1', port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(('GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n' % (path, port, key)).encode())
data = b''
while b'\r\n\r\n' not in data:
    d = s.recv(4096)
    if not d: break
    data += d
head, _, data = data.partition(b'\r\n\r\n')
print(json.dumps({'status': head.split(b'\r\n')[0].decode()}), flush=True)
sys.stdin.readline()
s.settimeout(5)
try:
    while True:
        d = s.recv(65536)
        if not d: break
        data += d
except (socket.timeout, ConnectionResetError):
    pass
out, i = {'binary': 0, 'texts': [], 'close': None}, 0
while i + 2 <= len(data):
    op, n, h = data[i] & 15, data[i + 1] & 127, 2
    if n == 126: n, h = struct.unpack('>H', data[i + 2:i + 4])[0], 4
    elif n == 127: n, h = struct.unpack('>Q', data[i + 2:i + 10])[0], 10
    if i + h + n > len(data): break
    p = data[i + h:i + h + n]
    if op == 2: out['binary'] += 1
    elif op == 1: out['texts'].append(json.loads(p.decode()))
    elif op == 8: out['close'] = {'code': struct.unpack('>H', p[:2])[0], 'reason': p[2:].decode()}
    i += h + n
print(json.dumps(out), flush=True)
`;

class NeverReadingListener {
  private out = '';
  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  static async connect(httpUrl: string, query: string): Promise<{ l: NeverReadingListener; status: string }> {
    const port = new URL(httpUrl).port;
    const l = new NeverReadingListener(spawn(python, ['-c', NEVER_READS, port, `/ws/listen?${query}`]));
    const first = await waitFor(() => (l.out.includes('\n') ? l.out.split('\n')[0] : undefined), 10_000, 'the upgrade');
    return { l, status: (JSON.parse(first) as { status: string }).status };
  }

  /** Reads what the relay sent: binary frames, text messages, the close frame. */
  async drain(): Promise<{ binary: number; texts: { type: string; code?: string; message?: string }[]; close: { code: number; reason: string } | null }> {
    this.child.stdin.write('go\n');
    const line = await waitFor(() => this.out.split('\n')[1] || undefined, 15_000, 'what the slow listener read');
    return JSON.parse(line);
  }

  kill(): void {
    this.child.kill();
  }
}

describe('a listener that never reads', () => {
  it.skipIf(skipWithout('python3', hasPython))('is skipped, then closed with 4008, while a listener that reads keeps the full rate', async () => {
    // 128 kbit/s: about 16 KB of clusters a second, so the slow socket backs up within seconds.
    const t = await startTestRelay({ listenBitrate: 128_000, listenClusterMs: 200, listenBackedUpMs: 1500, listenJoinBurstMs: 0 });
    relays.push(t);
    const s = await stream(t, 'slow');
    const normal = await ListenClient.connect(t.httpUrl, `stream_id=${s.stream_id}`);
    const { l: slow, status } = await NeverReadingListener.connect(t.httpUrl, `stream_id=${s.stream_id}`);
    try {
      expect(status).toBe('HTTP/1.1 101 Switching Protocols');
      const since = performance.now();
      await waitFor(() => (t.relay.listen.counters.slowClosed > 0 ? true : undefined), 30_000, 'the slow listener to be closed');
      const closedAt = performance.now();
      const got = await slow.drain();
      expect(got.close).toEqual({ code: 4008, reason: expect.stringMatching(/^too slow/) });
      expect(got.texts[0]).toMatchObject({ type: 'stream_metadata' });
      expect(got.texts.at(-1)).toMatchObject({ type: 'error', code: 'too_slow' });
      expect(t.relay.listen.counters.skips).toBeGreaterThan(0);
      expect(t.relay.limits.get('listener_too_slow')).toBe(1);
      // Fewer clusters than were made while it was there: the rest were skipped, not buffered.
      const made = (closedAt - since) / 200;
      expect(got.binary).toBeLessThan(made);

      // The listener that reads got every cluster, consecutive, the whole time.
      const starts = normal.binaries.slice(1).map((b) => readCluster(b).timestampMs);
      for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBe(200);
      expect(starts.length).toBeGreaterThanOrEqual(Math.floor(made) - 2);
      expect(normal.close).toBeNull();
      await sleep(100);
      expect(t.relay.listen.listenerCount).toBe(1);
    } finally {
      slow.kill();
      normal.terminate();
    }
  }, 60_000);
});
