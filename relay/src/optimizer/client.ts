/**
 * A typed HTTP client for the optimizer contract (seed 000 §5), on the global fetch.
 *
 * Retries follow seed 000 §8: at most 3 retries with exponential backoff (250, 500,
 * 1000 ms), for no answer at all, 5xx and 429; a 429 waits for its `Retry-After` instead
 * (capped at `maxRetryAfterMs`). Other 4xx answers are final: repeating a request the relay
 * refused cannot help. Applying knobs is safe to retry because the body carries the same
 * idempotency key each time (§5.4).
 */
import type { ErrorBody } from '../../../protocol/errors.ts';
import type { SegmentRate, SnapshotQuery } from '../../../protocol/optimizer-api.ts';
import { readWav, type WavAudio } from '../audio/wav.ts';
import {
  parseActiveTraces,
  parseApplyResponse,
  parseEvents,
  parseSnapshot,
  type ActiveTrace,
  type ApplyRequest,
  type ApplyResponse,
  type KnobEvent,
  type SnapshotEntry,
} from './api-types.ts';
import { ApiRequestError, OptimizerError } from './errors.ts';

export interface ClientOptions {
  /** The relay, e.g. http://127.0.0.1:8080 (a trailing slash is fine). */
  baseUrl: string;
  /** Bearer token with read:snapshots and write:knobs (seed 000 §9); read:audio too for segment(), which the optimizer does not call. */
  token: string;
  /** Retries after the first attempt (default 3, seed 000 §8). */
  maxRetries?: number;
  /** First backoff delay, ms; doubles each retry (default 250). */
  backoffMs?: number;
  /** Longest `Retry-After` honoured, ms (default 10000); a longer one is cut to this. */
  maxRetryAfterMs?: number;
  /** Time limit of one request, ms (default 10000). */
  timeoutMs?: number;
  /** Largest response body accepted, bytes (default 16 MiB: a 5 s segment at 48 kHz is 480 kB). */
  maxBodyBytes?: number;
}

/** Backoff before retry number `retry` (0-based), ms: Retry-After when given, else exponential. */
export function retryDelayMs(retry: number, retryAfterS: number | null, backoffMs = 250, maxRetryAfterMs = 10_000): number {
  if (retryAfterS !== null) return Math.min(maxRetryAfterMs, Math.max(0, retryAfterS * 1000));
  return backoffMs * 2 ** retry;
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, (at - nowMs) / 1000);
}

