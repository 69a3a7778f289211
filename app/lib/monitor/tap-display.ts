/**
 * The monitor's rendering layer for one tap (seed 003 §18): the relay's latest meters for
 * the tap, fed at the display's frame rate into the capture page's ballistics, so the peak
 * hold (1.5 s) and its decay (20 dB/s) move smoothly between 20 Hz measurements and the
 * clip indicator latches until reset. Plain state and arithmetic, no DOM.
 */
import type { TapMeters } from '$protocol/telemetry';
import { MeterBallistics } from '$lib/meters/ballistics';

/** Bottom of the bars, dBFS: quieter reads as an empty bar. */
export const BAR_FLOOR_DBFS = -60;

/** Where `db` falls on a bar from `BAR_FLOOR_DBFS` (0) to 0 dBFS (1), clamped. */
export function barFraction(db: number): number {
  const f = (db - BAR_FLOOR_DBFS) / -BAR_FLOOR_DBFS;
  return f <= 0 ? 0 : f >= 1 ? 1 : f;
}

/** A level as the page prints it: one decimal, or "-inf" at the relay's floor (-120). */
export function formatDb(db: number | null): string {
  if (db === null || !Number.isFinite(db)) return '–';
  return db <= -119.95 ? '-inf' : db.toFixed(1);
}

export class TapDisplay {
  readonly ballistics = new MeterBallistics({ holdMs: 1500, decayDbPerS: 20, historyPoints: 1, floorDbfs: -120 });
  /** The measurement last fed, so a clipping interval is counted once, not once per frame. */
  private lastSeq = -1;
  /** Intervals (measurements) that had clipped samples since the latch was reset. */
  clippedIntervals = 0;

  /** Feeds the latest meters (measurement `seq`) at time `nowMs` (a frame's timestamp). */
  frame(m: TapMeters, seq: number, nowMs: number): void {
    const fresh = seq !== this.lastSeq;
    this.lastSeq = seq;
    const clipped = fresh && m.clipping_ratio > 0;
    if (clipped) this.clippedIntervals++;
    this.ballistics.update(
      { rmsDbfs: m.rms_dbfs, peakDbfs: m.peak_dbfs, clippedSamples: clipped ? 1 : 0, momentaryLufs: m.momentary_lufs },
      nowMs,
    );
  }

  resetClip(): void {
    this.ballistics.resetClip();
    this.clippedIntervals = 0;
  }
}
