/**
 * The HTTP half of WHIP (RFC 9725) and WHEP (its egress twin): one POST of the SDP offer
 * (`Content-Type: application/sdp`), answered by `201 Created` with the SDP answer and a
 * `Location` naming the session; DELETE on that Location ends it. ICE is not trickled: the
 * offer carries every candidate, so no PATCH is ever sent.
 *
 * Refusals become an `SdpExchangeError` whose message says, for people, what went wrong and
 * what would fix it, from the status and the relay's error envelope
 * (`{"success":false,"error":{"code","message"}}`, protocol/errors.ts).
 */

export type ExchangeKind = 'whip' | 'whep';

export class SdpExchangeError extends Error {
  constructor(
    message: string,
    /** The HTTP status; null when the relay could not be reached. */
    readonly status: number | null,
    /** The relay's error code, when its body had one. */
    readonly code: string | null,
    /** Whether trying again later may succeed (503, 429, network) or not (400, 401, 403, 404). */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'SdpExchangeError';
  }
}

export interface ExchangeResult {
  answerSdp: string;
  /** The session's URL, absolute (resolved against the request's). */
  location: string;
  /** The answer's headers, for what a relay adds beside the SDP. */
  headers: Headers;
}

export interface ExchangeOptions {
  kind: ExchangeKind;
  /** Sent as `Authorization: Bearer`, when the app has one. */
  token?: string | null;
  signal?: AbortSignal;
}

/** Longest error body read, characters: a message for people, not a document. */
const MAX_ERROR_TEXT = 300;

/** POSTs the offer; resolves with the answer, rejects with an SdpExchangeError. */
export async function postOffer(url: string, offerSdp: string, opts: ExchangeOptions): Promise<ExchangeResult> {
  const headers: Record<string, string> = { 'Content-Type': 'application/sdp', Accept: 'application/sdp' };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: offerSdp, signal: opts.signal, cache: 'no-store' });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new SdpExchangeError(`the relay could not be reached (${(err as Error).message})`, null, null, true);
  }
  const text = await res.text();
  if (res.status !== 201 && res.status !== 200) {
    const { code, message } = readErrorBody(text, res.headers.get('Content-Type'));
    throw new SdpExchangeError(describeRefusal(opts.kind, res.status, message, res.headers.get('Retry-After'), code), res.status, code, isRetryable(res.status));
  }
  const location = res.headers.get('Location');
  if (location === null) throw new SdpExchangeError(`the relay answered ${res.status} without a Location header: it does not speak ${opts.kind.toUpperCase()}`, res.status, null, false);
  if (!text.startsWith('v=0')) throw new SdpExchangeError(`the relay's answer is not SDP (it starts "${text.slice(0, 20)}")`, res.status, null, false);
  return { answerSdp: text, location: new URL(location, url).href, headers: res.headers };
}

/** Ends the session (DELETE its Location); resolves whatever the relay says (it may have ended it already). */
export async function deleteSession(location: string, token?: string | null): Promise<number | null> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const res = await fetch(location, { method: 'DELETE', headers, cache: 'no-store', keepalive: true });
    return res.status;
  } catch {
    return null;
  }
}

export function isRetryable(status: number): boolean {
  return status === 429 || status === 503 || status === 502 || status === 504 || status === 500;
}

/** The relay's error envelope, or the body's first words. */
export function readErrorBody(text: string, contentType: string | null): { code: string | null; message: string | null } {
  if (contentType?.includes('json')) {
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      const code = typeof body.error?.code === 'string' ? body.error.code : null;
      const message = typeof body.error?.message === 'string' ? body.error.message : null;
      return { code, message };
    } catch {
      // Not the envelope: fall through to the text.
    }
  }
  const t = text.trim();
  return { code: null, message: t === '' ? null : t.slice(0, MAX_ERROR_TEXT) };
}

/** What a refusal means for the person at the page. */
export function describeRefusal(kind: ExchangeKind, status: number, relayMessage: string | null, retryAfter: string | null = null, code: string | null = null): string {
  const what = kind === 'whip' ? 'WebRTC capture' : 'WebRTC listening';
  const said = relayMessage ? ` (the relay said: ${relayMessage})` : '';
  switch (status) {
    case 400:
      // invalid_request: the query (a trace to join that is not live, a taken station key), not the SDP.
      if (code !== null && code !== 'bad_sdp') return `the relay refused the ${what} request${said}`;
      return `the relay refused the ${what} offer as malformed${said}; this browser's WebRTC may not offer Opus audio`;
    case 401:
      return `the relay needs a sign-in token for ${what}${said}: sign in with a token that has the ${kind === 'whip' ? '"ingest" scope' : 'right scope'}`;
    case 403:
      return `this token may not start ${what}${said}: ${kind === 'whip' ? 'it needs the "ingest" scope' : 'it lacks the scope the relay asks for'}`;
    case 404:
      return kind === 'whep' ? `no live station with this stream id${said}: it may have ended` : `the relay has no WHIP endpoint here${said}: it may be an older relay without WebRTC`;
    case 415:
      return `the relay did not take the offer as SDP${said}`;
    case 429:
    case 503:
      return `the relay cannot take another ${what} session now${said}${retryAfter ? `; trying again in ${retryAfter} s` : '; trying again shortly'}`;
    default:
      return `the relay refused ${what} with HTTP ${status}${said}`;
  }
}
