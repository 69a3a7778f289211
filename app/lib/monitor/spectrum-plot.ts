/**
 * The spectrum panel's scales and readings, apart from the canvas: a log-frequency axis
 * (so 1/6-octave bands are evenly wide), a dB axis, labelled ticks, the loudest band, and a
 * slowly falling peak hold. No DOM.
 */

/** Levels shown, dBFS: a band spectrum reads 20·log10 A for a sine of amplitude A. */
export const SPECTRUM_TOP_DB = 0;
export const SPECTRUM_BOTTOM_DB = -100;
/** The peak-hold line falls this fast once the level under it drops, dB/s. */
export const PEAK_HOLD_FALL_DB_PER_S = 12;

const HZ_TICKS = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000];

/** Maps frequency (Hz) to x on a log axis spanning [loHz, hiHz] over [0, width]. */
export function xOfHz(hz: number, loHz: number, hiHz: number, width: number): number {
  return (Math.log(hz / loHz) / Math.log(hiHz / loHz)) * width;
}

/** Maps a level (dB) to y, the top of the axis at 0, clamped to the axis. */
export function yOfDb(db: number, height: number): number {
  const c = Math.min(SPECTRUM_TOP_DB, Math.max(SPECTRUM_BOTTOM_DB, db));
  return ((SPECTRUM_TOP_DB - c) / (SPECTRUM_TOP_DB - SPECTRUM_BOTTOM_DB)) * height;
}

/** Labelled frequency ticks within [loHz, hiHz]. */
export function hzTicks(loHz: number, hiHz: number): { hz: number; label: string }[] {
  return HZ_TICKS.filter((hz) => hz >= loHz && hz <= hiHz).map((hz) => ({ hz, label: hz >= 1000 ? `${hz / 1000}k` : String(hz) }));
}

/** dB ticks every 20 dB. */
export function dbTicks(): number[] {
  const out: number[] = [];
  for (let db = SPECTRUM_TOP_DB; db >= SPECTRUM_BOTTOM_DB; db -= 20) out.push(db);
  return out;
}

/** The centre (Hz) of the loudest band, or null for no bands. The lowest band wins a tie. */
export function peakBandHz(bandsHz: readonly number[], db: readonly number[]): number | null {
  let best = -1;
  for (let i = 0; i < db.length; i++) if (best < 0 || db[i] > db[best]) best = i;
  return best < 0 ? null : bandsHz[best];
}

/**
 * A peak hold per band: jumps up with the level, falls at PEAK_HOLD_FALL_DB_PER_S. Its
 * array is reallocated only when the number of bands changes (another station).
 */
export class PeakHold {
  db = new Float32Array(0);
  private lastMs = 0;

  update(levels: readonly number[], nowMs: number): void {
    if (this.db.length !== levels.length) {
      this.db = Float32Array.from(levels);
      this.lastMs = nowMs;
      return;
    }
    const fall = (PEAK_HOLD_FALL_DB_PER_S * Math.max(0, nowMs - this.lastMs)) / 1000;
    this.lastMs = nowMs;
    for (let i = 0; i < levels.length; i++) this.db[i] = Math.max(levels[i], this.db[i] - fall);
  }

  reset(): void {
    this.db = new Float32Array(0);
  }
}
