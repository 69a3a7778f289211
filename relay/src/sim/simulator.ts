/**
 * Field testers, simulated: N WebSocket clients streaming the same audio to `/ws/ingest`,
 * paced in real time (or `speed` times faster), each with the seed 004 frame header.
 * The audio is encoded once and the packets shared, so hundreds of stations cost little.
 * Used by `npm run simulate`, the integration tests and the benchmarks.
 */
import WebSocket, { type ClientOptions } from 'ws';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import type { IngestCodec, IngestServerMessage, StartedMessage } from '../../../protocol/ingest.ts';
import { encodeAlaw, encodeMulaw } from '../media/codecs/g711.ts';
import { float32ToInt16 } from '../../../worklets/dsp/pcm.ts';
import { OpusFrameEncoder } from '../media/codecs/opus-encoder.ts';

export interface EncodedAudio {
  codec: IngestCodec;
  sampleRate: number;
  frameMs: number;
  packets: Uint8Array[];
}

/** Cuts mono audio into frames and encodes each (a last partial frame is padded with silence). */
export function encodeAudio(audio: Float32Array, sampleRate: number, codec: IngestCodec, frameMs = 20, bitrate = 32000): EncodedAudio {
  const frameSamples = (sampleRate * frameMs) / 1000;
  if (!Number.isInteger(frameSamples)) throw new TypeError(`${frameMs} ms at ${sampleRate} Hz is not a whole number of samples`);
  const opus = codec === 'opus' ? new OpusFrameEncoder({ sampleRate, bitrate, frameMs: frameMs as 20 }) : null;
  const packets: Uint8Array[] = [];
  const pcm = new Int16Array(frameSamples);
  for (let start = 0; start < audio.length; start += frameSamples) {
    pcm.fill(0);
    float32ToInt16(audio, pcm, Math.min(frameSamples, audio.length - start), start, 0);
    if (opus) packets.push(opus.encode(pcm));
    else if (codec === 'pcmu') packets.push(encodeMulaw(pcm));
    else if (codec === 'pcma') packets.push(encodeAlaw(pcm));
    else packets.push(new Uint8Array(pcm.slice().buffer));
  }
  opus?.close();
  return { codec, sampleRate, frameMs, packets };
}

export interface StationOptions {
  url: string;
  audio: EncodedAudio;
  traceId?: string;
  stationKey?: string;
  label?: string;
  /** Pacing factor: 1 is real time; 2 sends twice as fast (to provoke backpressure). */
  speed?: number;
  /** Stop after this many seconds (default: the audio's length); the audio loops. */
  durationS?: number;
  /** Delay before the first frame, in ms (spreads many stations over a frame period). */
  offsetMs?: number;
  /** Extra headers for the WebSocket upgrade (auth). */
  headers?: Record<string, string>;
  /** The socket's TLS trust and source address (a relay behind a proxy with a local CA, a client of its own address). */
  socket?: Pick<ClientOptions, 'ca' | 'localAddress'>;
  /** A poor network: every `dropEvery`-th frame is never sent (its sequence number is skipped; 10: 10 % loss). */
  dropEvery?: number;
  /** A poor network: each frame leaves up to this much later than due, uniformly at random, ms (in order). */
  sendJitterMs?: number;
}

/** One simulated field tester. */
export class SimulatedStation {
  readonly messages: IngestServerMessage[] = [];
  started: StartedMessage | null = null;
  framesSent = 0;
  /** Frames never sent (`dropEvery`). */
  framesSkipped = 0;
  /** The next frame's number (sent or skipped). */
  private nextFrame = 0;
  bytesSent = 0;
  closeCode: number | null = null;
  private ws: WebSocket | null = null;
  private t0 = 0;
  private readonly totalFrames: number;
  /** The random delay of the next frame (sendJitterMs), drawn once per frame. */
  private nextDelayMs = -1;
  private doneResolve!: () => void;
  /** Resolves when the station has sent everything and stopped, or was closed. */
  readonly done: Promise<void>;

