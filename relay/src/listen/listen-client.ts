/**
 * A listener for tests (and debugging): a real `ws` client on `/ws/listen` that keeps every
 * message in order with its arrival time, the close code and reason, and sends the
 * listener's messages. `decodeWebm` plays a received WebM through ffmpeg, as a browser's
 * MSE would, and returns the samples.
 */
import { spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import type { ListenClientMessage, ListenServerMessage } from '../../../protocol/listen.ts';
import { waitFor } from '../testing/harness.ts';

export interface Received {
  /** Arrival, performance.now() ms. */
  atMs: number;
  text: ListenServerMessage | null;
  binary: Buffer | null;
}

export class ListenClient {
  readonly received: Received[] = [];
  close: { code: number; reason: string } | null = null;
  /** The HTTP status of a refused upgrade, with its body. */
  refused: { status: number; headers: Record<string, string | string[] | undefined>; body: string } | null = null;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(
    readonly ws: WebSocket,
  ) {
    ws.on('message', (d, isBinary) => {
      const atMs = performance.now();
      if (isBinary) this.received.push({ atMs, text: null, binary: d as Buffer });
      else this.received.push({ atMs, text: JSON.parse(d.toString()) as ListenServerMessage, binary: null });
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.close = { code, reason: reason.toString() };
        resolve(this.close);
      }),
    );
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          this.refused = { status: res.statusCode ?? 0, headers: res.headers, body };
          resolve();
        });
      });
      ws.once('error', (err) => (this.refused === null ? reject(err) : resolve()));
    });
  }

  /** Opens `/ws/listen?<query>` on a relay (from `localAddress`: another 127.x address is another client). */
  static async connect(httpUrl: string, query: string, opts: { localAddress?: string } = {}): Promise<ListenClient> {
    const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/ws/listen?${query}`, { perMessageDeflate: false, localAddress: opts.localAddress });
    const c = new ListenClient(ws);
    await c.opened;
    return c;
  }

  get texts(): ListenServerMessage[] {
    return this.received.filter((r) => r.text !== null).map((r) => r.text as ListenServerMessage);
  }

  get binaries(): Buffer[] {
    return this.received.filter((r) => r.binary !== null).map((r) => r.binary as Buffer);
  }

  send(msg: ListenClientMessage | string): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Waits until at least `n` binary messages have arrived. */
  async binaryCount(n: number, timeoutMs = 10_000): Promise<Buffer[]> {
    return waitFor(() => (this.binaries.length >= n ? this.binaries : undefined), timeoutMs, `${n} binary messages`);
  }

  async nextText(type: ListenServerMessage['type'], timeoutMs = 10_000): Promise<ListenServerMessage> {
    return waitFor(() => this.texts.find((m) => m.type === type), timeoutMs, `a ${type} message`);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** True when ffmpeg can be run. */
export const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).error === undefined;

/** Decodes a WebM (an init segment and clusters, as a listener received them) with ffmpeg: mono float samples at 48 kHz. */
export function decodeWebm(webm: Uint8Array): Float32Array {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'webm', '-i', 'pipe:0', '-f', 'f32le', '-ac', '1', '-ar', '48000', 'pipe:1'], { input: webm, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg could not decode the WebM: ${r.stderr.toString()}`);
  const out = r.stdout;
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

/** ffprobe's view of a WebM: its stream's codec, rate, channels and start time. */
export function probeWebm(webm: Uint8Array): { codec: string; sampleRate: number; channels: number; startS: number } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-f', 'webm', '-show_entries', 'stream=codec_name,sample_rate,channels,start_time', '-of', 'json', 'pipe:0'], { input: webm });
  if (r.status !== 0) throw new Error(`ffprobe could not read the WebM: ${r.stderr.toString()}`);
  const s = (JSON.parse(r.stdout.toString()) as { streams: { codec_name: string; sample_rate: string; channels: number; start_time: string }[] }).streams[0];
  return { codec: s.codec_name, sampleRate: Number(s.sample_rate), channels: s.channels, startS: Number(s.start_time) };
}
