/**
 * The jitter buffer's target delay, estimated from relative arrival delay as WebRTC's NetEq
 * does it (modules/audio_coding/neteq: RelativeArrivalDelayTracker, Histogram, DelayManager):
 *
 * - transit = arrival − media time (both ms). Its absolute value means nothing (the sender's
 *   clock is not ours), so each packet's relative delay is its transit minus the smallest
 *   transit over the last WINDOW_MS: a constant network delay and any clock offset cancel,
 *   and a slow clock drift shifts the reference with it instead of piling up as "delay".
 * - The relative delays go into a histogram of BIN_MS bins with exponential forgetting:
 *   each packet's weight is 1 − f and every bin is scaled by f, f = exp(−duration/τ), so
 *   the histogram describes the last few τ of media time whatever the packet size.
 * - The target is the TARGET_QUANTILE of that histogram (interpolated inside its bin),
 *   clamped to [MIN_TARGET_MS, MAX_TARGET_MS] (seed 004 §5: min_delay_ms 20, max_delay_ms
 *   200). It rises as soon as late packets show up in the tail and comes down only as fast
 *   as the forgetting factor lets the old delays fade: the decay is the shrink rate.
 *
 * Bounded memory: a ring of RING_CAPACITY transits and BIN_COUNT bins, allocated here.
 */

/** Width of a histogram bin, ms. NetEq uses 20 ms buckets, one packet of its usual size;
 * 10 ms halves the quantisation of a target that only spans 20-200 ms, and the quantile is
 * interpolated inside the bin, so a 40 ms spread reads 38 ms rather than 40 or 60. */
export const BIN_MS = 10;
/** Bins from 0 up to the largest target; the last one also holds everything beyond. */
export const BIN_COUNT = 21;
/** Fraction of packets that must arrive before their play-out time (NetEq's default is 0.95-0.97). */
export const TARGET_QUANTILE = 0.95;
/** Forgetting time constant τ of the histogram, ms of media. With τ = 8 s the 95 % quantile of
 * a new jitter level is reached within ~10 s, and after the jitter stops the tail falls under
 * 5 % in τ·ln(0.5/0.05) ≈ 18 s (NetEq's 0.9993 per packet is τ ≈ 29 s at 20 ms packets). */
export const FORGET_TAU_MS = 8000;
/** The smallest transit is taken over this window of arrival time, ms (NetEq's kMaxHistoryMs). */
export const WINDOW_MS = 2000;
/** Transits remembered: the window at 10 ms packets, with room for duplicates and reordering. */
export const RING_CAPACITY = 256;
/**
 * Target delay bounds, ms (seed 004 §5). The 20 ms floor is for datagrams (RTP, WebRTC):
 * a receiver that plays as a packet lands conceals the next one that comes a little late.
 * A stream (WebSocket over TCP) loses nothing and delivers in order, and a dry buffer waits
 * for its packet rather than conceal it, so it may aim as low as STREAM_MIN_TARGET_MS.
 */
export const MIN_TARGET_MS = 20;
export const STREAM_MIN_TARGET_MS = 0;
export const MAX_TARGET_MS = 200;

export class DelayEstimator {
  private readonly bins = new Float64Array(BIN_COUNT);
  private readonly ringArrivalMs = new Float64Array(RING_CAPACITY);
  private readonly ringTransitMs = new Float64Array(RING_CAPACITY);
  /** Index of the oldest entry and the number held. */
  private ringStart = 0;
  private ringCount = 0;
  private minTransit = 0;
  private lastRelativeDelay = 0;
  private target = MIN_TARGET_MS;
  private observed = 0;
  /** The least target: MIN_TARGET_MS by default, less for a stream, more when the receiver's own timing needs it. */
  private readonly floorMs: number;

  /** The largest target: MAX_TARGET_MS, or less when the receiver's latency budget is smaller. */
  private readonly ceilingMs: number;

