/**
 * Live meter telemetry (seed 003) end to end on a real relay: real stations stream
 * real audio, and real clients read `GET /measurements` and `/ws/telemetry`.
 *
 * The main relay, shared by most tests, has small slow-client thresholds (64 KiB for 1 s)
 * so that a client that never reads is closed within seconds. It streams:
 * - `tone`: PCM16 48 kHz, a 1 kHz sine at -12 dBFS peak (-15.01 dBFS RMS), default knobs;
 * - `gain`: the same tone, with +6 dB scheduled from the first sample of a bucket B that
 *   starts while the other tests run;
 * - 60 `load` stations (mu-law 8 kHz, 64-character keys, 120-character labels) that make a
 *   measurement about 34 KB, so a socket that never reads backs up within seconds.
 * Each station is its own trace, so `?trace_id=` narrows a measurement to one station.
 *
 * A second relay, with the same load, keeps the default byte threshold (256 KiB): a client
 * that never reads must be closed there too, not only when the threshold happens to lie
 * below the hub's own send window.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sine } from '../audio/signals.ts';
import { defaultConfig } from '../config.ts';
import type { Measurement, MeasurementMessage, StationMeters, TapMeters } from '../../../protocol/telemetry.ts';
import { CLOSE } from '../errors.ts';
import { encodeAudio, SimulatedStation } from '../sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';

const RATE = 48000;
const TONE_PEAK_DBFS = -12;
const TONE_RMS_DBFS = TONE_PEAK_DBFS - 10 * Math.log10(2); // a sine's RMS is its peak minus 3.01 dB
const GAIN_DB = 6;
const LOAD_STATIONS = 60;
const BACKED_UP_BYTES = 64 * 1024;
const BACKED_UP_MS = 1000;
const HZ = 20;
const BUCKET_MS = 5000;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const TAP_KEYS = ['rms_dbfs', 'peak_dbfs', 'clipping_ratio', 'momentary_lufs', 'short_term_lufs', 'integrated_lufs', 'range_lu', 'true_peak_dbtp'];
/** The only fields that may be null: the station's gated loudness before a block passed the gates. */
const NULLABLE = /^(integrated_lufs|range_lu)$/;
const STATION_KEYS = ['trace_id', 'station_key', 'label', 'PRE', 'POST', 'queue_depth', 'dropped_frames', 'decode_errors', 'config_version', 'qos'];

interface Received {
  seq: number;
  ts: string;
  atMs: number;
}

/** A `/ws/telemetry` client that reads everything, keeping every arrival and the latest payloads. */
class Subscriber {
  readonly ws: WebSocket;
  readonly received: Received[] = [];
  /** The message text of the latest measurements, by seq (at most KEEP). */
  readonly recent = new Map<number, string>();
  openAtMs = 0;
  closeCode: number | null = null;
  private static readonly KEEP = 64;
  private waiters: (() => void)[] = [];

  constructor(httpUrl: string, query = '') {
    this.ws = new WebSocket(`${httpUrl.replace('http', 'ws')}/ws/telemetry${query}`, { perMessageDeflate: false });
    this.ws.on('open', () => (this.openAtMs = performance.now()));
    this.ws.on('message', (data) => {
      const atMs = performance.now();
      const text = data.toString();
      const msg = JSON.parse(text) as { type: string; ts: string; seq: number }; // any TelemetryMessage
      if (msg.type !== 'measurement') return;
      this.received.push({ seq: msg.seq, ts: msg.ts, atMs });
      this.recent.set(msg.seq, text);
      if (this.recent.size > Subscriber.KEEP) this.recent.delete(this.recent.keys().next().value as number);
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    this.ws.on('close', (code) => (this.closeCode = code));
  }

  opened(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  /** Resolves at the next measurement received. */
  next(timeoutMs = 2000): Promise<Received> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no measurement within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(this.received[this.received.length - 1]);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** Parses unmasked server frames (RFC 6455 §5.2) from `buf`; a trailing partial frame is left out. */
function parseFrames(buf: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = [];
  let o = 0;
  while (o + 2 <= buf.length) {
    const opcode = buf[o] & 0x0f;
    let len = buf[o + 1] & 0x7f;
    let h = 2;
    if (len === 126) {
      if (o + 4 > buf.length) break;
      len = buf.readUInt16BE(o + 2);
      h = 4;
    } else if (len === 127) {
      if (o + 10 > buf.length) break;
      len = Number(buf.readBigUInt64BE(o + 2));
      h = 10;
    }
    if (o + h + len > buf.length) break;
    frames.push({ opcode, payload: buf.subarray(o + h, o + h + len) });
    o += h + len;
  }
  return frames;
}

/**
 * A `/ws/telemetry` client that never reads: a raw TCP socket that does the upgrade by hand
 * and then pauses, so the relay's writes pile up in the kernel and then in its own buffers.
 * `drain()` reads what was sent, at the end.
 */
class NeverReadingClient {
  private readonly socket: net.Socket;
  private readonly chunks: Buffer[] = [];
  private ended = false;
  statusLine = '';
  private frameStart = -1;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.chunks.push(d));
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.ended = true));
    socket.on('error', () => (this.ended = true));
  }

