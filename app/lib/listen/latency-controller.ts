/**
 * How the MSE player holds its latency near the target (seed 002 §9): the live
 * edge it estimates, when it speeds playback up, when it seeks, where it starts, and what
 * played audio it trims. Plain numbers in seconds of media time, no DOM.
 *
 *   latency = live edge − currentTime
 *   > seekBehindS (default max(2 s, target + 1 s))     seek to bufferedEnd − target
 *   > target + catchUpS (0.25 s)                       playbackRate 1.02..1.05, more the further behind
 *   while speeding up, until < target + settleS (0.05)  keep speeding (hysteresis)
 *   < target − refillS (0.3 s)                         playbackRate 0.97 until back within settleS:
 *                                                       after a reconnection skipped what was missed,
 *                                                       the buffer (the margin against the next
 *                                                       hiccup) grows back to the target
 *   otherwise                                          playbackRate 1
 *
 * Rates stay within a few per cent of 1, where pitch-preserving playback (the browser's
 * default, `preservesPitch`) is inaudible on speech.
 */

export interface LatencyControllerOptions {
  /** The latency to hold, s (the initial buffer). */
  targetS: number;
  /** Seek to the live edge when further behind than this, s (default max(2, target + 1)). */
  seekBehindS?: number;
  /** Speed up when the latency is this far over the target, s (default 0.25). */
  catchUpS?: number;
  /** Stop speeding up when within this of the target, s (default 0.05). */
  settleS?: number;
  /** The gentlest and the strongest catch-up rates (default 1.02 and 1.05). */
  minRate?: number;
  maxRate?: number;
  /** Slow down when the latency is this far under the target, s (default 0.3). */
  refillS?: number;
  /** The rate that lets the buffer grow back (default 0.97). */
  refillRate?: number;
}

export interface PlayheadView {
  currentTime: number;
  bufferedStart: number;
  bufferedEnd: number;
  /** The estimated live edge (LiveEdge.at), s. */
  liveEdge: number;
}

export interface LatencyDecision {
  playbackRate: number;
  /** Where to seek, or null to stay. */
  seekTo: number | null;
  latencyS: number;
}

/** Audio ahead of the playhead under which the player counts an underrun, s. */
export const UNDERRUN_AHEAD_S = 0.1;

export class LatencyController {
  readonly targetS: number;
  readonly seekBehindS: number;
  private readonly catchUpS: number;
  private readonly settleS: number;
  private readonly minRate: number;
  private readonly maxRate: number;
  private readonly refillS: number;
  private readonly refillRate: number;
  private rate = 1;

  constructor(opts: LatencyControllerOptions) {
    if (!(opts.targetS > 0)) throw new RangeError(`targetS must be positive, got ${opts.targetS}`);
    this.targetS = opts.targetS;
    this.seekBehindS = opts.seekBehindS ?? Math.max(2, opts.targetS + 1);
    this.catchUpS = opts.catchUpS ?? 0.25;
    this.settleS = opts.settleS ?? 0.05;
    this.minRate = opts.minRate ?? 1.02;
    this.maxRate = opts.maxRate ?? 1.05;
    this.refillS = opts.refillS ?? 0.3;
    this.refillRate = opts.refillRate ?? 0.97;
    if (!(this.seekBehindS > this.targetS + this.catchUpS)) throw new RangeError('seekBehindS must be over targetS + catchUpS');
  }

  get playbackRate(): number {
    return this.rate;
  }

  /** Forgets the catch-up in progress (after a seek, a pause, a reconnection). */
  reset(): void {
    this.rate = 1;
  }

  decide(v: PlayheadView): LatencyDecision {
    const latencyS = v.liveEdge - v.currentTime;
    const t = this.targetS;
    if (latencyS > this.seekBehindS) {
      this.rate = 1;
      return { playbackRate: 1, seekTo: startPosition(v.bufferedStart, v.bufferedEnd, t), latencyS };
    }
    const over = latencyS - t;
    if (over > this.catchUpS || (this.rate > 1 && over > this.settleS)) {
      // From minRate just over the band to maxRate near the seek threshold.
      const span = this.seekBehindS - t - this.catchUpS;
      const k = Math.min(1, Math.max(0, (over - this.catchUpS) / span));
      this.rate = this.minRate + (this.maxRate - this.minRate) * k;
    } else if (over < -this.refillS || (this.rate < 1 && over < -this.settleS)) {
      this.rate = this.refillRate;
    } else {
      this.rate = 1;
    }
    return { playbackRate: this.rate, seekTo: null, latencyS };
  }
}

/** Where to start (or resume) playing: `targetS` before the newest audio, not before the oldest. */
export function startPosition(bufferedStart: number, bufferedEnd: number, targetS: number): number {
  return Math.max(bufferedStart, bufferedEnd - targetS);
}

/**
 * The played audio to remove from the SourceBuffer, or null: everything older than
 * `keepBehindS` before the playhead, once there is `slackS` more of it (so removes come a few
 * seconds apart, not on every tick).
 */
export function trimRange(currentTime: number, bufferedStart: number, keepBehindS = 10, slackS = 5): { start: number; end: number } | null {
  const end = currentTime - keepBehindS;
  return end - bufferedStart >= slackS ? { start: bufferedStart, end } : null;
}

/**
 * The live edge as the player can know it: a cluster arrives when it is complete, so its
 * end was live when it arrived, and the live edge has moved on in real time since.
 */
export class LiveEdge {
  private endS: number | null = null;
  private atMs = 0;

  /** After an append: the buffered end now, and when the appended data arrived (ms, any monotonic clock). */
  appended(bufferedEnd: number, arrivalMs: number): void {
    this.endS = bufferedEnd;
    this.atMs = arrivalMs;
  }

  /** Forgets the estimate (a new stream). */
  reset(): void {
    this.endS = null;
  }

  /** The live edge at `nowMs`, s of media time; null before the first append. */
  at(nowMs: number): number | null {
    return this.endS === null ? null : this.endS + Math.max(0, nowMs - this.atMs) / 1000;
  }
}
