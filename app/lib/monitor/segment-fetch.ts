/**
 * Fetching one bucket's WAV segment (GET /api/audio/segment, seed 000 §5.3; the path comes
 * from the snapshot entry's `audio.<tap>.endpoint`) for listening, with the relay's refusals
 * turned into what a listener can act on: the token lacks read:audio, retention removed the
 * audio, the bucket is not there.
 */
import { isErrorCode, type ErrorBody, type ErrorCode } from '../../../protocol/errors.ts';
import type { Tap } from '../../../protocol/metrics.ts';

/** Why a segment could not be had. */
export type SegmentErrorCode =
  /** 401: no token, or one unknown or revoked. */
  | 'unauthorized'
  /** 403: the token lacks read:audio. */
  | 'forbidden'
  /** 404 audio_not_found: retention removed the bucket's audio; its metrics remain. */
  | 'audio_gone'
  /** 404 otherwise: no such bucket, station or trace. */
  | 'not_found'
  /** Any other status, or the request failed on the way. */
  | 'http'
  /** The bytes are not audio the browser can decode. */
  | 'decode';

export class SegmentError extends Error {
  constructor(
    readonly code: SegmentErrorCode,
    readonly tap: Tap,
    message: string,
  ) {
    super(message);
    this.name = 'SegmentError';
  }
}

/** What a refusal means for the listener; `relayCode` and `relayMessage` from the error body, when there was one. */
export function segmentError(tap: Tap, status: number, relayCode: ErrorCode | null, relayMessage: string | null): SegmentError {
  if (status === 401) return new SegmentError('unauthorized', tap, 'Not signed in, or the token is unknown or revoked: sign in again to listen.');
  if (status === 403) return new SegmentError('forbidden', tap, 'This token lacks read:audio, so it cannot play bucket audio; sign in with a token that has read:audio.');
  if (status === 404 && relayCode === 'audio_not_found') {
    return new SegmentError('audio_gone', tap, 'This bucket\'s audio is not kept any more (retention removed it); its meters remain.');
  }
  if (status === 404) return new SegmentError('not_found', tap, `The relay has no ${tap} audio for this bucket${relayMessage ? `: ${relayMessage}` : '.'}`);
  return new SegmentError('http', tap, `The ${tap} segment could not be fetched: HTTP ${status}${relayMessage ? ` ${relayMessage}` : ''}.`);
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/** The segment's WAV bytes; a SegmentError when the relay refuses, an AbortError when `signal` aborts. */
export async function fetchSegment(fetchFn: FetchFn, endpoint: string, tap: Tap, signal?: AbortSignal): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await fetchFn(endpoint, { signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new SegmentError('http', tap, `The ${tap} segment could not be fetched: ${e instanceof Error ? e.message : String(e)}.`);
  }
  if (res.ok) return res.arrayBuffer();
  const body = (await res.json().catch(() => null)) as ErrorBody | null;
  const code = body?.error?.code;
  throw segmentError(tap, res.status, isErrorCode(code) ? code : null, body?.error?.message ?? null);
}