  /**
   * @param minTargetMs the least target, ms, within [STREAM_MIN_TARGET_MS, MAX_TARGET_MS] (default MIN_TARGET_MS).
   * @param maxTargetMs the largest, from minTargetMs to MAX_TARGET_MS (default MAX_TARGET_MS).
   */
  constructor(minTargetMs: number = MIN_TARGET_MS, maxTargetMs: number = MAX_TARGET_MS) {
    if (!(Number.isFinite(minTargetMs) && minTargetMs >= STREAM_MIN_TARGET_MS && minTargetMs <= MAX_TARGET_MS)) {
      throw new RangeError(`minTargetMs must be ${STREAM_MIN_TARGET_MS}-${MAX_TARGET_MS} ms, got ${minTargetMs}`);
    }
    if (!(Number.isFinite(maxTargetMs) && maxTargetMs >= minTargetMs && maxTargetMs <= MAX_TARGET_MS)) {
      throw new RangeError(`maxTargetMs must be ${minTargetMs}-${MAX_TARGET_MS} ms, got ${maxTargetMs}`);
    }
    this.floorMs = minTargetMs;
    this.ceilingMs = maxTargetMs;
    this.reset();
  }

  /** Forgets everything: the histogram starts with all its weight on "no jitter". */
  reset(): void {
    this.bins.fill(0);
    this.bins[0] = 1;
    this.ringStart = 0;
    this.ringCount = 0;
    this.minTransit = 0;
    this.lastRelativeDelay = 0;
    this.target = this.floorMs;
    this.observed = 0;
  }

  /**
   * One packet's arrival (local ms) and media time (the sender's ms, unwrapped), and its
   * duration (ms of media: the weight it gets against the forgetting). Arrivals are in
   * order of the local clock; media times may go backwards (reordering).
   */
  observe(arrivalMs: number, mediaMs: number, durationMs: number): void {
    const transit = arrivalMs - mediaMs;
    this.remember(arrivalMs, transit);
    const relative = transit - this.minTransit;
    this.lastRelativeDelay = relative;
    this.observed++;

    const f = Math.exp(-durationMs / FORGET_TAU_MS);
    const bins = this.bins;
    for (let i = 0; i < BIN_COUNT; i++) bins[i] *= f;
    const bin = Math.min(BIN_COUNT - 1, Math.floor(relative / BIN_MS));
    bins[bin] += 1 - f;
    this.target = Math.min(this.ceilingMs, Math.max(this.floorMs, this.quantile(TARGET_QUANTILE)));
  }

  /** The target delay, ms, within the bounds given to the constructor. */
  get targetMs(): number {
    return this.target;
  }

  /** The smallest transit (arrival − media) in the window, ms: where a packet with no jitter would arrive. */
  get minTransitMs(): number {
    return this.minTransit;
  }

  /** The last packet's relative delay, ms. */
  get relativeDelayMs(): number {
    return this.lastRelativeDelay;
  }

  get packetsObserved(): number {
    return this.observed;
  }

  /** The q-quantile of the relative delay, ms, interpolated linearly inside its bin. */
  quantile(q: number): number {
    const bins = this.bins;
    let total = 0;
    for (let i = 0; i < BIN_COUNT; i++) total += bins[i];
    const want = q * total;
    let below = 0;
    for (let i = 0; i < BIN_COUNT; i++) {
      const mass = bins[i];
      if (below + mass >= want && mass > 0) return (i + (want - below) / mass) * BIN_MS;
      below += mass;
    }
    return BIN_COUNT * BIN_MS;
  }

  /** Adds a transit to the window ring, drops what fell out of the window, and rescans the minimum. */
  private remember(arrivalMs: number, transit: number): void {
    if (this.ringCount === RING_CAPACITY) {
      this.ringStart = (this.ringStart + 1) % RING_CAPACITY;
      this.ringCount--;
    }
    const at = (this.ringStart + this.ringCount) % RING_CAPACITY;
    this.ringArrivalMs[at] = arrivalMs;
    this.ringTransitMs[at] = transit;
    this.ringCount++;
    while (this.ringCount > 1 && arrivalMs - this.ringArrivalMs[this.ringStart] > WINDOW_MS) {
      this.ringStart = (this.ringStart + 1) % RING_CAPACITY;
      this.ringCount--;
    }
    let min = Infinity;
    for (let i = 0, j = this.ringStart; i < this.ringCount; i++, j = (j + 1) % RING_CAPACITY) {
      if (this.ringTransitMs[j] < min) min = this.ringTransitMs[j];
    }
    this.minTransit = min;
  }
}
