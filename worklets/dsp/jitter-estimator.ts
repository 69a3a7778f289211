/**
 * The arrival-jitter estimate and the playout target of the low-latency player's jitter
 * buffer (seed 004 §5.2), from each packet's arrival time and media timestamp.
 *
 * Jitter is RFC 3550 §6.4.1's interarrival jitter: with the transit time of packet i,
 * r_i = arrival_i − timestamp_i (the unknown clock offset cancels in differences),
 * D = r_i − r_{i−1} and J += (|D| − J) / 16. Both clocks are in ms.
 *
 * Target delay, the audio the buffer keeps queued ahead of the playhead:
 *   seed 004 §5.2     2·J + 20 ms, clamped to [minDelayMs, maxDelayMs] (20-200 ms)
 *   raised to         the largest lateness seen in the last `windowPackets` packets (a
 *                     packet's lateness is its transit less the smallest transit in that
 *                     window), so one spike (a GC pause, a TCP retransmission) lifts the
 *                     target at once instead of over the 16 packets J needs
 *   smoothed          upwards at once, downwards by `decay` per packet (0.02: a time
 *                     constant of about 1 s at 50 packets/s), so the target does not
 *                     chase every quiet second.
 *
 * Plain arithmetic over preallocated arrays: it runs inside the AudioWorklet.
 */

export interface JitterEstimatorOptions {
  /** Smallest target, ms (seed 004 §5: 20). */
  minDelayMs?: number;
  /** Largest target, ms (seed 004 §5: 200). */
  maxDelayMs?: number;
  /** Packets the lateness window spans (default 100: 2 s of 20 ms packets). */
  windowPackets?: number;
  /** Share of the gap a falling target closes per packet (default 0.02). */
  decay?: number;
}

export const DEFAULT_MIN_DELAY_MS = 20;
export const DEFAULT_MAX_DELAY_MS = 200;

export class JitterEstimator {
  /** RFC 3550 interarrival jitter, ms. */
  jitterMs = 0;
  /** The playout target, ms, in [minDelayMs, maxDelayMs]. */
  targetMs: number;
  /** Lateness of the last packet against the fastest in the window, ms. */
  latenessMs = 0;

  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  private readonly decay: number;
  /** Transit times of the last packets (a ring). */
  private readonly transits: Float64Array;
  private write = 0;
  private filled = 0;
  private lastTransit = 0;
  private packets = 0;

  constructor(opts: JitterEstimatorOptions = {}) {
    this.minDelayMs = opts.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
    this.maxDelayMs = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.decay = opts.decay ?? 0.02;
    const window = opts.windowPackets ?? 100;
    if (!(this.minDelayMs >= 0 && this.maxDelayMs >= this.minDelayMs)) {
      throw new RangeError(`need 0 <= minDelayMs <= maxDelayMs, got ${this.minDelayMs} and ${this.maxDelayMs}`);
    }
    if (!(Number.isInteger(window) && window >= 2)) throw new RangeError(`windowPackets must be an integer >= 2, got ${window}`);
    if (!(this.decay > 0 && this.decay <= 1)) throw new RangeError(`decay must be in (0, 1], got ${this.decay}`);
    this.transits = new Float64Array(window);
    this.targetMs = this.minDelayMs;
  }

  /** Packets seen since the last reset. */
  get count(): number {
    return this.packets;
  }

  /** Forgets everything (a new stream: its clock has nothing to do with the last one's). */
  reset(): void {
    this.jitterMs = 0;
    this.latenessMs = 0;
    this.targetMs = this.minDelayMs;
    this.write = 0;
    this.filled = 0;
    this.packets = 0;
  }

  /** Takes one packet: its arrival time and media timestamp, both in ms. */
  add(arrivalMs: number, timestampMs: number): void {
    const transit = arrivalMs - timestampMs;
    if (this.packets > 0) {
      const d = transit - this.lastTransit;
      this.jitterMs += ((d < 0 ? -d : d) - this.jitterMs) / 16;
    }
    this.lastTransit = transit;
    this.packets++;

    const ring = this.transits;
    ring[this.write] = transit;
    if (++this.write === ring.length) this.write = 0;
    if (this.filled < ring.length) this.filled++;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < this.filled; i++) {
      const t = ring[i];
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    this.latenessMs = transit - lo;

    let raw = 2 * this.jitterMs + 20;
    const spread = hi - lo;
    if (spread > raw) raw = spread;
    if (raw < this.minDelayMs) raw = this.minDelayMs;
    if (raw > this.maxDelayMs) raw = this.maxDelayMs;
    this.targetMs = raw >= this.targetMs ? raw : this.targetMs + (raw - this.targetMs) * this.decay;
  }
}
