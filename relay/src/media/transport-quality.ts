/**
 * Call-quality figures of a live station's packet stream as it arrives (before the ingress
 * queue, so the relay's own drops are not the network's): loss from sequence gaps and
 * interarrival jitter, the RTP receiver's statistics (RFC 3550 §6.4.1, A.3, A.8) computed
 * from the frame header's sequence numbers and media timestamps (protocol/frame.ts, ms).
 *
 * - Loss: expected packets are the sequence numbers spanned (extended past 2^16), received
 *   are the packets counted; loss over a window is Δexpected − Δreceived over Δexpected,
 *   from snapshots taken once a second (`roll`), so the window is the last `windowS`.
 *   A late packet filling a gap takes its loss back; duplicates can make the difference
 *   negative, which counts as no loss (RFC 3550 A.3).
 * - Jitter: J += (|D| − J)/16, D being the change in transit time (arrival − media
 *   timestamp) between consecutive arrivals; arrival and media times are both ms, so J is
 *   ms and the sender's clock offset cancels out.
 *
 * A jump of the sequence or the timestamps beyond what a network can explain (a sender
 * that restarted its counters) is a new baseline, not a loss or a jitter spike. One-way
 * latency needs a clock shared with the sender, which a WebSocket sender does not give:
 * it is not measured here. Allocates in the constructor only.
 */
import type { TransportQuality as TransportQualityJson } from '../../../protocol/api.ts';
import { sequenceDelta, timestampDeltaMs } from '../../../protocol/frame.ts';
import { mosFromEmodel } from '../../../protocol/qos.ts';
import type { Stage, StageStats } from './stage.ts';

/** A forward sequence jump beyond this is a restart, not 3000 lost packets (RFC 3550 A.1's MAX_DROPOUT). */
const MAX_DROPOUT = 3000;
/** A media timestamp step outside ±this is a discontinuity of the sender's clock, ms (as live-clock.ts). */
const MAX_TIMESTAMP_STEP_MS = 2000;
/** Snapshots are taken at most this often, ms. */
const SNAPSHOT_MS = 1000;

export interface TransportQualityOptions {
  /** Loss is measured over this many seconds (default 10). */
  windowS?: number;
}

export interface TransportFigures {
  /** Lost over the window, percent; null when no packet was expected in it. */
  lossPercent: number | null;
  /** RFC 3550 interarrival jitter, ms; null before two packets. */
  jitterMs: number | null;
  /** Packets expected and received over the window. */
  expected: number;
  received: number;
  windowS: number;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/**
 * The figures as `/api/relay/stats` reports them. The MOS takes the delay as unknown (no
 * delay impairment): over WebSocket it says what the loss alone costs.
 */
export function transportQualityJson(f: TransportFigures): TransportQualityJson {
  return {
    window_s: f.windowS,
    loss_percent: f.lossPercent === null ? null : round2(f.lossPercent),
    jitter_ms: f.jitterMs === null ? null : round2(f.jitterMs),
    latency_ms: null,
    mos: f.lossPercent === null ? null : round2(mosFromEmodel(null, f.lossPercent)),
  };
}

export class TransportQuality implements Stage {
  /** Cumulative: sequence slots spanned since the first packet, and packets received. */
  private expected = 0;
  private received = 0;
  private lastSequence = -1;
  private lastTimestampMs = 0;
  /** Media time of the last packet, unwrapped, ms. */
  private mediaMs = 0;
  private lastTransitMs = 0;
  private jitter = 0;
  private jitterSamples = 0;
  private resets = 0;
  /** Ring of snapshots: expected and received at each roll. */
  private readonly snapExpected: Float64Array;
  private readonly snapReceived: Float64Array;
  private snapCount = 0;
  private snapHead = 0;
  private lastSnapMs = -Infinity;

  constructor(options: TransportQualityOptions = {}) {
    const windowS = options.windowS ?? 10;
    if (!(Number.isInteger(windowS) && windowS >= 1 && windowS <= 300)) throw new RangeError(`windowS must be a whole number of seconds 1-300, got ${windowS}`);
    this.snapExpected = new Float64Array(windowS + 1);
    this.snapReceived = new Float64Array(windowS + 1);
  }

  /** One packet as it arrives: its header's sequence and timestamp, and its arrival, ms. */
  observe(sequence: number, timestampMs: number, arrivalMs: number): void {
    this.received++;
    if (this.lastSequence < 0) {
      this.expected = 1;
      this.restart(sequence, timestampMs, arrivalMs);
      return;
    }
    const delta = sequenceDelta(this.lastSequence, sequence);
    const step = timestampDeltaMs(this.lastTimestampMs, timestampMs);
    if (delta > MAX_DROPOUT || step > MAX_TIMESTAMP_STEP_MS || step < -MAX_TIMESTAMP_STEP_MS) {
      // The sender started again: this packet is the next one, on a new baseline.
      this.expected++;
      this.resets++;
      this.restart(sequence, timestampMs, arrivalMs);
      return;
    }
    if (delta > 0) {
      this.expected += delta;
      this.lastSequence = sequence;
    }
    // A late packet (delta ≤ 0) fills a gap counted before: received rises, expected does not.
    const mediaMs = this.mediaMs + step;
    if (delta > 0) {
      this.lastTimestampMs = timestampMs;
      this.mediaMs = mediaMs;
    }
    const transit = arrivalMs - mediaMs;
    const d = transit - this.lastTransitMs;
    this.lastTransitMs = transit;
    this.jitter += (Math.abs(d) - this.jitter) / 16;
    this.jitterSamples++;
  }

  /** Takes a snapshot when a second has passed since the last one (called from the station's tick). */
  roll(nowMs: number): void {
    if (nowMs - this.lastSnapMs < SNAPSHOT_MS) return;
    this.lastSnapMs = nowMs;
    this.snapExpected[this.snapHead] = this.expected;
    this.snapReceived[this.snapHead] = this.received;
    this.snapHead = (this.snapHead + 1) % this.snapExpected.length;
    if (this.snapCount < this.snapExpected.length) this.snapCount++;
  }

  /** The figures over the window: from the oldest snapshot kept to now. */
  figures(): TransportFigures {
    let baseExpected = 0;
    let baseReceived = 0;
    if (this.snapCount === this.snapExpected.length) {
      baseExpected = this.snapExpected[this.snapHead];
      baseReceived = this.snapReceived[this.snapHead];
    }
    const expected = this.expected - baseExpected;
    const received = this.received - baseReceived;
    const lossPercent = expected > 0 ? (Math.max(0, expected - received) / expected) * 100 : null;
    return { lossPercent, jitterMs: this.jitterSamples > 0 ? this.jitter : null, expected, received, windowS: this.snapExpected.length - 1 };
  }

  stats(): StageStats {
    const f = this.figures();
    return { expected: this.expected, received: this.received, window_loss_percent: f.lossPercent, jitter_ms: f.jitterMs, resets: this.resets };
  }

  private restart(sequence: number, timestampMs: number, arrivalMs: number): void {
    this.lastSequence = sequence;
    this.lastTimestampMs = timestampMs;
    this.mediaMs = 0;
    this.lastTransitMs = arrivalMs;
  }
}