  static async connect(httpUrl: string): Promise<NeverReadingClient> {
    const u = new URL(httpUrl);
    const socket = net.connect(Number(u.port), u.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new NeverReadingClient(socket);
    socket.write(
      `GET /ws/telemetry HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    // Read the 101 response (and whatever came with it), then stop reading.
    await waitFor(() => (Buffer.concat(c.chunks).includes('\r\n\r\n') ? true : undefined), 5000, 'the upgrade response');
    socket.pause();
    const head = Buffer.concat(c.chunks);
    const end = head.indexOf('\r\n\r\n');
    c.statusLine = head.subarray(0, head.indexOf('\r\n')).toString();
    c.frameStart = end + 4;
    return c;
  }

  /** Starts reading again and returns every frame received once the relay's close frame (or the end) arrives. */
  async drain(timeoutMs = 5000): Promise<ServerFrame[]> {
    this.socket.resume();
    const frames = (): ServerFrame[] => parseFrames(Buffer.concat(this.chunks).subarray(this.frameStart));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.ended) {
      const f = frames();
      if (f.length > 0 && f[f.length - 1].opcode === 0x8) break;
      await sleep(10);
    }
    return frames();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function getMeasurement(query = '', httpUrl = t.httpUrl): Promise<{ text: string; json: Measurement }> {
  const r = await fetch(`${httpUrl}/measurements${query}`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  const text = await r.text();
  return { text, json: JSON.parse(text) as Measurement };
}

/** Every leaf of `v` is a string or a finite number (JSON turns NaN and ±Infinity into null). */
function leavesAreFinite(v: unknown, path: string): void {
  if (typeof v === 'string') return;
  if (v === null && NULLABLE.test(path.slice(path.lastIndexOf('.') + 1))) return;
  if (typeof v === 'number') {
    expect(Number.isFinite(v), `${path} = ${v}`).toBe(true);
    return;
  }
  expect(v !== null && typeof v === 'object', `${path} is ${JSON.stringify(v)}`).toBe(true);
  for (const [k, child] of Object.entries(v as Record<string, unknown>)) leavesAreFinite(child, `${path}.${k}`);
}

function expectTap(tap: TapMeters, peakDbfs: number, what: string): void {
  expect(Math.abs(tap.peak_dbfs - peakDbfs), `${what} peak ${tap.peak_dbfs}`).toBeLessThanOrEqual(0.2);
  expect(Math.abs(tap.rms_dbfs - (peakDbfs - 10 * Math.log10(2))), `${what} rms ${tap.rms_dbfs}`).toBeLessThanOrEqual(0.2);
  expect(tap.clipping_ratio).toBe(0);
}

/** Stations streaming in real time from one loop until `stop()`. */
class Streaming {
  private running = true;
  private loop: Promise<void> = Promise.resolve();

  constructor(readonly stations: SimulatedStation[]) {}

  async start(): Promise<void> {
    await Promise.all(this.stations.map((s) => s.connect()));
    this.loop = (async () => {
      while (this.running) {
        const now = performance.now();
        for (const s of this.stations) s.pump(now);
        await sleep(4);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    for (const s of this.stations) s.stop();
    await Promise.all(this.stations.map((s) => Promise.race([s.done, sleep(3000)])));
  }
}

/** Stations with long keys and labels, so that a measurement is large (about 560 bytes each). */
function loadStations(wsUrl: string, n: number): SimulatedStation[] {
  const mulaw = encodeAudio(sine(440, -20, 2, 8000), 8000, 'pcmu');
  return Array.from(
    { length: n },
    (_, i) =>
      new SimulatedStation({
        url: wsUrl,
        audio: mulaw,
        stationKey: `load-${i}-`.padEnd(64, 'k'),
        label: `load station ${i} `.padEnd(120, '.'),
        durationS: 3600,
        offsetMs: (i * 20) / n,
      }),
  );
}

/** Raw sockets opened by a test, destroyed after it even if it failed (else the relay's stop waits for them). */
const rawClients: NeverReadingClient[] = [];

let t: TestRelay;
let streaming: Streaming;
let tone: SimulatedStation;
let gain: SimulatedStation;
/** The gain change: +6 dB from the first sample of bucket `gainBucketTs`. */
let gainBucketTs = 0;
let gainScheduled: { ok: boolean; configVersion?: number } = { ok: false };
/** The gain station's measurements from before that bucket to after it, from a `?trace_id=` subscriber. */
let gainWatch: Subscriber | undefined;
const gainSeen: { tsMs: number; m: StationMeters }[] = [];
const toneKey = (): string => tone.started!.station_key;

describe('telemetry on a relay with 62 stations (slow clients: 64 KiB for 1 s)', () => {
  beforeAll(async () => {
    t = await startTestRelay({ telemetryBackedUpBytes: BACKED_UP_BYTES, telemetryBackedUpMs: BACKED_UP_MS, telemetryHz: HZ });
    const pcm = encodeAudio(sine(1000, TONE_PEAK_DBFS, 10, RATE), RATE, 'pcm16');
    tone = new SimulatedStation({ url: t.wsUrl, audio: pcm, label: 'tone', durationS: 3600 });
    gain = new SimulatedStation({ url: t.wsUrl, audio: pcm, label: 'gain', durationS: 3600 });
    streaming = new Streaming([tone, gain, ...loadStations(t.wsUrl, LOAD_STATIONS)]);
    await streaming.start();

    // Every station measured, and the tone's 400 ms loudness window full.
    await waitFor(async () => {
      const m = (await getMeasurement()).json;
      return Object.keys(m.stations).length === streaming.stations.length ? true : undefined;
    }, 10_000, 'every station in /measurements');
    await sleep(600);

    // +6 dB on `gain` from a bucket that starts at least 1.5 s from now; watch it happen.
    const g = gain.started!;
    const watch = new Subscriber(t.httpUrl, `?trace_id=${encodeURIComponent(g.trace_id)}`);
    gainWatch = watch;
    watch.ws.on('message', (d) => {
      const msg = JSON.parse(d.toString()) as MeasurementMessage;
      const m = msg.data.stations[g.station_key];
      if (m !== undefined) gainSeen.push({ tsMs: Date.parse(msg.data.ts), m });
    });
    await watch.opened();
    gainBucketTs = Math.ceil((Date.now() + 1500) / BUCKET_MS) * BUCKET_MS;
    const r = await t.relay.scheduleKnobs({
      traceId: g.trace_id,
      stationKey: g.station_key,
      applyAtBucketTs: gainBucketTs,
      knobs: { 'pcm.input_gain_db': GAIN_DB },
      source: 'test',
      reason: 'telemetry shows a gain step',
      idempotencyKey: null,
      requestHash: null,
    });
    gainScheduled = r.ok ? { ok: true, configVersion: r.configVersion } : { ok: false };
  }, 60_000);

  afterEach(() => {
    for (const c of rawClients.splice(0)) c.destroy();
  });

  afterAll(async () => {
    gainWatch?.close();
    await streaming?.stop();
    await t?.close();
  });

  describe('GET /measurements', () => {
    it('returns {ts, seq, stations} with every station keyed by its station_key, all values finite', async () => {
      const { text, json } = await getMeasurement();
      expect(Object.keys(json).sort()).toEqual(['seq', 'stations', 'ts']);
      expect(json.ts).toMatch(ISO_MS);
      expect(Math.abs(Date.parse(json.ts) - Date.now())).toBeLessThan(1000);
      expect(Number.isInteger(json.seq) && json.seq > 0).toBe(true);
      expect(Object.keys(json.stations).sort()).toEqual(streaming.stations.map((s) => s.started!.station_key).sort());
      for (const s of streaming.stations) {
        const m = json.stations[s.started!.station_key];
        expect(Object.keys(m).sort()).toEqual([...STATION_KEYS].sort());
        expect(Object.keys(m.PRE).sort()).toEqual([...TAP_KEYS].sort());
        expect(Object.keys(m.POST).sort()).toEqual([...TAP_KEYS].sort());
        expect(m.trace_id).toBe(s.started!.trace_id);
        expect(m.station_key).toBe(s.started!.station_key);
        expect(m.label).toBe(s.opts.label);
        for (const k of ['queue_depth', 'dropped_frames', 'decode_errors', 'config_version'] as const) {
          expect(Number.isInteger(m[k]) && m[k] >= 0, `${k} = ${m[k]}`).toBe(true);
        }
      }
      leavesAreFinite(json, 'measurement');
      expect(text.replace(/"(integrated_lufs|range_lu|loss_pct|jitter_ms|jb_delay_ms)":null/g, '')).not.toMatch(/NaN|Infinity|null/);
    });

    it('narrows to one trace with ?trace_id=, and to nothing for a trace that is not live', async () => {
      const { json } = await getMeasurement(`?trace_id=${encodeURIComponent(tone.started!.trace_id)}`);
      expect(Object.keys(json.stations)).toEqual([toneKey()]);
      expect(json.stations[toneKey()].trace_id).toBe(tone.started!.trace_id);
      const none = await getMeasurement('?trace_id=no-such-trace');
      expect(none.json.stations).toEqual({});
      expect(none.json.seq).toBeGreaterThanOrEqual(json.seq);
    });

    it('moves on at the publication rate: seq advances by about 20 a second', async () => {
      const a = (await getMeasurement()).json;
      await sleep(1000);
      const b = (await getMeasurement()).json;
      expect(b.seq - a.seq).toBeGreaterThanOrEqual(18);
      expect(b.seq - a.seq).toBeLessThanOrEqual(22);
      expect(Date.parse(b.ts)).toBeGreaterThan(Date.parse(a.ts));
    });
  });

  describe('/ws/telemetry', () => {
    /** Polls /measurements until it returns a seq the subscriber has received; returns both texts. */
    async function sameSeq(sub: Subscriber, query: string): Promise<{ snapshot: string; message: string }> {
      for (let i = 0; i < 200; i++) {
        const { text, json } = await getMeasurement(query);
        const message = sub.recent.get(json.seq);
        if (message !== undefined) return { snapshot: text, message };
        await sleep(5);
      }
      throw new Error('never saw the same seq over HTTP and WebSocket');
    }

    it('sends as data exactly what GET /measurements returns for the same seq (all traces and one)', async () => {
      const all = new Subscriber(t.httpUrl);
      const one = new Subscriber(t.httpUrl, `?trace_id=${encodeURIComponent(tone.started!.trace_id)}`);
      await Promise.all([all.opened(), one.opened()]);
      for (const [sub, query] of [[all, ''], [one, `?trace_id=${encodeURIComponent(tone.started!.trace_id)}`]] as const) {
        const { snapshot, message } = await sameSeq(sub, query);
        const msg = JSON.parse(message) as MeasurementMessage;
        expect(Object.keys(msg).sort()).toEqual(['data', 'seq', 'ts', 'type']);
        expect(msg.type).toBe('measurement');
        expect(msg.data).toEqual(JSON.parse(snapshot));
        expect(JSON.stringify(msg.data)).toBe(snapshot); // the same JSON, byte for byte
        expect(msg.seq).toBe(msg.data.seq);
        expect(msg.ts).toBe(msg.data.ts);
        expect(Object.keys(msg.data.stations).length).toBe(query === '' ? streaming.stations.length : 1);
      }
      all.close();
      one.close();
    });

    it('sends a new subscriber the latest measurement at once, not at the next publication', async () => {
      const watcher = new Subscriber(t.httpUrl);
      await watcher.opened();
      for (let i = 0; i < 5; i++) {
        // Subscribe just after a publication, so the next one is about 50 ms away.
        const tick = await watcher.next();
        const sub = new Subscriber(t.httpUrl);
        const first = await sub.next();
        const delayMs = first.atMs - sub.openAtMs;
        expect(delayMs, `first measurement ${delayMs.toFixed(1)} ms after open`).toBeLessThan(40);
        // The measurement current when it subscribed, not the next one.
        expect(first.seq).toBe(tick.seq);
        sub.close();
      }
      watcher.close();
    });

    it('delivers about 20 measurements a second to a client that reads, none skipped', async () => {
      const sub = new Subscriber(t.httpUrl);
      const start = await sub.next();
      await sleep(2000);
      const inWindow = sub.received.filter((r) => r.atMs > start.atMs && r.atMs <= start.atMs + 2000);
      expect(inWindow.length).toBeGreaterThanOrEqual(36);
      expect(inWindow.length).toBeLessThanOrEqual(44);
      const seqs = sub.received.map((r) => r.seq);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
      sub.close();
    });

    it('carries the levels of the audio sent: a -12 dBFS 1 kHz sine at PRE, and POST equal to PRE with default knobs', async () => {
      const sub = new Subscriber(t.httpUrl, `?trace_id=${encodeURIComponent(tone.started!.trace_id)}`);
      const seen: StationMeters[] = [];
      sub.ws.on('message', (d) => seen.push((JSON.parse(d.toString()) as MeasurementMessage).data.stations[toneKey()]));
      await sub.opened();
      await waitFor(() => (seen.length >= 10 ? true : undefined), 3000, '10 measurements');
      sub.close();
      for (const m of seen) {
        expectTap(m.PRE, TONE_PEAK_DBFS, 'PRE');
        expect(Math.abs(m.PRE.rms_dbfs - TONE_RMS_DBFS)).toBeLessThanOrEqual(0.2);
        // BS.1770: at 1 kHz the K-weighting gain (+0.69 dB) and the -0.691 offset cancel.
        expect(Math.abs(m.PRE.momentary_lufs - TONE_RMS_DBFS), `lufs ${m.PRE.momentary_lufs}`).toBeLessThanOrEqual(0.2);
        // So do short-term and integrated loudness of a steady tone (EBU Tech 3341 case 1,
        // ±0.1 LU, less 3.01 LU for one channel); a sine's true peak is its peak (+0.2/-0.4 dB).
        expect(Math.abs(m.PRE.short_term_lufs - TONE_RMS_DBFS), `short-term ${m.PRE.short_term_lufs}`).toBeLessThanOrEqual(0.1);
        expect(Math.abs((m.PRE.integrated_lufs ?? NaN) - TONE_RMS_DBFS), `integrated ${m.PRE.integrated_lufs}`).toBeLessThanOrEqual(0.1);
        expect(m.PRE.true_peak_dbtp).toBeGreaterThanOrEqual(TONE_PEAK_DBFS - 0.4);
        expect(m.PRE.true_peak_dbtp).toBeLessThanOrEqual(TONE_PEAK_DBFS + 0.2);
        expect(m.POST).toEqual(m.PRE);
        expect(m.config_version).toBe(0);
        expect(m.dropped_frames).toBe(0);
        expect(m.decode_errors).toBe(0);
        // The jitter buffer holds at most its largest target (60 ms: 3 packets) and a few more of due audio.
        expect(m.queue_depth).toBeLessThanOrEqual(6);
        // Call quality of a clean local sender: nothing lost, the best MOS of the model, GOOD.
        expect(m.qos).toMatchObject({ level: 'GOOD', loss_pct: 0 });
        expect(m.qos!.mos).toBeCloseTo(4.41, 2);
        // A WebSocket station's audio waits for the jitter the buffer measures, up to the 60 ms
        // allowance (no 20 ms floor over TCP), and at most a packet more.
        expect(m.qos!.jb_delay_ms).toBeGreaterThanOrEqual(0);
        expect(m.qos!.jb_delay_ms).toBeLessThanOrEqual(80);
        expect(m.qos!.jitter_ms).toBeGreaterThanOrEqual(0);
      }
    });

    it('shows a scheduled +6 dB in POST and in config_version once its bucket starts, PRE unchanged', async () => {
      expect(gainScheduled.ok).toBe(true);
      await waitFor(() => (Date.now() > gainBucketTs + 800 ? true : undefined), 10_000, 'the gain bucket to be under way');
      // A measurement holds about the last 50-100 ms of audio: keep clear of the boundary.
      const before = gainSeen.filter((s) => s.tsMs < gainBucketTs - 150 && s.tsMs > gainBucketTs - 1500);
      const after = gainSeen.filter((s) => s.tsMs > gainBucketTs + 300);
      expect(before.length).toBeGreaterThanOrEqual(10);
      expect(after.length).toBeGreaterThanOrEqual(5);
      for (const { m } of before) {
        expectTap(m.PRE, TONE_PEAK_DBFS, 'PRE before');
        expectTap(m.POST, TONE_PEAK_DBFS, 'POST before');
        expect(m.config_version).toBe(0);
      }
      for (const { m } of after) {
        expectTap(m.PRE, TONE_PEAK_DBFS, 'PRE after');
        expectTap(m.POST, TONE_PEAK_DBFS + GAIN_DB, 'POST after');
        expect(m.config_version).toBe(gainScheduled.configVersion);
      }
      expect(gainScheduled.configVersion).toBe(1);
    });

    it('closes a client that never reads with 1013 while a client that reads keeps the full rate', async () => {
      const hub = t.relay.telemetry;
      const c0 = { ...hub.counters };
      // Only the gain watcher remains (the other tests' clients have finished closing).
      await waitFor(() => (hub.clientCount === 1 ? true : undefined), 5000, 'earlier clients to close');
      const normal = new Subscriber(t.httpUrl);
      await normal.opened();
      const slow = await NeverReadingClient.connect(t.httpUrl);
      rawClients.push(slow);
      expect(slow.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
      const slowSinceMs = performance.now();
      await waitFor(() => (hub.clientCount === 3 ? true : undefined), 2000, 'both clients to be registered');

      // The relay's writes fill the kernel's buffers (a few MB), then its own past 64 KiB; 1 s later it closes.
      await waitFor(() => (hub.counters.slowClosed > c0.slowClosed ? true : undefined), 30_000, 'the slow client to be closed');
      const closedAtMs = performance.now();
      const frames = await slow.drain();

      const close = frames[frames.length - 1];
      expect(close.opcode).toBe(0x8);
      expect(close.payload.readUInt16BE(0)).toBe(CLOSE.tryAgainLater);
      expect(close.payload.readUInt16BE(0)).toBe(1013);
      expect(close.payload.subarray(2).toString()).toMatch(/too slow/);
      const texts = frames.filter((f) => f.opcode === 0x1);
      expect(texts.length).toBeGreaterThan(10);
      expect(hub.counters.slowClosed - c0.slowClosed).toBe(1);
      expect(hub.counters.dropped - c0.dropped).toBeGreaterThan(0);
      // The relay forgets it (the socket is cut 1 s after the close frame if no reply comes).
      await waitFor(() => (hub.clientCount === 2 ? true : undefined), 5000, 'the slow client to be gone');

      // Meanwhile the reading client got every measurement, at the full rate.
      const windowS = (closedAtMs - slowSinceMs) / 1000;
      const got = normal.received.filter((r) => r.atMs > slowSinceMs && r.atMs <= closedAtMs).length;
      expect(windowS).toBeGreaterThan(1);
      expect(Math.abs(got - windowS * HZ), `${got} measurements in ${windowS.toFixed(2)} s`).toBeLessThanOrEqual(Math.max(2, windowS * HZ * 0.05));
      const seqs = normal.received.map((r) => r.seq);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
      await normal.next();
      expect(normal.closeCode).toBeNull();
      normal.close();
    }, 45_000);
  });
});

describe('a relay at the default slow-client byte threshold (256 KiB, for 1 s)', () => {
  let r: TestRelay;
  let load: Streaming;

  beforeAll(async () => {
    r = await startTestRelay({ telemetryBackedUpMs: BACKED_UP_MS });
    load = new Streaming(loadStations(r.wsUrl, LOAD_STATIONS));
    await load.start();
    await waitFor(async () => {
      const m = (await getMeasurement('', r.httpUrl)).json;
      return Object.keys(m.stations).length === LOAD_STATIONS ? true : undefined;
    }, 10_000, 'every station in /measurements');
  }, 60_000);

  afterEach(() => {
    for (const c of rawClients.splice(0)) c.destroy();
  });

  afterAll(async () => {
    await load?.stop();
    await r?.close();
  });

  it('closes a client that never reads with 1013 (the threshold is the default, not one below the send window)', async () => {
    expect(defaultConfig().telemetryBackedUpBytes).toBe(256 * 1024);
    const hub = r.relay.telemetry;
    const slow = await NeverReadingClient.connect(r.httpUrl);
    rawClients.push(slow);
    // About 34 KB per measurement, 0.7 MB/s: the kernel's buffers (about 4 MB here) fill in about
    // 6 s, the relay's 256 KiB in under half a second more, then 1 s backed up.
    await waitFor(() => (hub.counters.slowClosed === 1 ? true : undefined), 20_000, 'the slow client to be closed');
    const frames = await slow.drain();
    const close = frames[frames.length - 1];
    expect(close.opcode).toBe(0x8);
    expect(close.payload.readUInt16BE(0)).toBe(1013);
  }, 45_000);
});