  constructor(readonly opts: StationOptions) {
    const duration = opts.durationS ?? (opts.audio.packets.length * opts.audio.frameMs) / 1000;
    this.totalFrames = Math.round((duration * 1000) / opts.audio.frameMs);
    this.done = new Promise((r) => (this.doneResolve = r));
  }

  /** Connects and sends `start`; resolves with the relay's `started`. */
  connect(): Promise<StartedMessage> {
    const { audio } = this.opts;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.opts.url, { ...this.opts.socket, headers: this.opts.headers, perMessageDeflate: false });
      this.ws = ws;
      ws.on('open', () => {
        ws.send(
          JSON.stringify({
            type: 'start',
            codec: audio.codec,
            sample_rate: audio.sampleRate,
            channels: 1,
            frame_ms: audio.frameMs,
            ...(this.opts.traceId ? { trace_id: this.opts.traceId } : {}),
            ...(this.opts.stationKey ? { station_key: this.opts.stationKey } : {}),
            ...(this.opts.label ? { label: this.opts.label } : {}),
          }),
        );
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const msg = JSON.parse(data.toString()) as IngestServerMessage;
        this.messages.push(msg);
        if (msg.type === 'started' && this.started === null) {
          this.started = msg;
          resolve(msg);
        } else if (msg.type === 'error' && this.started === null) {
          reject(new Error(`${msg.code}: ${msg.message}`));
        }
      });
      ws.on('close', (code) => {
        this.closeCode = code;
        if (this.started === null) reject(new Error(`closed with ${code} before started`));
        this.doneResolve();
      });
      ws.on('error', (err) => {
        if (this.started === null) reject(err);
      });
    });
  }

  /** Sends the frames that are due by `nowMs`; returns false when finished. */
  pump(nowMs: number): boolean {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return false;
    const { audio } = this.opts;
    if (this.t0 === 0) this.t0 = nowMs + (this.opts.offsetMs ?? 0);
    const elapsed = (nowMs - this.t0) * (this.opts.speed ?? 1);
    if (elapsed < 0) return true;
    const jitterMs = this.opts.sendJitterMs ?? 0;
    const codecId = CODEC_IDS[audio.codec];
    while (this.nextFrame < this.totalFrames) {
      const n = this.nextFrame;
      if (this.nextDelayMs < 0) this.nextDelayMs = Math.random() * jitterMs;
      // Frame n is due at n·frameMs of media time, plus its network delay.
      if (elapsed < n * audio.frameMs + this.nextDelayMs * (this.opts.speed ?? 1)) break;
      this.nextDelayMs = -1;
      this.nextFrame++;
      if (this.opts.dropEvery !== undefined && n % this.opts.dropEvery === this.opts.dropEvery - 1) {
        this.framesSkipped++;
        continue;
      }
      const payload = audio.packets[n % audio.packets.length];
      ws.send(encodeFrame({ timestampMs: (n * audio.frameMs) >>> 0, sequence: n & 0xffff, codec: codecId, flags: 1 }, payload));
      this.framesSent++;
      this.bytesSent += payload.length;
    }
    if (this.nextFrame >= this.totalFrames) {
      this.stop();
      return false;
    }
    return true;
  }

  /** Sends `stop` (the relay then closes the connection). */
  stop(): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'stop' }));
  }

  /** Drops the connection without `stop` (a field tester losing the network). */
  terminate(): void {
    this.ws?.terminate();
  }

  send(data: string | Uint8Array): void {
    this.ws?.send(data);
  }

  statusMessages(): Extract<IngestServerMessage, { type: 'status' }>[] {
    return this.messages.filter((m): m is Extract<IngestServerMessage, { type: 'status' }> => m.type === 'status');
  }
}

/** Streams many stations at once from one timer; resolves when all have finished. */
export async function runStations(stations: SimulatedStation[], tickMs = 5): Promise<void> {
  let active = new Set(stations);
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      for (const s of active) if (!s.pump(now)) active.delete(s);
      if (active.size === 0) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, tickMs);
    tick();
  });
  active = new Set();
  await Promise.all(stations.map((s) => s.done));
}
