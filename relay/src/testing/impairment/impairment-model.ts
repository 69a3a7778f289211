/**
 * A network impairment model for one direction of a packet path: decides, for each packet
 * handed to it with its send time, whether it is dropped, delivered once, or delivered twice
 * (duplicated), and at what time. Pure and deterministic: no sockets, no clock, no timers;
 * the same seed and the same sequence of calls give the same decisions, so a test or a
 * benchmark run over a lossy path can be replayed exactly. `udp-impairment-proxy.ts` wraps it
 * around real sockets.
 *
 * Per packet, in this order (each draw from one seeded mulberry32 stream):
 *
 * 1. Loss. Two independent mechanisms, a packet is dropped when either drops it:
 *    - `lossPercent`: independent (Bernoulli) loss with that probability.
 *    - `gilbertElliott`: bursty loss, the two-state Markov chain of Gilbert (1960) and
 *      Elliott (1963), as used by RFC 3611 §4.7.2 and netem. Before each packet the chain
 *      moves Good→Bad with probability p = `pGoodToBad`, Bad→Good with r = `pBadToGood`;
 *      the packet is then lost with probability h = `lossInBad` in Bad (default 1) or
 *      k = `lossInGood` in Good (default 0). The chain starts in Good.
 *      Stationary probabilities: π_bad = p / (p + r), π_good = r / (p + r), so the mean
 *      loss rate is π_bad·h + π_good·k. A stay in Bad lasts a geometric number of packets
 *      with mean 1/r; with h = 1 and k = 0 (the simple Gilbert model) that is exactly the
 *      mean length of a run of consecutive losses. Runs are positively correlated, so the
 *      spread of a measured loss rate over N packets is wider than the binomial one:
 *      Var(losses) ≈ N·[m(1−m) + 2(h−k)²·π_bad·π_good·λ/(1−λ)] with λ = 1 − p − r.
 * 2. Delay. deliverAt = sendTime + `baseDelayMs` + a jitter draw:
 *    - 'uniform' (default): uniform in [0, `jitterMs`), mean jitterMs/2, sd jitterMs/√12;
 *    - 'normal': normal with mean jitterMs/2 and sd jitterMs/4, clipped at 0 (the clip
 *      touches 2.3 % of draws, moves the mean up by 0.0085 sd and narrows the sd to 0.98 of
 *      jitterMs/4); no upper clip.
 *    With `allowReorder` false (the default) a packet is never delivered before the packet
 *    handed in before it: deliverAt = max(draw, previous deliverAt), as on a single FIFO
 *    link where jitter is queueing delay. With it true, jitter reorders packets whenever a
 *    later packet draws a sufficiently shorter delay.
 * 3. Duplication. With probability `duplicatePercent` a delivered packet is delivered a
 *    second time, with its own delay draw (subject to the same ordering rule).
 *
 * Counters: `sent` (packets decided), `dropped`, `duplicated` (extra copies), `delivered`
 * (deliveries scheduled, copies included), `reordered` (deliveries scheduled earlier than a
 * delivery already scheduled for a packet handed in before: the packets that overtake. This
 * is known when the packet is decided; RFC 4737 §3 counts the other side, the packets that
 * arrive after a higher sequence number, which only the receiver can know).
 */
import { mulberry32 } from '../../audio/signals.ts';

export interface GilbertElliottOptions {
  /** Probability per packet of moving from Good to Bad (p), 0..1. */
  pGoodToBad: number;
  /** Probability per packet of moving from Bad to Good (r), 0..1; mean stay in Bad is 1/r packets. */
  pBadToGood: number;
  /** Probability of losing a packet while in Bad (h), 0..1; default 1. */
  lossInBad?: number;
  /** Probability of losing a packet while in Good (k), 0..1; default 0. */
  lossInGood?: number;
}

export type JitterDistribution = 'uniform' | 'normal';

export interface ImpairmentOptions {
  /** Independent random loss, percent 0..100; default 0. */
  lossPercent?: number;
  /** Bursty loss; default none. Applies in addition to `lossPercent`. */
  gilbertElliott?: GilbertElliottOptions;
  /** Fixed one-way delay added to every packet, ms; default 0. */
  baseDelayMs?: number;
  /** Jitter scale, ms: the width of the uniform draw, twice the mean of the normal one; default 0. */
  jitterMs?: number;
  /** Jitter distribution; default 'uniform'. */
  jitterDistribution?: JitterDistribution;
  /** Let jitter reorder packets; default false (order kept, later packets wait). */
  allowReorder?: boolean;
  /** Probability a delivered packet is delivered twice, percent 0..100; default 0. */
  duplicatePercent?: number;
  /** PRNG seed (used at construction only); default 1. */
  seed?: number;
}

export interface ImpairmentCounters {
  sent: number;
  dropped: number;
  duplicated: number;
  delivered: number;
  reordered: number;
}

/**
 * A decision: `copies` deliveries (0 = dropped, 1, or 2 for a duplicate) at `deliverAtMs[0]`
 * and `deliverAtMs[1]`, on the caller's clock. The same object is reused by every call to
 * `decide()`; copy what must outlive the next call.
 */
export interface ImpairmentDecision {
  copies: 0 | 1 | 2;
  readonly deliverAtMs: [number, number];
}

