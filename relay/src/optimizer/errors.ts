/**
 * Errors of the optimizer client, with stable codes. An answer from the relay keeps the
 * relay's own `error.code` (seed 000 §7: `unauthorized`, `forbidden`, `unknown_knob`,
 * `bucket_mismatch`, `rate_limited`, ...); failures on our side get one of these.
 */
export type ClientErrorCode =
  /** No HTTP answer (connection refused, reset, timed out). */
  | 'network'
  /** An answer whose shape is not the contract's. */
  | 'bad_response'
  /** The client was closed while the request waited for a retry. */
  | 'closed';

export class OptimizerError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OptimizerError';
  }
}

/** A non-2xx answer from the relay, after any retries. */
export class ApiRequestError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** The relay's `error.code`, or `http_<status>` when the body had none. */
    readonly code: string,
    message: string,
    /** Requests made, the retries included. */
    readonly attempts: number,
    /** `Retry-After` of the last answer, seconds; null without one. */
    readonly retryAfterS: number | null,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}
