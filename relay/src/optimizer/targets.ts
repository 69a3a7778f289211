/**
 * What the reference optimizer aims at, and how much evidence it wants before it acts.
 *
 * Two target modes (`--target`), one decision rule (policy.ts). The mode picks the numbers
 * and the peak measure; both read their level from the same place, the POST tap's gated
 * loudness of the bucket (`loudness.integrated_lufs`.bucket: ITU-R BS.1770-4 gating of the
 * bucket's own 400 ms blocks), because that is the only energy-averaged, pause-free level a
 * bucket row carries (`pcm.rms_dbfs.avg` is a mean of per-frame dB values in which every
 * pause counts as -120).
 *
 * - `rms` (the default, the optimizer's first behaviour): POST speech level -20 ± 2 dBFS,
 *   sample peak (`pcm.peak_dbfs`.max) at or under -1 dBFS. The level is the gated loudness
 *   read on the dBFS scale. BS.1770's loudness is a K-weighted mean square relative to full
 *   scale, offset (-0.691) so that a mono 1 kHz tone reads its RMS in dBFS; on speech the
 *   K-weighting and the -10 LU relative gate read close to the active-speech RMS of level.ts
 *   (measured: espeak-ng speech over a floor 40 dB down, -20.15 LUFS against -19.89 dBFS;
 *   the synthetic speechLike signal, whose energy sits in formants under 1 kHz, reads
 *   0.7-1.3 dB under its level.ts level).
 * - `loudness`: EBU R 128's numbers by default: -23 LUFS, ±1 LU (R 128's tolerance where exact
 *   normalisation is not achievable, as in live programmes), true peak
 *   (`pcm.true_peak_dbtp`.max, BS.1770-4 Annex 2) at or under -1 dBTP.
 *
 * The evidence thresholds (evidence.ts) are the same in both modes.
 */
import type { TapReading } from './analysis.ts';

export const TARGET_MODES = ['rms', 'loudness'] as const;
export type TargetMode = (typeof TARGET_MODES)[number];

export interface Targets {
  mode: TargetMode;
  /** Centre of the POST level target: dBFS in rms mode (default -20), LUFS in loudness mode (default -23). */
  levelDb: number;
  /** Half-width of the level target, dB or LU (default 2 dB in rms mode, 1 LU in loudness mode). */
  toleranceDb: number;
  /** POST peak ceiling: sample peak in dBFS (rms mode) or true peak in dBTP (loudness mode); default -1. */
  maxPeakDb: number;
  /** POST clipping ratio must stay under this, share of samples 0..1 (default 0.001). */
  maxClippingRatio: number;
  /** Largest input gain change per step, dB (default 12). */
  maxStepDb: number;
  /** Loudest 20 ms frame over the level above which the compressor goes on, dB (default 10). */
  maxCrestDb: number;
  /** Evidence: least audio a bucket must hold at POST, s (default 1; evidence.ts). */
  minCoveredS: number;
  /** Evidence: least active speech (`active_s`) a bucket must hold at POST, s (default 1; evidence.ts). */
  minActiveS: number;
  /** Evidence: least spread of the POST 20 ms frame levels (max − min of `pcm.rms_dbfs`), dB (default 10; evidence.ts). */
  minFrameSpreadDb: number;
}

const EVIDENCE = { minCoveredS: 1, minActiveS: 1, minFrameSpreadDb: 10 } as const;

export const RMS_TARGETS: Readonly<Targets> = {
  mode: 'rms',
  levelDb: -20,
  toleranceDb: 2,
  maxPeakDb: -1,
  maxClippingRatio: 0.001,
  maxStepDb: 12,
  maxCrestDb: 10,
  ...EVIDENCE,
};

/** EBU R 128: -23.0 LUFS, ±1.0 LU, maximum true peak -1 dBTP. */
export const LOUDNESS_TARGETS: Readonly<Targets> = {
  ...RMS_TARGETS,
  mode: 'loudness',
  levelDb: -23,
  toleranceDb: 1,
  maxPeakDb: -1,
};

