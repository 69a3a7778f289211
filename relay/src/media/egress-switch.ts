/**
 * The control plane's side of listener egress, shared by the two handles that have it: a
 * station's (station-handle.ts) and a trace mix's (trace-mix-handle.ts). It keeps which
 * taps are on and with what options, counts each tap's encoder starts the way the worker
 * does, and so knows which packets of the worker's batches are the running encoder's.
 * One copy of the rules both handles follow:
 *
 * - options are checked before anything changes (RangeError, TypeError for a non-number),
 *   and so is the tap ('PRE' or 'POST');
 * - the same options again change nothing; other options retune the running encoder (the
 *   stream and its sequence go on);
 * - null stops; a start after a stop is a fresh encoder (the next generation, sequence 0);
 * - `historyMs` only matters when an encoder starts (a fresh start: the first, or one after
 *   null): a retune never re-sends history, and a change of `historyMs` alone changes
 *   nothing;
 * - a packet from an encoder that is no longer the running one (stopped, or replaced while
 *   its packets were on their way) is dropped, so after a (re)start the first packet heard
 *   is sequence 0 of the new encoder.
 *
 * The handle decides when the worker is told (a station that ended, a mix with nowhere to
 * run yet); this class only says what changed.
 */
import { checkOpusStreamOptions } from './codecs/opus-encoder.ts';
import type { EgressRecord } from './egress-batch.ts';

export type EgressTap = 'PRE' | 'POST';

export interface EgressOptions {
  /** Target bitrate, bit/s: an integer from 6000 to 510000. */
  bitrate: number;
  /** libopus complexity: an integer from 0 (cheapest) to 10 (best; about 3x the cost of 5). */
  complexity: number;
  /**
   * On a fresh start, first encode up to this much of the tap's most recent audio, ms: an
   * integer from 0 to 5000 (MAX_EGRESS_HISTORY_MS), default 0. The packets come at once,
   * marked `history`, before the live ones (egress.ts), so a player that buffers before it
   * starts need not wait that long in real time. Ignored by a retune and by a trace mix
   * (a mix keeps no audio to replay).
   */
  historyMs?: number;
}

/** The most history an encoder start may ask for, ms: a bucket (the aggregator holds no more than the current and previous one). */
export const MAX_EGRESS_HISTORY_MS = 5000;

/** Checks egress options before anything changes: checkOpusStreamOptions, then `historyMs` (RangeError; TypeError for a non-number). */
export function checkEgressOptions(options: EgressOptions): void {
  checkOpusStreamOptions(options);
  const { historyMs } = options;
  if (historyMs === undefined) return;
  if (typeof historyMs !== 'number') throw new TypeError(`historyMs must be a number of ms, got ${typeof historyMs}`);
  if (!Number.isInteger(historyMs) || historyMs < 0 || historyMs > MAX_EGRESS_HISTORY_MS) {
    throw new RangeError(`historyMs must be an integer from 0 to ${MAX_EGRESS_HISTORY_MS} ms, got ${historyMs}`);
  }
}

export interface EgressPacket {
  tap: EgressTap;
  /** Per (station or mix, tap): 0, 1, 2, ... from the encoder's start (a re-enable starts again at 0). */
  sequence: number;
  /** Media time of the packet's first sample, epoch ms. */
  timestampMs: number;
  /**
   * When the newest ingest packet in it arrived on the relay, epoch ms (ingest-to-send
   * latency). A history packet's own arrival is not kept: it carries the arrival of the
   * newest audio held when the encoder started.
   */
  arrivalMs: number;
  /**
   * True for the packets encoded at the encoder's start from audio the station had already
   * played (`historyMs`): they come first, from sequence 0, with their true media times,
   * the last 20 ms before the first live packet's when the audio is contiguous.
   */
  history: boolean;
  /** One Opus packet: 20 ms, 48 kHz mono. A view that stays valid (its buffer is never reused). */
  data: Uint8Array;
}

export const EGRESS_TAP_INDEX: Readonly<Record<EgressTap, 0 | 1>> = { PRE: 0, POST: 1 };
const TAP_NAME: readonly EgressTap[] = ['PRE', 'POST'];

export class EgressSwitch {
  /** Per tap (PRE, POST): the options of the running encoder, null while off. */
  private readonly running: [EgressOptions | null, EgressOptions | null] = [null, null];
  /** Per tap: encoder starts so far (the generation, modulo 256, that packets carry). */
  private readonly starts = [0, 0];

  /**
   * Checks the tap and options (throws before anything changes) and records the change.
   * Returns the tap's index when the encoder must be started, retuned or stopped, -1 when
   * nothing changed. With `canStart` false, options are ignored (a recorded run, an ended
   * station, a closed mix) but null still stops.
   */
  set(tap: EgressTap, options: EgressOptions | null, canStart: boolean): 0 | 1 | -1 {
    if (tap !== 'PRE' && tap !== 'POST') throw new RangeError(`tap must be 'PRE' or 'POST', got ${String(tap)}`);
    const index = EGRESS_TAP_INDEX[tap];
    if (options !== null) checkEgressOptions(options);
    const running = this.running[index];
    if (options === null) {
      if (running === null) return -1;
      this.running[index] = null;
      return index;
    }
    if (!canStart) return -1;
    if (running !== null && running.bitrate === options.bitrate && running.complexity === options.complexity) return -1;
    if (running === null) this.starts[index]++;
    this.running[index] = { bitrate: options.bitrate, complexity: options.complexity, historyMs: options.historyMs ?? 0 };
    return index;
  }

  /** The options of a tap's running encoder (a copy the caller may keep), null while off. */
  options(index: 0 | 1): EgressOptions | null {
    return this.running[index];
  }

  /** Encoder starts of a tap so far (the worker's generation is this modulo 256). */
  generation(index: 0 | 1): number {
    return this.starts[index];
  }

  /** True while some tap is on. */
  get on(): boolean {
    return this.running[0] !== null || this.running[1] !== null;
  }

  /** A tap that stays on gets a fresh encoder elsewhere (a mix moved to another worker): the next generation. */
  restart(index: 0 | 1): void {
    if (this.running[index] !== null) this.starts[index]++;
  }

  /** The packet of a batch record, or null when it is not the running encoder's. */
  packet(r: EgressRecord): EgressPacket | null {
    if (this.running[r.tap] === null || (this.starts[r.tap] & 0xff) !== r.generation) return null;
    return { tap: TAP_NAME[r.tap], sequence: r.sequence, timestampMs: r.timestampMs, arrivalMs: r.arrivalMs, history: r.history, data: r.data };
  }
}
