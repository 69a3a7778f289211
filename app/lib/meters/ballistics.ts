/**
 * What a level meter shows, from the capture worklet's readings (about every 20 ms):
 * RMS and peak as they are, a peak hold that stays for `holdMs` and then falls at
 * `decayDbPerS`, a clip latch that stays lit until reset, momentary loudness, and a short
 * history of RMS for the strip chart. Plain state and arithmetic, no DOM.
 */

export interface MeterReading {
  rmsDbfs: number;
  peakDbfs: number;
  /** Samples at or over the clip threshold in the reading's window. */
  clippedSamples: number;
  momentaryLufs: number;
}

export interface BallisticsOptions {
  /** Peak hold time, ms (default 1500). */
  holdMs?: number;
  /** Fall rate of the held peak after the hold, dB per second (default 20). */
  decayDbPerS?: number;
  /** History length in points (default 300: 15 s at 20 points per second). */
  historyPoints?: number;
  /** One history point per this many ms (default 50); each keeps the loudest RMS in it. */
  historyStepMs?: number;
  /** The meter's floor, dBFS (default -90). */
  floorDbfs?: number;
}

export class MeterBallistics {
  rmsDbfs: number;
  peakDbfs: number;
  peakHoldDbfs: number;
  momentaryLufs: number;
  clipLatched = false;
  /** Clipped samples since the last reset of the latch. */
  clippedSamples = 0;
  /** History of RMS, oldest first when read with `historyInOrder`. */
  readonly history: Float32Array;

  private readonly holdMs: number;
  private readonly decayDbPerS: number;
  private readonly stepMs: number;
  readonly floorDbfs: number;
  private heldAtMs = -Infinity;
  private lastUpdateMs: number | null = null;
  private historyWrite = 0;
  private stepStartMs: number | null = null;
  private stepMax: number;

  constructor(opts: BallisticsOptions = {}) {
    this.holdMs = opts.holdMs ?? 1500;
    this.decayDbPerS = opts.decayDbPerS ?? 20;
    this.stepMs = opts.historyStepMs ?? 50;
    this.floorDbfs = opts.floorDbfs ?? -90;
    this.history = new Float32Array(opts.historyPoints ?? 300).fill(this.floorDbfs);
    this.rmsDbfs = this.peakDbfs = this.peakHoldDbfs = this.momentaryLufs = this.stepMax = this.floorDbfs;
  }

  update(r: MeterReading, nowMs: number): void {
    const floor = this.floorDbfs;
    this.rmsDbfs = Math.max(r.rmsDbfs, floor);
    this.peakDbfs = Math.max(r.peakDbfs, floor);
    this.momentaryLufs = Math.max(r.momentaryLufs, floor);
    if (r.clippedSamples > 0) {
      this.clipLatched = true;
      this.clippedSamples += r.clippedSamples;
    }

    // Peak hold: a new peak at or above the held one restarts the hold; after the hold the
    // held value falls linearly in dB, never below the current peak.
    const since = this.lastUpdateMs === null ? 0 : nowMs - this.lastUpdateMs;
    this.lastUpdateMs = nowMs;
    if (this.peakDbfs >= this.peakHoldDbfs) {
      this.peakHoldDbfs = this.peakDbfs;
      this.heldAtMs = nowMs;
    } else if (nowMs - this.heldAtMs > this.holdMs) {
      const fallMs = Math.min(since, nowMs - this.heldAtMs - this.holdMs);
      this.peakHoldDbfs = Math.max(this.peakDbfs, this.peakHoldDbfs - (this.decayDbPerS * fallMs) / 1000);
    }

    // Close the steps this reading is past (a gap in readings leaves floor points), then count it
    // in the step it falls in.
    if (this.stepStartMs === null) this.stepStartMs = nowMs;
    while (nowMs - this.stepStartMs >= this.stepMs) {
      this.history[this.historyWrite] = this.stepMax;
      this.historyWrite = (this.historyWrite + 1) % this.history.length;
      this.stepStartMs += this.stepMs;
      this.stepMax = floor;
    }
    if (this.rmsDbfs > this.stepMax) this.stepMax = this.rmsDbfs;
  }

  resetClip(): void {
    this.clipLatched = false;
    this.clippedSamples = 0;
  }

  /** The history, oldest first, into `out` (same length as `history`). */
  historyInOrder(out: Float32Array): Float32Array {
    const h = this.history;
    const n = h.length;
    for (let i = 0; i < n; i++) out[i] = h[(this.historyWrite + i) % n];
    return out;
  }
}