/** The defaults of `mode`, with `overrides` on top. */
export function targetsFor(mode: TargetMode, overrides: Partial<Omit<Targets, 'mode'>> = {}): Targets {
  const base = mode === 'loudness' ? LOUDNESS_TARGETS : RMS_TARGETS;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...base, ...defined, mode };
}

/** Throws a TypeError naming the first target that makes no sense. */
export function checkTargets(t: Targets): void {
  if (!(TARGET_MODES as readonly string[]).includes(t.mode)) throw new TypeError(`mode must be rms or loudness, got "${t.mode}"`);
  const positive: (keyof Targets)[] = ['toleranceDb', 'maxStepDb', 'maxClippingRatio'];
  for (const k of positive) if (!((t[k] as number) > 0)) throw new TypeError(`${k} must be positive, got ${t[k]}`);
  const nonNegative: (keyof Targets)[] = ['minCoveredS', 'minActiveS', 'minFrameSpreadDb'];
  for (const k of nonNegative) if (!((t[k] as number) >= 0)) throw new TypeError(`${k} must be 0 or more, got ${t[k]}`);
}

/** Unit of the level: dBFS or LUFS. */
export const levelUnit = (t: Targets): string => (t.mode === 'loudness' ? 'LUFS' : 'dBFS');
/** Unit of a level difference: dB or LU. */
export const diffUnit = (t: Targets): string => (t.mode === 'loudness' ? 'LU' : 'dB');
/** Unit of the peak measure: dBFS (sample peak) or dBTP (true peak). */
export const peakUnit = (t: Targets): string => (t.mode === 'loudness' ? 'dBTP' : 'dBFS');

/** The level the policy acts on: the bucket's gated loudness (see the file comment); null without a passing block. */
export function levelOf(r: TapReading): number | null {
  return r.bucketLufs;
}

/** The peak the mode's ceiling applies to: true peak in loudness mode, sample peak in rms mode. */
export function peakOf(r: TapReading, t: Targets): number {
  return t.mode === 'loudness' ? r.truePeakDbtp : r.samplePeakDbfs;
}

/**
 * A sample-peak limiter (the chain's) holds sample peaks at its threshold, but the signal
 * between the samples can rise above it. Under a true-peak ceiling the limiter goes on this
 * far below the ceiling. Measured on espeak-ng speech at 16 kHz driven 3, 6 and 12 dB into
 * the limiter: at -1 dBFS the true peak reads -0.63, -0.57, -0.20 dBTP; at -2 dBFS -1.55,
 * -1.52, -1.10 dBTP. Where the margin is not enough, the policy lowers the threshold by the
 * overshoot it measures (policy.ts rule 4).
 */
export const TRUE_PEAK_LIMITER_MARGIN_DB = 1;

/** The limiter threshold the policy sets for the ceiling, dBFS. */
export function limiterThresholdFor(t: Targets): number {
  return t.maxPeakDb - (t.mode === 'loudness' ? TRUE_PEAK_LIMITER_MARGIN_DB : 0);
}

/** One line describing the targets, for the optimizer's first log line. */
export function describeTargets(t: Targets): string {
  return (
    `${t.mode} mode: level ${t.levelDb} ± ${t.toleranceDb} ${levelUnit(t)} (POST gated loudness of the bucket), ` +
    `${t.mode === 'loudness' ? 'true peak' : 'peak'} ≤ ${t.maxPeakDb} ${peakUnit(t)}, clipping < ${t.maxClippingRatio}, steps ≤ ${t.maxStepDb} dB; ` +
    `acting only on buckets with ≥ ${t.minCoveredS} s of audio, ≥ ${t.minActiveS} s of active speech and ≥ ${t.minFrameSpreadDb} dB of frame-level spread`
  );
}
