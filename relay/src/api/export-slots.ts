/**
 * How many audio exports the relay streams at once. An export reads a range's segments and,
 * for Opus or a whole trace's mix, resamples, mixes and encodes on the relay's main thread
 * (yielding between packets): a few at a time keep ingest, telemetry and the API
 * responsive. Beyond the cap a request is refused at once with 503 `relay_busy` and
 * `Retry-After`, never queued.
 */
import { ApiError } from '../errors.ts';

/** Seconds a refused export is told to wait (`Retry-After`). */
const RETRY_AFTER_S = 5;

export class ExportSlots {
  private busy = 0;

  constructor(
    /** Exports streamed at once (`TAPWIRE_MAX_EXPORTS`). */
    readonly max: number,
  ) {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`max must be a whole number of exports, at least 1, got ${max}`);
  }

  /** Exports streaming now. */
  get inUse(): number {
    return this.busy;
  }

  /** Takes a slot, or throws `relay_busy` when all are taken; the returned release may be called twice. */
  acquire(): () => void {
    if (this.busy >= this.max) {
      throw new ApiError('relay_busy', `the relay is streaming ${this.max} audio exports already, as many as it streams at once: retry in ${RETRY_AFTER_S} s`, {
        'Retry-After': String(RETRY_AFTER_S),
      });
    }
    this.busy++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.busy--;
    };
  }
}
