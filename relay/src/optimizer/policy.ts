/**
 * The reference optimizer's decision rule: one bucket's POST measurements and the knobs
 * in force give either "leave alone" or one knob patch with a reason a person can read.
 * Pure: no I/O, no clock, so every rule has a known-answer test.
 *
 * The rule, in order:
 * 1. **In target, no change.** POST level within `levelDbfs ± toleranceDb`, POST peak at or
 *    under `maxPeakDbfs` and POST clipping under `maxClippingRatio`: nothing is sent, so a
 *    station that is fine sees no knob churn. No active speech in the bucket: nothing either.
 * 2. **Compressor for a very high crest factor.** When POST peak minus POST level exceeds
 *    `maxCrestDb` (25 dB; speech runs at 12-18 dB, so this means clicks or bursts riding on
 *    quiet speech) and the compressor is off, it goes on at 4:1 with its threshold
 *    `maxCrestDb / 2` above the level, so only the bursts are squashed. The gain is left
 *    alone in that step so that the compressor's effect can be verified on its own.
 * 3. **Gain towards the target's centre.** Otherwise, when the level is out of target, the
 *    input gain moves by (target − level), at most `maxStepDb` (12 dB) per step, rounded to
 *    0.1 dB and kept within the knob's range (-40 … 40 dB).
 * 4. **Limiter for peaks.** When clipping is present, or the peak after the gain change
 *    (peak + step) would reach `maxPeakDbfs`, and no limiter already holds peaks at or under
 *    `maxPeakDbfs`, the limiter goes on with its threshold at `maxPeakDbfs` (-1 dBFS).
 * 5. Out of target and nothing left to move (gain at its limit): leave alone, and say so.
 */
import type { KnobPatch, KnobValues } from '../../../protocol/knobs.ts';
import { knobSpec } from '../../../protocol/knobs.ts';

export interface Targets {
  /** Centre of the POST speech level target, dBFS (default -20). */
  levelDbfs: number;
  /** Half-width of the level target, dB (default 2). */
  toleranceDb: number;
  /** POST sample peak must stay at or under this, dBFS (default -1). */
  maxPeakDbfs: number;
  /** POST clipping ratio must stay under this, share of samples 0..1 (default 0.001). */
  maxClippingRatio: number;
  /** Largest input gain change per step, dB (default 12). */
  maxStepDb: number;
  /** Crest factor (peak − level) above which the compressor goes on, dB (default 25). */
  maxCrestDb: number;
}

export const DEFAULT_TARGETS: Readonly<Targets> = {
  levelDbfs: -20,
  toleranceDb: 2,
  maxPeakDbfs: -1,
  maxClippingRatio: 0.001,
  maxStepDb: 12,
  maxCrestDb: 25,
};

/**
 * A limiter at -1 dBFS holds peaks at exactly -1 dBFS (float32 rounding down, README
 * "Knobs"); this much slack keeps that from reading as "over".
 */
export const PEAK_SLACK_DB = 0.01;
/** Ratio the compressor is switched on with (rule 2). */
export const COMPRESSOR_RATIO = 4;

/** What one bucket of a station measured at POST. */
export interface PostMeasurement {
  /** Speech level (level.ts), dBFS; null when the bucket has no active speech. */
  levelDbfs: number | null;
  /** Sample peak, dBFS (may exceed 0: POST is metered before the 16-bit conversion). */
  peakDbfs: number;
  /** Share of samples at or beyond full scale, 0..1. */
  clippingRatio: number;
}

export type HoldCode = 'in_target' | 'no_speech' | 'at_limit';

/** What the next bucket should show if the change works (verify.ts checks it). */
export interface Expectation {
  /** Intended change of the chain's gain, dB (0 when the gain is not touched). */
  gainStepDb: number;
  /** The limiter was switched on or retuned: peaks and clipping must come under target. */
  peakFix: boolean;
  /** The compressor was switched on: the crest factor must fall. */
  compressorOn: boolean;
}

export type Decision =
  | { kind: 'hold'; code: HoldCode; reason: string }
  | { kind: 'change'; knobs: KnobPatch; reason: string; expect: Expectation };

const fmt = (db: number): string => db.toFixed(1);
const signed = (db: number): string => (db > 0 ? `+${fmt(db)}` : fmt(db));
const round1 = (x: number): number => Math.round(x * 10) / 10;

function clampKnob(name: 'pcm.input_gain_db' | 'compressor.threshold_dbfs', value: number): number {
  const spec = knobSpec(name);
  return Math.min(spec?.max ?? Infinity, Math.max(spec?.min ?? -Infinity, value));
}