/** Waits `ms`, or rejects with OptimizerError("closed") as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new OptimizerError('closed', 'stopped while waiting to retry'));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new OptimizerError('closed', 'stopped while waiting to retry'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface RawAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
}

export class OptimizerClient {
  readonly baseUrl: string;
  private readonly token: string;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;

  constructor(opts: ClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.baseUrl);
    } catch {
      throw new TypeError(`baseUrl must be an http(s) URL such as http://127.0.0.1:8080, got "${opts.baseUrl}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`baseUrl must be http or https, got "${opts.baseUrl}"`);
    if (typeof opts.token !== 'string' || opts.token.length === 0) throw new TypeError('token must be a non-empty string');
    this.baseUrl = url.origin + url.pathname.replace(/\/+$/, '');
    this.token = opts.token;
    this.maxRetries = opts.maxRetries ?? 3;
    this.backoffMs = opts.backoffMs ?? 250;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxBodyBytes = opts.maxBodyBytes ?? 16 << 20;
  }

  /** §5.1 */
  async activeTraces(signal?: AbortSignal): Promise<ActiveTrace[]> {
    return parseActiveTraces(await this.json('GET', '/api/traces/active', undefined, signal));
  }

  /**
   * §5.2: complete buckets, ascending by bucket_ts: the latest `limit` (default 1), or the
   * first `limit` strictly after `since_bucket_ts`. The relay counts whole buckets, each with
   * an entry per station.
   */
  async snapshot(q: SnapshotQuery, signal?: AbortSignal): Promise<SnapshotEntry[]> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(q)) if (value !== undefined) params.set(name, String(value));
    return parseSnapshot(await this.json('GET', `/api/optimizer/snapshot?${params}`, undefined, signal));
  }

  /**
   * §5.3: the WAV behind an `audio.PRE.endpoint` / `audio.POST.endpoint` path, at the
   * station's own rate, or resampled by the relay to `rate` Hz. The reference optimizer
   * decides from the snapshot alone and never calls this; it is here for tools and tests
   * that want the audio.
   */
  async segment(endpoint: string, signal?: AbortSignal, rate?: SegmentRate): Promise<WavAudio> {
    if (!endpoint.startsWith('/api/audio/segment?')) throw new TypeError(`not a segment endpoint: "${endpoint}"`);
    const path = rate === undefined ? endpoint : `${endpoint}&rate=${rate}`;
    const answer = await this.request('GET', path, undefined, signal);
    try {
      return readWav(answer.body);
    } catch (err) {
      throw new OptimizerError('bad_response', `${path} did not return a readable WAV: ${(err as Error).message}`);
    }
  }

  /** §5.4 */
  async applyKnobs(req: ApplyRequest, signal?: AbortSignal): Promise<ApplyResponse> {
    return parseApplyResponse(await this.json('POST', '/api/optimizer/knobs/apply', req, signal));
  }

  /** The knob event log of a trace (or of one of its stations), oldest first. */
  async events(traceId: string, stationKey?: string, signal?: AbortSignal): Promise<KnobEvent[]> {
    const params = new URLSearchParams({ trace_id: traceId });
    if (stationKey !== undefined) params.set('station_key', stationKey);
    return parseEvents(await this.json('GET', `/api/optimizer/events?${params}`, undefined, signal));
  }

  private async json(method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    const answer = await this.request(method, path, body, signal);
    try {
      return JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new OptimizerError('bad_response', `${method} ${path} answered ${answer.status} with a body that is not JSON`);
    }
  }

  /** One request with the retries of seed 000 §8; resolves with a 2xx answer or throws. */
  private async request(method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal | undefined): Promise<RawAnswer> {
    const url = this.baseUrl + path;
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      let answer: RawAnswer | null = null;
      let failure: Error;
      try {
        answer = await this.once(method, url, headers, payload, signal);
        if (answer.status >= 200 && answer.status < 300) return answer;
        failure = this.errorOf(method, path, answer, attempt);
      } catch (err) {
        if (signal?.aborted) throw new OptimizerError('closed', `stopped during ${method} ${path}`);
        if (err instanceof OptimizerError) throw err;
        failure = new OptimizerError('network', `${method} ${path}: no answer from ${this.baseUrl} (${(err as Error).message})`);
      }
      const retryable = answer === null || answer.status === 429 || answer.status >= 500;
      if (!retryable || attempt > this.maxRetries) throw failure;
      const retryAfterS = answer === null ? null : parseRetryAfter(answer.headers.get('retry-after'));
      await sleep(retryDelayMs(attempt - 1, answer?.status === 429 ? retryAfterS : null, this.backoffMs, this.maxRetryAfterMs), signal);
    }
  }

  private async once(method: string, url: string, headers: Record<string, string>, payload: string | undefined, signal: AbortSignal | undefined): Promise<RawAnswer> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const res = await fetch(url, { method, headers, body: payload, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > this.maxBodyBytes) {
      await res.body?.cancel();
      throw new OptimizerError('bad_response', `${method} ${url} announced ${declared} bytes; the limit is ${this.maxBodyBytes}`);
    }
    const buf = Buffer.from(await res.arrayBuffer());
    if (buf.length > this.maxBodyBytes) throw new OptimizerError('bad_response', `${method} ${url} sent ${buf.length} bytes; the limit is ${this.maxBodyBytes}`);
    return { status: res.status, headers: res.headers, body: buf };
  }

  private errorOf(method: string, path: string, answer: RawAnswer, attempts: number): ApiRequestError {
    let code = `http_${answer.status}`;
    let message = `${method} ${path} answered ${answer.status}`;
    try {
      // The relay's error envelope (protocol/errors.ts), or whatever a proxy in front of it sent.
      const parsed = JSON.parse(answer.body.toString('utf8')) as Partial<ErrorBody> | null;
      if (typeof parsed?.error?.code === 'string') code = parsed.error.code;
      if (typeof parsed?.error?.message === 'string') message = `${method} ${path.split('?')[0]} answered ${answer.status} ${code}: ${parsed.error.message}`;
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    return new ApiRequestError(answer.status, code, message, attempts, parseRetryAfter(answer.headers.get('retry-after')));
  }
}
