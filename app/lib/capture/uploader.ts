/**
 * Uploads what the relay missed: for each session, the runs of packets not sent live are
 * sent as parts of one upload (protocol/upload.ts), which the relay keeps as a recorded
 * trace at the capture times.
 *
 * A run is uploaded once it is closed: the session has ended, or a later packet went out
 * live (the relay has moved on). Every step is idempotent on the relay, so an interrupted
 * upload just starts again where the relay's state says it stopped, and a repeated one adds
 * nothing.
 */
import { CODEC_IDS, encodeFrame } from '$protocol/frame';
import type { ErrorBody } from '$protocol/errors';
import { encodeChunk, MAX_PART_PACKETS, type UploadChunkResponse, type UploadCreateRequest, type UploadErrorCode, type UploadPartRequest, type UploadStateResponse } from '$protocol/upload';
import { DELIVERY, type PacketRun, type RecordingStore, type SessionRecord } from './recording-store';

/** Packets per chunk: 5 s of audio, about 25 KB at 32 kbps. */
const CHUNK_PACKETS = 250;

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Refusals the same upload gets again however often it is sent (protocol/upload.ts): the
 * relay expired it, its capture is older than the relay keeps, a chunk differs from what
 * the relay stored, or the relay's quota on unprocessed packets is full. Retrying them
 * only repeats the request; the session keeps the relay's message instead.
 */
export const FINAL_UPLOAD_CODES = ['upload_expired', 'upload_too_old', 'chunk_conflict', 'upload_quota'] as const satisfies readonly UploadErrorCode[];
export type FinalUploadCode = (typeof FINAL_UPLOAD_CODES)[number];

export class UploadError extends Error {
  override name = 'UploadError';
  constructor(
    message: string,
    /** HTTP status, or 0 when the relay could not be reached. */
    readonly status: number,
    /** An UploadErrorCode or API-wide code from the relay, `unreachable`, `local_missing` or `http_<status>`. */
    readonly code: string,
  ) {
    super(message);
  }

  /** True when retrying this upload would get the same refusal (FINAL_UPLOAD_CODES). */
  get final(): boolean {
    return (FINAL_UPLOAD_CODES as readonly string[]).includes(this.code);
  }
}

export interface UploadProgress {
  sessionId: string;
  sent: number;
  total: number;
}

/** The seed 004 frame of packet `index` of a session: capture offset, index, Opus. */
export function sessionFrame(index: number, frameMs: number, data: Uint8Array): Uint8Array {
  return encodeFrame({ timestampMs: index * frameMs, sequence: index, codec: CODEC_IDS.opus, flags: 0 }, data);
}

export class Uploader {
  constructor(
    private readonly store: RecordingStore,
    private readonly fetch: FetchFn,
    private readonly onProgress: (p: UploadProgress) => void = () => {},
  ) {}

  /** Runs of a session ready to upload now. */
  async closedRuns(s: SessionRecord): Promise<PacketRun[]> {
    const runs = await this.store.pendingRuns(s.id);
    return runs.filter((r) => s.state === 'ended' || r.end <= s.lastLiveIndex);
  }