interface Resolved {
  lossP: number;
  ge: Required<GilbertElliottOptions> | null;
  baseDelayMs: number;
  jitterMs: number;
  jitterDistribution: JitterDistribution;
  allowReorder: boolean;
  duplicateP: number;
}

function checkUnit(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw new RangeError(`${name} must be a probability in [0, 1], got ${v}`);
  return v;
}

function checkPercent(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) throw new RangeError(`${name} must be a percentage in [0, 100], got ${v}`);
  return v / 100;
}

function checkMs(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number of ms >= 0, got ${v}`);
  return v;
}

function resolve(o: ImpairmentOptions): Resolved {
  if (o.jitterDistribution !== undefined && o.jitterDistribution !== 'uniform' && o.jitterDistribution !== 'normal') {
    throw new TypeError(`jitterDistribution must be 'uniform' or 'normal', got ${String(o.jitterDistribution)}`);
  }
  const g = o.gilbertElliott;
  return {
    lossP: checkPercent('lossPercent', o.lossPercent),
    ge:
      g === undefined
        ? null
        : {
            pGoodToBad: checkUnit('gilbertElliott.pGoodToBad', g.pGoodToBad),
            pBadToGood: checkUnit('gilbertElliott.pBadToGood', g.pBadToGood),
            lossInBad: checkUnit('gilbertElliott.lossInBad', g.lossInBad ?? 1),
            lossInGood: checkUnit('gilbertElliott.lossInGood', g.lossInGood ?? 0),
          },
    baseDelayMs: checkMs('baseDelayMs', o.baseDelayMs),
    jitterMs: checkMs('jitterMs', o.jitterMs),
    jitterDistribution: o.jitterDistribution ?? 'uniform',
    allowReorder: o.allowReorder ?? false,
    duplicateP: checkPercent('duplicatePercent', o.duplicatePercent),
  };
}

/** Stationary loss rate and mean Bad-state stay (packets) of a Gilbert-Elliott chain. */
export function gilbertElliottTheory(o: GilbertElliottOptions): { lossRate: number; piBad: number; meanBadRunPackets: number } {
  const p = o.pGoodToBad;
  const r = o.pBadToGood;
  const piBad = p + r === 0 ? 0 : p / (p + r);
  return { piBad, lossRate: piBad * (o.lossInBad ?? 1) + (1 - piBad) * (o.lossInGood ?? 0), meanBadRunPackets: 1 / r };
}

export class ImpairmentModel {
  private opts: Resolved;
  private readonly rand: () => number;
  private bad = false;
  /** Latest delivery time scheduled so far (for the ordering rule and the reorder count). */
  private lastDeliverAtMs = -Infinity;
  private readonly decision: ImpairmentDecision = { copies: 0, deliverAtMs: [0, 0] };
  private readonly counters: ImpairmentCounters = { sent: 0, dropped: 0, duplicated: 0, delivered: 0, reordered: 0 };

  constructor(options: ImpairmentOptions = {}) {
    this.opts = resolve(options);
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
    this.rand = mulberry32(seed);
  }

  /**
   * Replaces the impairment (omitted fields go back to their no-impairment defaults). The
   * random stream, the Gilbert-Elliott state, the ordering point and the counters carry on,
   * so a run stays reproducible across the change.
   */
  setOptions(options: ImpairmentOptions): void {
    this.opts = resolve(options);
    if (this.opts.ge === null) this.bad = false;
  }

  /** Decides the fate of the next packet, sent at `sendTimeMs` (any monotonic ms clock). */
  decide(sendTimeMs: number): ImpairmentDecision {
    const o = this.opts;
    const d = this.decision;
    this.counters.sent++;
    // Draw every random number whatever the outcome, so one option never shifts another's stream.
    const lossDraw = this.rand();
    let lost = lossDraw < o.lossP;
    if (o.ge !== null) {
      const move = this.rand();
      this.bad = this.bad ? move >= o.ge.pBadToGood : move < o.ge.pGoodToBad;
      const lose = this.rand();
      if (lose < (this.bad ? o.ge.lossInBad : o.ge.lossInGood)) lost = true;
    }
    const dupDraw = this.rand();
    if (lost) {
      this.counters.dropped++;
      d.copies = 0;
      return d;
    }
    d.deliverAtMs[0] = this.schedule(sendTimeMs);
    d.copies = 1;
    if (dupDraw < o.duplicateP) {
      d.deliverAtMs[1] = this.schedule(sendTimeMs);
      d.copies = 2;
      this.counters.duplicated++;
    }
    return d;
  }

  stats(): ImpairmentCounters {
    return { ...this.counters };
  }

  private schedule(sendTimeMs: number): number {
    const o = this.opts;
    let at = sendTimeMs + o.baseDelayMs + this.jitter();
    if (!o.allowReorder && at < this.lastDeliverAtMs) at = this.lastDeliverAtMs;
    if (at < this.lastDeliverAtMs) this.counters.reordered++;
    else this.lastDeliverAtMs = at;
    this.counters.delivered++;
    return at;
  }

  private jitter(): number {
    const o = this.opts;
    // Two draws always, for the same reason as in decide().
    const u1 = this.rand();
    const u2 = this.rand();
    if (o.jitterMs === 0) return 0;
    if (o.jitterDistribution === 'uniform') return u1 * o.jitterMs;
    const z = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2); // Box-Muller; 1-u1 in (0, 1]
    return Math.max(0, o.jitterMs / 2 + (o.jitterMs / 4) * z);
  }
}