/** Whether a measurement meets every target (rule 1). */
export function inTarget(m: PostMeasurement, t: Targets): boolean {
  return (
    m.levelDbfs !== null &&
    Math.abs(m.levelDbfs - t.levelDbfs) <= t.toleranceDb &&
    m.peakDbfs <= t.maxPeakDbfs + PEAK_SLACK_DB &&
    m.clippingRatio < t.maxClippingRatio
  );
}

export function decide(m: PostMeasurement, knobs: KnobValues, t: Targets = DEFAULT_TARGETS): Decision {
  const level = m.levelDbfs;
  if (level === null) return { kind: 'hold', code: 'no_speech', reason: 'no active speech in the bucket' };
  const target = `the ${fmt(t.levelDbfs)} ± ${fmt(t.toleranceDb)} dBFS target`;
  const clipPct = `${(m.clippingRatio * 100).toFixed(2)} %`;
  if (inTarget(m, t)) {
    return { kind: 'hold', code: 'in_target', reason: `in target: level ${fmt(level)} dBFS, peak ${fmt(m.peakDbfs)} dBFS, clipping ${clipPct}` };
  }

  const patch: KnobPatch = {};
  const reasons: string[] = [];
  const expect: Expectation = { gainStepDb: 0, peakFix: false, compressorOn: false };
  const levelError = level - t.levelDbfs;
  const crest = m.peakDbfs - level;

  if (crest > t.maxCrestDb && !knobs['compressor.enabled']) {
    const threshold = clampKnob('compressor.threshold_dbfs', Math.round(level + t.maxCrestDb / 2));
    Object.assign(patch, { 'compressor.enabled': true, 'compressor.threshold_dbfs': threshold, 'compressor.ratio': COMPRESSOR_RATIO });
    reasons.push(`crest factor ${fmt(crest)} dB is over ${fmt(t.maxCrestDb)} dB: compressor on at ${threshold} dBFS, ${COMPRESSOR_RATIO}:1 (gain left alone this step)`);
    expect.compressorOn = true;
  } else if (Math.abs(levelError) > t.toleranceDb) {
    const gain = knobs['pcm.input_gain_db'];
    const wanted = -levelError;
    const step = Math.max(-t.maxStepDb, Math.min(t.maxStepDb, wanted));
    const next = round1(clampKnob('pcm.input_gain_db', gain + step));
    const applied = round1(next - gain);
    if (applied !== 0) {
      patch['pcm.input_gain_db'] = next;
      expect.gainStepDb = applied;
      const side = levelError < 0 ? 'under' : 'over';
      const note = applied !== round1(step) ? ', gain at its limit' : Math.abs(wanted) > t.maxStepDb ? `, step capped at ${fmt(t.maxStepDb)} dB` : '';
      reasons.push(`level ${fmt(level)} dBFS is ${fmt(Math.abs(levelError))} dB ${side} ${target}: gain ${signed(gain)} → ${signed(next)} dB (${signed(applied)} dB${note})`);
    } else {
      reasons.push(`level ${fmt(level)} dBFS is out of ${target} but the gain is at its limit (${signed(gain)} dB)`);
    }
  }

  const limiterHolds = knobs['limiter.enabled'] && knobs['limiter.threshold_dbfs'] <= t.maxPeakDbfs;
  const predictedPeak = m.peakDbfs + expect.gainStepDb;
  const clipping = m.clippingRatio >= t.maxClippingRatio;
  if (!limiterHolds && (clipping || predictedPeak >= t.maxPeakDbfs)) {
    patch['limiter.enabled'] = true;
    patch['limiter.threshold_dbfs'] = t.maxPeakDbfs;
    expect.peakFix = true;
    const why = clipping
      ? `clipping ${clipPct} is at or over ${(t.maxClippingRatio * 100).toFixed(2)} %`
      : `peak ${fmt(predictedPeak)} dBFS${expect.gainStepDb !== 0 ? ' after the gain change' : ''} reaches ${fmt(t.maxPeakDbfs)} dBFS`;
    reasons.push(`${why}: limiter on at ${fmt(t.maxPeakDbfs)} dBFS`);
  }

  if (Object.keys(patch).length === 0) {
    return { kind: 'hold', code: 'at_limit', reason: reasons.join('; ') || `out of target with nothing left to change (level ${fmt(level)} dBFS, peak ${fmt(m.peakDbfs)} dBFS)` };
  }
  return { kind: 'change', knobs: patch, reason: reasons.join('; '), expect };
}