  /**
   * Uploads every closed run of a session. Returns the packets uploaded; throws UploadError
   * when the relay refuses or cannot be reached (what was done stays done). An error whose
   * `final` is true means this upload cannot go on: the caller stops retrying it.
   */
  async uploadSession(sessionId: string): Promise<number> {
    const s = await this.store.getSession(sessionId);
    if (s === undefined || s.startedAt === null) return 0;
    const runs = (await this.closedRuns(s)).flatMap(splitRun);
    if (runs.length === 0) return 0;
    const total = runs.reduce((n, r) => n + r.end - r.first, 0);
    let sent = 0;
    let state = await this.create(s);
    for (const run of runs) {
      if (!state.parts.some((p) => p.first_index === run.first && p.end_index === run.end)) {
        const progress = (n: number): void => this.onProgress({ sessionId, sent: sent + n, total });
        const part: UploadPartRequest = { first_index: run.first, end_index: run.end };
        state = await this.sendRun(s, run, state, progress, false);
        try {
          state = await this.request<UploadStateResponse>('POST', `${uploadPath(s.id)}/parts`, JSON.stringify(part));
        } catch (err) {
          // The relay lacks some of the run after all (its store was reset, say): send it whole once more.
          if (!(err instanceof UploadError && err.code === 'incomplete')) throw err;
          state = await this.sendRun(s, run, state, progress, true);
          state = await this.request<UploadStateResponse>('POST', `${uploadPath(s.id)}/parts`, JSON.stringify(part));
        }
      }
      await this.store.markDelivery(s.id, run.first, run.end, DELIVERY.uploaded, DELIVERY.pending);
      await this.store.updateSession(s.id, (rec) => {
        rec.upload.traceId = state.trace_id;
        rec.upload.stationKey = state.station_key;
        if (!rec.upload.parts.some(([a, b]) => a === run.first && b === run.end)) rec.upload.parts.push([run.first, run.end]);
        rec.upload.error = null;
      });
      sent += run.end - run.first;
      this.onProgress({ sessionId, sent, total });
    }
    return sent;
  }

  private create(s: SessionRecord): Promise<UploadStateResponse> {
    const body: UploadCreateRequest = {
      codec: 'opus',
      sample_rate: s.sampleRate,
      channels: 1,
      frame_ms: s.frameMs,
      started_at: new Date(s.startedAt as number).toISOString(),
      label: s.label,
    };
    return this.request<UploadStateResponse>('PUT', uploadPath(s.id), JSON.stringify(body));
  }

  /** Sends a run's packets the relay does not have yet, in chunks, in order. */
  private async sendRun(s: SessionRecord, run: PacketRun, state: UploadStateResponse, progress: (n: number) => void, whole: boolean): Promise<UploadStateResponse> {
    // Chunks go in order and each is stored whole or not at all, so the relay holds a prefix
    // of the run: resume after it.
    let from = whole ? run.first : Math.min(Math.max(run.first, state.end_index), run.end);
    while (from < run.end) {
      const to = Math.min(from + CHUNK_PACKETS, run.end);
      const packets = await this.store.packets(s.id, from, to);
      if (packets.length !== to - from || packets.some((p, i) => p.index !== from + i)) {
        throw new UploadError(`packets ${from}-${to - 1} of session ${s.id} are not all stored on this device`, 0, 'local_missing');
      }
      const body = encodeChunk(packets.map((p) => sessionFrame(p.index, s.frameMs, p.data)));
      state = await this.request<UploadChunkResponse>('PUT', `${uploadPath(s.id)}/packets?first_index=${from}`, body, 'application/octet-stream');
      progress(to - run.first);
      from = to;
    }
    return state;
  }

  /** One request; its answer is the relay's (`T`, or the error envelope), typed by protocol/upload.ts. */
  private async request<T extends UploadStateResponse>(method: string, path: string, body: string | Uint8Array, type = 'application/json'): Promise<T> {
    let res: Response;
    try {
      res = await this.fetch(path, { method, body: body as BodyInit, headers: { 'content-type': type } });
    } catch (err) {
      throw new UploadError(`relay unreachable: ${(err as Error).message}`, 0, 'unreachable');
    }
    // A proxy's error page may not be JSON, or not the relay's envelope.
    const json = (await res.json().catch(() => null)) as T | ErrorBody | null;
    if (!res.ok || json === null || json.success !== true) {
      const error = json !== null && json.success === false ? json.error : undefined;
      throw new UploadError(error?.message ?? `${method} ${path}: HTTP ${res.status}`, res.status, error?.code ?? `http_${res.status}`);
    }
    return json;
  }
}

function uploadPath(id: string): string {
  return `/api/uploads/${encodeURIComponent(id)}`;
}

/** A run longer than the relay processes at once goes as several parts. */
function splitRun(run: PacketRun): PacketRun[] {
  const out: PacketRun[] = [];
  for (let a = run.first; a < run.end; a += MAX_PART_PACKETS) out.push({ first: a, end: Math.min(a + MAX_PART_PACKETS, run.end) });
  return out;
}
