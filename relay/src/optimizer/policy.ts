/**
 * The reference optimizer's decision rule: one bucket's POST measurements and the knobs
 * in force give either "leave alone" or one knob patch with a reason a person can read.
 * Pure: no I/O, no clock, so every rule has a known-answer test.
 *
 * The rule, in order:
 * 1. **In target: no change.** POST level within `levelDbfs ± toleranceDb`, POST peak at or
 *    under `maxPeakDbfs` and POST clipping under `maxClippingRatio`: nothing is sent, so a
 *    station that is fine sees no knob churn. No active speech in the bucket: nothing either.
 * 2. **Compressor for wide dynamics.** When the level is out of target, the compressor is
 *    off and the crest factor is over `maxCrestDb` (10 dB), the compressor goes on at 4:1
 *    with its threshold 6 dB above the level. The gain is left alone in that step so the
 *    compressor's effect can be verified on its own; the gain step comes next, on the
 *    compressed level.
 *    The crest factor here is the loudest 20 ms frame's RMS over the speech level (a
 *    frame-level crest factor), not the sample peak over the level: with an energy-averaged
 *    level, a peak 25 dB over the level only happens with clicks a few samples long, which
 *    a compressor without look-ahead cannot catch (measured: 1-4 ms bursts on speech leave
 *    peak − level unchanged, ±2 dB, under any attack time), and a compressor switched on
 *    for them would fail its verification. Shouting does show in the frame crest factor:
 *    6-7 dB for the speech-like test signal, 11-13 dB with a 600 ms passage 10-20 dB louder,
 *    which the compressor takes down by 3-4 dB. Sample peaks are the limiter's job (rule 4).
 * 3. **Gain towards the target's centre.** Otherwise, when the level is out of target, the
 *    input gain moves by (target − level), at most `maxStepDb` (12 dB) per step, rounded to
 *    0.1 dB and kept within the knob's range (-40 … 40 dB). A compressor that is on has its
 *    threshold moved by the same step, so that it keeps acting on the same part of the
 *    signal (the chain runs gain first, README "Knobs").
 * 4. **Limiter for peaks.** When clipping is present, or the peak after the gain change
 *    (peak + step) would reach `maxPeakDbfs`, and no limiter already holds peaks at or under
 *    `maxPeakDbfs`, the limiter goes on with its threshold at `maxPeakDbfs` (-1 dBFS).
 * 5. Out of target and nothing left to move (gain at its limit): leave alone, and say so.
 */
import { knobSpec, type KnobPatch, type KnobValues } from '../../../protocol/knobs.ts';

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
  /** Loudest 20 ms frame over the speech level above which the compressor goes on, dB (default 10). */
  maxCrestDb: number;
}

export const DEFAULT_TARGETS: Readonly<Targets> = {
  levelDbfs: -20,
  toleranceDb: 2,
  maxPeakDbfs: -1,
  maxClippingRatio: 0.001,
  maxStepDb: 12,
  maxCrestDb: 10,
};

/**
 * A limiter at -1 dBFS holds peaks at exactly -1 dBFS (float32 rounded down, README
 * "Knobs"); this much slack keeps that from reading as "over".
 */
export const PEAK_SLACK_DB = 0.01;
/** Ratio the compressor is switched on with (rule 2). */
export const COMPRESSOR_RATIO = 4;
/** Compressor threshold over the speech level when it is switched on, dB (rule 2). */
export const COMPRESSOR_ABOVE_LEVEL_DB = 6;

/** What one bucket of a station measured at one tap. */
export interface TapMeasurement {
  /** Speech level (level.ts), dBFS; null when the bucket has no active speech. */
  levelDbfs: number | null;
  /** Sample peak, dBFS (may exceed 0 at POST, which is metered before the 16-bit conversion). */
  peakDbfs: number;
  /** Share of samples at or beyond full scale, 0..1. */
  clippingRatio: number;
  /** RMS of the loudest 20 ms frame, dBFS; null for silence. */
  loudestFrameDbfs: number | null;
}

export type HoldCode = 'in_target' | 'no_speech' | 'at_limit';

