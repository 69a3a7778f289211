/**
 * Every error code of the REST API and the HTTP endpoints, with its HTTP status: one table
 * (STYLE.md habit 9). Errors are `{"success":false,"error":{"code","message"}}`; the relay's
 * error handler takes the status from here, so the code that refuses a request names what
 * was wrong, never an HTTP status. Clients read the code; the status follows from it.
 *
 * Seed 000 §7: 400 invalid request or unknown knob, 404 not found, 409 bucket mismatch,
 * 429 rate limit, 500 internal. The rest are the relay's own (README, docs/SECURITY.md).
 */
import * as T from './schema.ts';

export const ERROR_STATUS = {
  // 400
  /** The request breaks its schema (a missing or mistyped field), or a value the relay parses (a timestamp) is not one. */
  invalid_request: 400,
  /** An apply names a knob that is not in the registry (GET /api/optimizer/knobs). */
  unknown_knob: 400,
  /** An upload chunk record is malformed or not the packet its place says; nothing of the chunk was stored. */
  bad_chunk: 400,
  /**
   * An upload's capture (at create: `started_at`; for a part: its end) is older than the
   * relay keeps audio (TAPWIRE_SEGMENT_MAX_AGE_HOURS, 7 days by default): retention would
   * delete it at once. A refused part's packets are kept.
   */
  upload_too_old: 400,
  /** A WHIP or WHEP offer that is not SDP, has no audio m-section, offers no Opus at 48 kHz, or the wrong direction. */
  bad_sdp: 400,
  // 401, 403
  /** No token, a malformed `Authorization` header, or a token unknown or revoked. */
  unauthorized: 401,
  /** The token lacks the route's scope. */
  forbidden: 403,
  // 404
  /** No route: any path under /api or /ws that matches none. */
  not_found: 404,
  trace_not_found: 404,
  station_not_found: 404,
  /** No complete bucket at that time for that station. */
  bucket_not_found: 404,
  /** The bucket exists but retention removed its audio (its metrics remain). */
  audio_not_found: 404,
  /** No upload with this id (create it first). */
  upload_not_found: 404,
  /** WHEP: no live station has this stream id (never issued, or its station ended). */
  stream_not_found: 404,
  /** No WHIP or WHEP session at this URL (never created, or already ended). */
  session_not_found: 404,
  // 405
  /** PATCH on a WHIP or WHEP session: the relay takes no trickle ICE or ICE restart (RFC 9725 §4.3.1); send every candidate in the offer. */
  method_not_allowed: 405,
  /** No RTP session with this id (never opened, or already closed). */
  rtp_session_not_found: 404,
  // 408
  /** The request took longer than 120 s to arrive. */
  request_timeout: 408,
  // 409
  /** `apply_at_bucket_ts` is not on a boundary, not later than the bucket in progress, or too far ahead. */
  bucket_mismatch: 409,
  /** An `idempotency_key` already used for a different request. */
  idempotency_conflict: 409,
  /** Knobs apply to live stations only. */
  station_not_live: 409,
  /** The upload id exists with another codec, sample_rate, frame_ms or started_at. */
  upload_conflict: 409,
  /** A part overlaps a processed part with a different range. */
  part_overlap: 409,
  /** Packets of the part are missing (the message says how many and the first). */
  incomplete: 409,
  /**
   * A chunk carries other bytes (flags or payload) for a packet index already stored; the
   * message names the first. Nothing of the chunk was stored. Indices inside processed parts
   * cannot be compared (their packets are gone once in the segments): a chunk there counts
   * as duplicates whatever it holds.
   */
  chunk_conflict: 409,
  // 410
  /**
   * The upload was untouched (no create, chunk or part) for the relay's expiry
   * (TAPWIRE_UPLOAD_EXPIRY_HOURS, 72 h by default), so its unprocessed packets were deleted.
   * Processed parts stay, the state still answers (`expired_at`) and so does a part already
   * processed; what is left goes under a new upload_id.
   */
  upload_expired: 410,
  // 413
  /** A body over the route's limit (JSON: 1 MiB; an upload chunk: MAX_UPLOAD_CHUNK_BYTES). */
  body_too_large: 413,
  /**
   * The chunk's new packets would take the bytes stored but not yet processed over the
   * relay's limit, per upload (TAPWIRE_UPLOAD_MAX_MB, 256 MiB by default) or summed over the
   * uploads of one token (TAPWIRE_UPLOAD_TOKEN_MAX_MB, 1024 MiB). Nothing of the chunk was
   * stored; processing parts frees their packets. Packets already stored do not count again.
   */
  upload_quota: 413,
  // 414
  /** A path parameter over the router's length limit. */
  uri_too_long: 414,
  // 415
  /** A body of a type the route does not take (JSON routes take application/json; upload chunks application/octet-stream). */
  unsupported_media_type: 415,
  // 416
  /** A Range outside the segment (`Content-Range: bytes *\/size` says its size). */
  range_not_satisfiable: 416,
  // 426
  /** A plain GET on a WebSocket endpoint. */
  upgrade_required: 426,
  // 429
  /** Seed 000 §8: one apply per station per bucket, one snapshot per token and trace per interval; `Retry-After` says when. */
  rate_limited: 429,
  /** The client address has as many connections open to a WebSocket endpoint as it may; `Retry-After`. */
  too_many_connections: 429,
  // 431
  /** The request headers are over 16 KiB. */
  headers_too_large: 431,
  // 500
  internal: 500,
  // 503
  /** A WebSocket endpoint has as many connections open as the relay takes; `Retry-After`. */
  relay_busy: 503,
  /** The relay could not process an upload part now (stopping, worker lost); its packets are kept, retry. */
  processing_failed: 503,
  /** The relay has as many RTP sessions open as it takes (TAPWIRE_MAX_RTP_SESSIONS); close one or retry later. */
  rtp_sessions_full: 503,
  /** Every RTP/RTCP port pair of TAPWIRE_RTP_PORTS is taken. */
  rtp_ports_exhausted: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

/** Every code, in table order. */
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export function errorStatus(code: ErrorCode): ErrorStatus {
  return ERROR_STATUS[code];
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code);
}

/** The error envelope, with the codes it may carry (all of them by default). */
export function ErrorEnvelope(codes: readonly ErrorCode[] = ERROR_CODES, description?: string) {
  return T.Object(
    {
      success: T.Literal(false),
      error: T.Object({
        code: T.Enum([...codes]),
        message: T.String({ minLength: 1, description: 'what was wrong, and what would be right' }),
      }),
    },
    description === undefined ? {} : { description },
  );
}

export const ErrorBody = ErrorEnvelope();
/** `{"success":false,"error":{"code","message"}}`. */
export type ErrorBody = T.Static<typeof ErrorBody>;
