import type { ErrorMessage } from '../../../protocol/ingest.ts';

/** At most this many `error` messages per second per connection; the rest are counted. */
const ERRORS_PER_SECOND = 10;

/**
 * Sends `error` messages to a client without letting a stream of bad frames turn into a
 * stream of replies: over the rate, errors are counted and the count rides on the next one.
 */
export class ErrorReporter {
  private windowStartMs = 0;
  private sentInWindow = 0;
  private suppressed = 0;

  constructor(private readonly send: (msg: ErrorMessage) => void) {}

  report(code: string, message: string, extra: { field?: string; station_key?: string } = {}, always = false): void {
    const now = Date.now();
    if (now - this.windowStartMs >= 1000) {
      this.windowStartMs = now;
      this.sentInWindow = 0;
    }
    if (!always && this.sentInWindow >= ERRORS_PER_SECOND) {
      this.suppressed++;
      return;
    }
    this.sentInWindow++;
    const msg: ErrorMessage = { type: 'error', code, message, ...extra };
    if (this.suppressed > 0) {
      msg.suppressed = this.suppressed;
      this.suppressed = 0;
    }
    this.send(msg);
  }
}
