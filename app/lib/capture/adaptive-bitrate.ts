/**
 * The capture's Opus bitrate under a struggling link (seed 004 §8, AdaptiveBitrateController):
 * lower it quickly when the link says it is congested, raise it slowly once the link has been
 * clean for a while. Pure decisions over samples of the link; the capture session feeds it
 * and applies what it decides (to the encoder worker over WebSocket, to the RTP sender's
 * `maxBitrate` over WebRTC).
 *
 * Differences from the seed's sketch, and why:
 * - Time-based (ms), not counted in updates, so the sampling interval does not change the
 *   behaviour.
 * - A cut is held for `decreaseHoldMs` before the next one: a lower bitrate needs a moment
 *   to drain a queue, and cutting on every sample of one episode would collapse to the floor.
 * - Besides loss, two WebSocket signals count as congestion: the relay's `status`
 *   backpressure message and audio waiting in the socket's send buffer.
 */

/** What the capture saw of its link since the last sample. */
export interface LinkSample {
  /** When the sample was taken, ms on a monotonic clock (performance.now()). */
  atMs: number;
  /** The relay's last `status` said `backpressure` (WebSocket ingest). */
  relayBackpressure?: boolean;
  /** The WebSocket's `bufferedAmount`: bytes accepted by `send` but not yet sent. */
  bufferedBytes?: number;
  /** Share of packets lost on the way to the relay over the last interval, 0-1 (WebRTC RTCP). */
  lossFraction?: number | null;
}

export type BitrateReason = 'relay backpressure' | 'send buffer backlog' | 'packet loss' | 'link recovered';

export interface BitrateChange {
  fromBps: number;
  toBps: number;
  reason: BitrateReason;
  /** The figure behind the reason: loss in %, backlog in ms; null for the others. */
  detail: number | null;
  atMs: number;
}

export interface AdaptiveBitrateOptions {
  /** The bitrate chosen on the page: the start and the ceiling, bits/s. */
  maxBps: number;
  /** The floor, bits/s (12 kbps: still intelligible wideband speech in Opus). */
  minBps?: number;
  /** Audio waiting in the send buffer beyond this much is congestion, ms of audio at the current bitrate. */
  backlogHighMs?: number;
  /** Loss above this share is congestion (a cut of `severeFactor`)... */
  severeLoss?: number;
  /** ...above this one, a gentler cut (`moderateFactor`). */
  moderateLoss?: number;
  /** Below this share (and nothing else wrong) the link is clean. */
  cleanLoss?: number;
  severeFactor?: number;
  moderateFactor?: number;
  /** Each raise multiplies by this. */
  increaseFactor?: number;
  /** No second cut within this long of a cut, ms. */
  decreaseHoldMs?: number;
  /** After a cut, the link must be clean this long before the first raise, ms. */
  increaseCooldownMs?: number;
  /** Between raises, ms. */
  increaseStepMs?: number;
}

export const ADAPTIVE_BITRATE_DEFAULTS = {
  minBps: 12_000,
  backlogHighMs: 500,
  severeLoss: 0.05,
  moderateLoss: 0.02,
  cleanLoss: 0.01,
  severeFactor: 0.7,
  moderateFactor: 0.85,
  increaseFactor: 1.1,
  decreaseHoldMs: 2_000,
  increaseCooldownMs: 10_000,
  increaseStepMs: 3_000,
} as const;

type Resolved = Required<AdaptiveBitrateOptions>;

export class AdaptiveBitrateController {
  private readonly o: Resolved;
  private bps: number;
  private lastDecreaseMs = Number.NEGATIVE_INFINITY;
  /** When the link last stopped being clean (a congested sample), ms; null: never congested. */
  private lastCongestedMs: number | null = null;
  private lastIncreaseMs = Number.NEGATIVE_INFINITY;

  constructor(options: AdaptiveBitrateOptions) {
    const o = { ...ADAPTIVE_BITRATE_DEFAULTS, ...options };
    if (!(Number.isFinite(o.maxBps) && o.maxBps > 0)) throw new TypeError(`maxBps must be a positive number of bits/s, got ${o.maxBps}`);
    if (!(Number.isFinite(o.minBps) && o.minBps > 0)) throw new TypeError(`minBps must be a positive number of bits/s, got ${o.minBps}`);
    // A ceiling chosen below the floor: the floor gives way (there is nothing to adapt).
    o.minBps = Math.min(o.minBps, o.maxBps);
    this.o = o;
    this.bps = o.maxBps;
  }

