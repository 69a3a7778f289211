/**
 * Error codes and how they map onto the wire: WebSocket close codes (RFC 6455 §7.4.1) here;
 * the REST API's codes and their HTTP statuses in protocol/errors.ts, which clients share.
 */
import type { ErrorCode } from '../../protocol/errors.ts';

export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  /** A `start` that is missing or wrong. */
  policyViolation: 1008,
  /** A message over the size limit. */
  messageTooBig: 1009,
  internalError: 1011,
  /** A client too slow to keep up (telemetry), or a cap reached (stations): try again later. */
  tryAgainLater: 1013,
  /** No `start` in time, or no audio for the idle timeout (4408: the 4xxx private range, after HTTP 408). */
  timeout: 4408,
} as const;

/**
 * A refusal with a stable code (protocol/errors.ts), thrown by REST handlers and the domain
 * code behind them. It names what was wrong; the HTTP status follows from the code, in the
 * server's error handler, from the one table.
 */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Headers the answer carries (`Retry-After` of a rate limit, `Content-Range` of a 416). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
