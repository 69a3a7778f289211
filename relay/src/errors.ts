/**
 * Error codes and how they map onto the wire: WebSocket close codes (RFC 6455 §7.4.1) and,
 * for the REST API, HTTP statuses. One place, so every transport says the same thing.
 */

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

/** An error with a stable code and an HTTP status, thrown by REST handlers. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