  /** The bitrate in force, bits/s. */
  get bitrateBps(): number {
    return this.bps;
  }

  get maxBps(): number {
    return this.o.maxBps;
  }

  /** One look at the link; a change to apply, or null to keep the bitrate. */
  update(s: LinkSample): BitrateChange | null {
    const o = this.o;
    const congestion = this.congestion(s);
    if (congestion !== null) {
      this.lastCongestedMs = s.atMs;
      if (s.atMs - this.lastDecreaseMs < o.decreaseHoldMs) return null;
      const to = Math.max(o.minBps, roundBps(this.bps * congestion.factor));
      if (to >= this.bps) return null;
      this.lastDecreaseMs = s.atMs;
      return this.change(to, congestion.reason, congestion.detail, s.atMs);
    }
    if (!this.isClean(s) || this.bps >= o.maxBps) return null;
    // Clean: raise once the cooldown since the last congestion is over, one step at a time.
    if (this.lastCongestedMs !== null && s.atMs - this.lastCongestedMs < o.increaseCooldownMs) return null;
    if (s.atMs - this.lastIncreaseMs < o.increaseStepMs) return null;
    this.lastIncreaseMs = s.atMs;
    // Rounded down, so a step never exceeds the factor.
    const to = Math.min(o.maxBps, Math.max(this.bps + 100, Math.floor((this.bps * o.increaseFactor) / 100) * 100));
    return this.change(to, 'link recovered', null, s.atMs);
  }

  private congestion(s: LinkSample): { factor: number; reason: BitrateReason; detail: number | null } | null {
    const o = this.o;
    const loss = s.lossFraction ?? null;
    if (loss !== null && loss > o.severeLoss) return { factor: o.severeFactor, reason: 'packet loss', detail: round1(loss * 100) };
    if (s.relayBackpressure === true) return { factor: o.severeFactor, reason: 'relay backpressure', detail: null };
    const backlogMs = this.backlogMs(s);
    if (backlogMs > o.backlogHighMs) return { factor: o.severeFactor, reason: 'send buffer backlog', detail: Math.round(backlogMs) };
    if (loss !== null && loss > o.moderateLoss) return { factor: o.moderateFactor, reason: 'packet loss', detail: round1(loss * 100) };
    return null;
  }

  private isClean(s: LinkSample): boolean {
    const loss = s.lossFraction ?? 0;
    // Half the backlog threshold: between the two, neither cut nor raise.
    return loss < this.o.cleanLoss && s.relayBackpressure !== true && this.backlogMs(s) <= this.o.backlogHighMs / 2;
  }

  /** The send buffer as audio time at the current bitrate, ms. */
  private backlogMs(s: LinkSample): number {
    const bytes = s.bufferedBytes ?? 0;
    return bytes > 0 ? ((bytes * 8) / this.bps) * 1000 : 0;
  }

  private change(toBps: number, reason: BitrateReason, detail: number | null, atMs: number): BitrateChange {
    const c: BitrateChange = { fromBps: this.bps, toBps, reason, detail, atMs };
    this.bps = toBps;
    return c;
  }
}

/** "Bitrate: 32 → 22 kbps (relay backpressure)", as the capture page logs it. */
export function describeBitrateChange(c: BitrateChange): string {
  const kbps = (bps: number): string => String(Math.round(bps / 100) / 10);
  let why: string = c.reason;
  if (c.reason === 'packet loss' && c.detail !== null) why = `packet loss ${c.detail}%`;
  else if (c.reason === 'send buffer backlog' && c.detail !== null) why = `send buffer backlog ${c.detail} ms`;
  return `Bitrate: ${kbps(c.fromBps)} → ${kbps(c.toBps)} kbps (${why})`;
}

/** Opus takes any bitrate in bits/s; 100 bps steps keep the log readable. */
function roundBps(bps: number): number {
  return Math.round(bps / 100) * 100;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