/** What the next bucket should show if the change works (verify.ts checks it). */
export interface Expectation {
  /** Intended change of the chain's gain, dB (0 when the gain is not touched). */
  gainStepDb: number;
  /** The limiter was switched on or retuned: peaks and clipping must come under target. */
  peakFix: boolean;
  /** The compressor was switched on: POST's crest factor must come under PRE's. */
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

/** The frame-level crest factor of rule 2, dB; null without speech. */
export function crestDb(m: TapMeasurement): number | null {
  return m.levelDbfs === null || m.loudestFrameDbfs === null ? null : m.loudestFrameDbfs - m.levelDbfs;
}

/** Whether a measurement meets every target (rule 1). */
export function inTarget(m: TapMeasurement, t: Targets): boolean {
  return (
    m.levelDbfs !== null &&
    Math.abs(m.levelDbfs - t.levelDbfs) <= t.toleranceDb &&
    m.peakDbfs <= t.maxPeakDbfs + PEAK_SLACK_DB &&
    m.clippingRatio < t.maxClippingRatio
  );
}

export function decide(m: TapMeasurement, knobs: KnobValues, t: Targets = DEFAULT_TARGETS): Decision {
  const level = m.levelDbfs;
  if (level === null) return { kind: 'hold', code: 'no_speech', reason: 'no active speech in the bucket' };
  const clipPct = `${(m.clippingRatio * 100).toFixed(2)} %`;
  if (inTarget(m, t)) {
    return { kind: 'hold', code: 'in_target', reason: `in target: level ${fmt(level)} dBFS, peak ${fmt(m.peakDbfs)} dBFS, clipping ${clipPct}` };
  }

  const patch: KnobPatch = {};
  const reasons: string[] = [];
  const expect: Expectation = { gainStepDb: 0, peakFix: false, compressorOn: false };
  const levelError = level - t.levelDbfs;
  const levelOk = Math.abs(levelError) <= t.toleranceDb;
  const crest = crestDb(m) ?? 0;

  if (!levelOk && crest > t.maxCrestDb && !knobs['compressor.enabled']) {
    const threshold = clampKnob('compressor.threshold_dbfs', Math.round(level + COMPRESSOR_ABOVE_LEVEL_DB));
    Object.assign(patch, { 'compressor.enabled': true, 'compressor.threshold_dbfs': threshold, 'compressor.ratio': COMPRESSOR_RATIO });
    reasons.push(
      `crest factor ${fmt(crest)} dB (loudest 20 ms frame over the level) is over ${fmt(t.maxCrestDb)} dB: compressor on at ${threshold} dBFS, ${COMPRESSOR_RATIO}:1, gain left for the next step`,
    );
    expect.compressorOn = true;
  } else if (!levelOk) {
    const gain = knobs['pcm.input_gain_db'];
    const wanted = -levelError;
    const step = Math.max(-t.maxStepDb, Math.min(t.maxStepDb, wanted));
    const next = round1(clampKnob('pcm.input_gain_db', gain + step));
    const applied = round1(next - gain);
    const target = `the ${fmt(t.levelDbfs)} ± ${fmt(t.toleranceDb)} dBFS target`;
    if (applied !== 0) {
      patch['pcm.input_gain_db'] = next;
      expect.gainStepDb = applied;
      const side = levelError < 0 ? 'under' : 'over';
      const note = applied !== round1(step) ? ', gain at its limit' : Math.abs(wanted) > t.maxStepDb ? `, step capped at ${fmt(t.maxStepDb)} dB` : '';
      reasons.push(`level ${fmt(level)} dBFS is ${fmt(Math.abs(levelError))} dB ${side} ${target}: gain ${signed(gain)} → ${signed(next)} dB (${signed(applied)} dB${note})`);
      if (knobs['compressor.enabled']) {
        const threshold = round1(clampKnob('compressor.threshold_dbfs', knobs['compressor.threshold_dbfs'] + applied));
        if (threshold !== knobs['compressor.threshold_dbfs']) {
          patch['compressor.threshold_dbfs'] = threshold;
          reasons.push(`compressor threshold follows the gain to ${fmt(threshold)} dBFS`);
        }
      }
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
