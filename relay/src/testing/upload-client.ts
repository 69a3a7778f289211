/**
 * Test helpers for uploads of offline recordings: real Opus packets of a known signal, the
 * chunk bodies the PWA sends, and the HTTP calls of protocol/upload.ts.
 */
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import { encodeChunk, UPLOAD_FRAME_MS, type UploadCreateRequest } from '../../../protocol/upload.ts';
import { sine } from '../audio/signals.ts';
import { encodeAudio } from '../sim/simulator.ts';

export const UPLOAD_RATE = 48000;

/** Opus packets (20 ms, 48 kHz mono) of a sine whose peak is `peakDbfs`. */
export function opusTone(freqHz: number, peakDbfs: number, seconds: number): Uint8Array[] {
  return encodeAudio(sine(freqHz, peakDbfs, seconds, UPLOAD_RATE), UPLOAD_RATE, 'opus', UPLOAD_FRAME_MS).packets;
}

/** The chunk body carrying `payloads` as packets `firstIndex, firstIndex + 1, ...`. */
export function chunkOf(payloads: readonly Uint8Array[], firstIndex: number): Uint8Array {
  return encodeChunk(
    payloads.map((p, k) => encodeFrame({ timestampMs: (firstIndex + k) * UPLOAD_FRAME_MS, sequence: firstIndex + k, codec: CODEC_IDS.opus, flags: 0 }, p)),
  );
}

export function createBody(startedAtMs: number, label?: string): UploadCreateRequest {
  return { codec: 'opus', sample_rate: UPLOAD_RATE, channels: 1, frame_ms: UPLOAD_FRAME_MS, started_at: new Date(startedAtMs).toISOString(), ...(label ? { label } : {}) };
}

export interface Res {
  status: number;
  headers: Headers;
  body: Buffer;
  json: any;
}

/** One HTTP call; `token: null` sends none. JSON bodies as JSON, bytes as application/octet-stream. */
export async function call(base: string, token: string | null, method: string, path: string, body?: unknown): Promise<Res> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (body instanceof Uint8Array) {
    headers['content-type'] = 'application/octet-stream';
    payload = body.slice(); // a copy on its own ArrayBuffer (what BodyInit takes)
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(`${base}${path}`, { method, headers, body: payload });
  const buf = Buffer.from(await r.arrayBuffer());
  const json = (r.headers.get('content-type') ?? '').includes('json') ? JSON.parse(buf.toString('utf8')) : undefined;
  return { status: r.status, headers: r.headers, body: buf, json };
}

/** An upload client bound to one relay and token. */
export function uploadClient(base: string, token: string | null) {
  return {
    create: (id: string, body: unknown) => call(base, token, 'PUT', `/api/uploads/${id}`, body),
    chunk: (id: string, firstIndex: number, body: Uint8Array) => call(base, token, 'PUT', `/api/uploads/${id}/packets?first_index=${firstIndex}`, body),
    part: (id: string, first: number, end: number) => call(base, token, 'POST', `/api/uploads/${id}/parts`, { first_index: first, end_index: end }),
    state: (id: string) => call(base, token, 'GET', `/api/uploads/${id}`),
    get: (path: string) => call(base, token, 'GET', path),
  };
}
