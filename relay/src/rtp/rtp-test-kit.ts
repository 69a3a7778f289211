/**
 * Helpers of the RTP ingest tests: UDP sockets that keep what they receive, RTP packets,
 * HTTP calls to the session routes, a station's stored PRE audio, and the alignment of two
 * signals by normalized cross-correlation.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { readWav } from '../audio/wav.ts';
import type { Relay } from '../relay.ts';
import { sleep, waitFor } from '../testing/harness.ts';
import { RtpPacket } from './rtp-packet.ts';

export interface Received {
  data: Buffer;
  from: RemoteInfo;
  atMs: number;
}

/** A UDP socket on 127.0.0.1 that keeps every datagram it receives. */
export class TestSocket {
  readonly received: Received[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('message', (data, from) => this.received.push({ data, from, atMs: Date.now() }));
  }

  static async bind(port = 0): Promise<TestSocket> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new TestSocket(socket);
  }

  /** Binds two sockets on an even port and the next (RTP and RTCP of a sender). */
  static async pair(): Promise<[TestSocket, TestSocket]> {
    for (let attempt = 0; ; attempt++) {
      const a = await TestSocket.bind(0);
      if (a.port % 2 === 0 && a.port < 65535) {
        try {
          return [a, await TestSocket.bind(a.port + 1)];
        } catch (err) {
          if (attempt > 20) throw err;
        }
      }
      a.close();
    }
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Uint8Array, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  /** Waits for the n-th datagram (1-based count) matching `keep`. */
  async next(keep: (r: Received) => boolean = () => true, timeoutMs = 5000, count = 1): Promise<Received> {
    return waitFor(() => this.received.filter(keep)[count - 1], timeoutMs, 'a datagram');
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

export function rtp(seq: number, timestamp: number, ssrc: number, payloadType: number, payload: Uint8Array): Uint8Array {
  return new RtpPacket({ payloadType, sequenceNumber: seq & 0xffff, timestamp: timestamp >>> 0, ssrc, payload }).serialize();
}

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export async function http(base: string, token: string | null, method: string, path: string, body?: unknown, contentType?: string): Promise<Res> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (typeof body === 'string') {
    headers['content-type'] = contentType ?? 'application/sdp';
    payload = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(`${base}${path}`, { method, headers, body: payload });
  const text = await r.text();
  const json = (r.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : undefined;
  return { status: r.status, headers: r.headers, text, json };
}

/**
 * The station's PRE (or POST) audio from its stored buckets, oldest first, as one signal
 * (buckets are contiguous in wall time). Waits until the station has ended and its buckets
 * are written.
 */
export async function stationAudio(relay: Relay, traceId: string, stationKey: string, tap: 'pre' | 'post' = 'pre'): Promise<{ samples: Float32Array; sampleRate: number }> {
  const endedAt = await waitFor(() => relay.store.getStation(traceId, stationKey)?.ended_at ?? undefined, 10_000, 'the station to end');
  // Every bucket up to the end is finalized once the clock passes the end's bucket plus the
  // grace. The last one written holds the last audio, which need not be the end's bucket: a
  // sender that stops a while before its session is deleted leaves that one empty, unwritten.
  const endBucket = Math.floor((endedAt - 1) / relay.config.bucketMs) * relay.config.bucketMs;
  const settledAt = endBucket + relay.config.bucketMs + relay.config.bucketGraceMs + 500;
  while (Date.now() < settledAt) await sleep(100);
  await waitFor(() => (relay.writer.backlog === 0 ? true : undefined), 5000, 'the writer');
  const rows = relay.store.listBuckets(traceId, { stationKey, limit: 1000 }).sort((a, b) => a.bucket_ts - b.bucket_ts);
  const parts = rows.map((row) => readWav(readFileSync(relay.segments.absolute((tap === 'pre' ? row.pre_path : row.post_path) as string))));
  const samples = new Float32Array(parts.reduce((n, p) => n + p.samples.length, 0));
  let offset = 0;
  for (const p of parts) {
    samples.set(p.samples, offset);
    offset += p.samples.length;
  }
  return { samples, sampleRate: parts[0]?.sampleRate ?? 0 };
}

function correlation(a: Float32Array, b: Float32Array, lag: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const j = i + lag;
    const y = j >= 0 && j < b.length ? b[j] : 0;
    ab += a[i] * y;
    aa += a[i] * a[i];
    bb += y * y;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

/**
 * Where `sent` lies in `received` (received[i + lag] ~ sent[i]) and how alike they are there
 * (Pearson r over the sent signal's span). The lag is found coarsely on envelopes decimated
 * to about 4000 points, then exactly around the best coarse lag.
 */
export function align(sent: Float32Array, received: Float32Array): { lag: number; r: number } {
  const step = Math.max(1, Math.floor(sent.length / 4000));
  const dec = (x: Float32Array): Float32Array => {
    const out = new Float32Array(Math.floor(x.length / step));
    for (let i = 0; i < out.length; i++) {
      let s = 0;
      for (let k = 0; k < step; k++) s += Math.abs(x[i * step + k]);
      out[i] = s;
    }
    return out;
  };
  const a = dec(sent);
  const b = dec(received);
  let best = { lag: 0, r: -Infinity };
  for (let lag = -a.length + 1; lag < b.length; lag += 1) {
    // Only lags where most of the sent signal overlaps the received one.
    if (lag < -a.length / 4 || lag > b.length - (3 * a.length) / 4) continue;
    const r = correlation(a, b, lag);
    if (r > best.r) best = { lag, r };
  }
  let fine = { lag: best.lag * step, r: -Infinity };
  for (let lag = best.lag * step - 4 * step; lag <= best.lag * step + 4 * step; lag++) {
    const r = correlation(sent, received, lag);
    if (r > fine.r) fine = { lag, r };
  }
  return fine;
}

/** Half-second parts of `sent` (those with sound, not pauses) whose best place in `received` is not at `lag`: their shift, samples. */
export function shifts(sent: Float32Array, received: Float32Array, lag: number, rate: number): { part: number; shift: number }[] {
  const part = rate / 2;
  const margin = rate / 10;
  const out: { part: number; shift: number }[] = [];
  for (let k = 0; (k + 1) * part <= sent.length; k++) {
    const piece = sent.subarray(k * part, (k + 1) * part);
    // A pause (under -60 dBFS RMS) has nothing to line up by.
    let energy = 0;
    for (const v of piece) energy += v * v;
    if (Math.sqrt(energy / piece.length) < 1e-3) continue;
    // The window around where the part should be, cut at the start of the received signal.
    const from = Math.max(0, lag + k * part - margin);
    const around = received.subarray(from, lag + (k + 1) * part + margin);
    const shift = align(piece, around).lag - (lag + k * part - from);
    if (Math.abs(shift) > 1) out.push({ part: k, shift });
  }
  return out;
}
