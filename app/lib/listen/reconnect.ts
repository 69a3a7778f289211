/**
 * When and how soon the listen socket tries again: exponential backoff with jitter, and
 * what each close code of the listen socket (protocol/listen.ts LISTEN_CLOSE) means for a
 * listener. Plain logic, no timers: the socket owns those.
 */
import { LISTEN_CLOSE } from '../../../protocol/listen.ts';

export interface BackoffOptions {
  /** The first delay, ms (default 500). */
  initialMs?: number;
  /** The longest delay, ms (default 15000). */
  maxMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
}

/**
 * "Equal jitter" backoff: attempt n waits d/2 + random·d/2 with d = min(max, initial·factor^n),
 * so many listeners dropped at once (a relay restart) do not all come back in the same
 * millisecond, and none retries at once in a tight loop.
 */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 500;
    this.maxMs = opts.maxMs ?? 15_000;
    this.factor = opts.factor ?? 2;
    if (!(this.initialMs > 0 && this.maxMs >= this.initialMs && this.factor >= 1)) {
      throw new RangeError(`need 0 < initialMs <= maxMs and factor >= 1, got ${this.initialMs}, ${this.maxMs}, ${this.factor}`);
    }
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, ms; `random` returns [0, 1). */
  next(random: () => number = Math.random): number {
    const d = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return d / 2 + random() * (d / 2);
  }

  /** A connection worked: the next failure starts from the initial delay again. */
  reset(): void {
    this.attempt = 0;
  }
}

/** What a closed listen socket means: try again, the station ended, or give up (trying again cannot help). */
export type CloseAction = { action: 'reconnect'; why: string } | { action: 'ended'; why: string } | { action: 'fatal'; why: string };

/** Reads a close of the listen socket; `sawStreamEnd` when a `stream_end` message came before it. */
export function closeAction(code: number, reason: string, sawStreamEnd: boolean): CloseAction {
  const detail = reason ? `: ${reason}` : '';
  if (sawStreamEnd) return { action: 'ended', why: `the station stopped${detail}` };
  switch (code) {
    case LISTEN_CLOSE.notFound:
      return { action: 'fatal', why: `no such stream, or it has ended (${code}${detail})` };
    case LISTEN_CLOSE.invalid:
    case LISTEN_CLOSE.messageTooBig:
      return { action: 'fatal', why: `the relay refused the request (${code}${detail})` };
    case LISTEN_CLOSE.tryAgainLater:
      return { action: 'reconnect', why: `the relay is full, trying again (${code}${detail})` };
    case LISTEN_CLOSE.tooSlow:
      return { action: 'reconnect', why: `fell too far behind, reconnecting (${code}${detail})` };
    case LISTEN_CLOSE.goingAway:
      return { action: 'reconnect', why: `the relay is restarting (${code}${detail})` };
    case 1006:
      return { action: 'reconnect', why: 'the connection dropped' };
    default:
      return { action: 'reconnect', why: `the connection closed (${code}${detail})` };
  }
}
