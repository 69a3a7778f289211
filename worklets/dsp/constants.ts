/**
 * Units and level conversions shared by every kernel.
 *
 * Conventions: samples are linear Float32 with full scale at ±1.0 (the Int16 range divided
 * by 32768, see pcm.ts). Levels are dBFS relative to an amplitude of 1.0, for peaks and RMS
 * alike: a full-scale sine peaks at 0 dBFS and has an RMS of -3.01 dBFS (AES17 would call
 * that RMS 0 dB FS; we do not use its +3 dB convention). Loudness is LUFS (ITU-R BS.1770-4).
 */

/** The lowest level any meter reports (dBFS or LUFS). Silence reads exactly this, never -Infinity. */
export const DB_FLOOR = -120;

/**
 * A sample is "at or beyond full scale" when |x| >= CLIP_THRESHOLD: the largest positive
 * Int16 value, 32767, maps to 32767/32768, so a 16-bit source that clipped reads as clipped
 * on both sides (the negative rail -32768 maps to exactly -1).
 */
export const CLIP_THRESHOLD = 32767 / 32768;

/** Amplitude of DB_FLOOR (1e-6); anything at or below it reads as the floor. */
const AMP_FLOOR = 1e-6;
/** Mean square of DB_FLOOR (1e-12). */
const POWER_FLOOR = 1e-12;

/**
 * Linear amplitude to dB (20·log10|x|), floored at DB_FLOOR. The sign is ignored; 0, NaN and
 * anything at or below 1e-6 give exactly DB_FLOOR, so no meter ever shows NaN or -Infinity.
 */
export function ampToDb(linear: number): number {
  const a = linear < 0 ? -linear : linear;
  if (!(a > AMP_FLOOR)) return DB_FLOOR;
  const db = 20 * Math.log10(a);
  return db > DB_FLOOR ? db : DB_FLOOR;
}

/**
 * Mean square (power) to dB (10·log10), floored at DB_FLOOR. Negative inputs (a running sum
 * that rounded below zero), 0 and NaN give exactly DB_FLOOR.
 */
export function powerToDb(meanSquare: number): number {
  if (!(meanSquare > POWER_FLOOR)) return DB_FLOOR;
  const db = 10 * Math.log10(meanSquare);
  return db > DB_FLOOR ? db : DB_FLOOR;
}

/** dB to linear amplitude (10^(dB/20)). Not floored: dbToAmp(-200) is 1e-10. */
export function dbToAmp(db: number): number {
  return Math.pow(10, db / 20);
}
