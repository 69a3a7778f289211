/**
 * The reference optimizer's decision rule: one bucket's reading (analysis.ts) gives either
 * "leave alone" or one knob patch, each with a reason a person can read. Pure: no I/O, no
 * clock, so every rule has a known-answer test.
 *
 * First the evidence (evidence.ts): a bucket that says too little about the talker is held.
 * Then, on the POST tap, with the level and peak of the target mode (targets.ts):
 * 1. **In target: no change.** Level within `levelDb ± toleranceDb`, peak at or under
 *    `maxPeakDb` and clipping under `maxClippingRatio`: nothing is sent, so a station that
 *    is fine sees no knob churn.
 * 2. **Compressor for wide dynamics.** When the level is out of target, the compressor is
 *    off and the crest factor is over `maxCrestDb` (10 dB), the compressor goes on at 4:1
 *    with its threshold 6 dB above the level. The gain is left alone in that step so the
 *    compressor's effect can be verified on its own; the gain step comes next.
 *    The crest factor is the loudest 20 ms frame's RMS (`pcm.rms_dbfs`.max) over the level
 *    (a frame-level crest factor), not the sample peak over the level: 1-4 ms clicks raise
 *    the sample peak but are gone before a compressor without look-ahead reacts, and sample
 *    peaks are the limiter's job. Measured on the gated level (snapshot-fixtures.ts, the
 *    relay's meters): 7.1-8.5 dB for ordinary speech-like audio; 11.5 dB with a 600 ms
 *    passage 10 dB louder, which the compressor takes to 9.2 dB. A passage 15-20 dB louder
 *    reads only 9.3 and 6.5 dB: it carries most of the bucket's energy, so the gated level
 *    follows it, and the gain step (or the limiter) handles it instead.
 * 3. **Gain towards the target's centre.** Otherwise, when the level is out of target, the
 *    input gain moves by (target − level), at most `maxStepDb` (12 dB) per step, rounded to
 *    0.1 dB and kept within the knob's range (-40 … 40 dB). A compressor that is on has its
 *    threshold moved by the same step (the chain runs gain first, README "Knobs").
 *    **A gain is never raised on a station whose peaks already reach the limit** (raiseBlock):
 *    - POST true peak at or over the ceiling, or POST clipping above zero: a louder signal
 *      can only clip, or lean on the limiter harder, and the limiter is a sample-peak
 *      limiter, so what it holds at its threshold overshoots between samples.
 *    - PRE clipping above zero: the source clips before the chain (the talker's own
 *      input is driven into full scale). Its level is a level of distorted audio, its
 *      peaks are flattened at full scale and say nothing of the headroom it needs, and
 *      any raise that brings the chain's gain back towards 0 dB passes the flattened
 *      samples on as clipping. The fix is at the source; the optimizer only ever lowers
 *      such a station.
 *    The true peak is used in rms mode too: it is never under the sample peak, so the rule
 *    is at least as strict as the sample-peak ceiling.
 * 4. **Limiter for peaks.** When clipping is at or over `maxClippingRatio`, or the peak
 *    reaches the ceiling, or a raise would bring it (peak + step) within `PEAK_HEADROOM_DB`
 *    (3 dB) of the ceiling, and no limiter holds the peaks yet, the limiter goes on at the
 *    ceiling (rms mode) or 1 dB under it (loudness mode: targets.ts
 *    TRUE_PEAK_LIMITER_MARGIN_DB). A limiter that is on but leaves the peak over the ceiling
 *    is lowered to that threshold, or, already there, by the overshoot measured (rounded
 *    down to 0.5 dB).
 * 5. Out of target and nothing left to move (gain at its limit, or a raise refused by rule
 *    3): leave alone, and say so.
 */
import { knobSpec, type KnobPatch } from '../../../protocol/knobs.ts';
import type { Analysis, TapReading } from './analysis.ts';
import { decisionEvidence, type EvidenceCode } from './evidence.ts';
import { diffUnit, levelOf, levelUnit, limiterThresholdFor, peakOf, peakUnit, type Targets } from './targets.ts';

/**
 * A limiter at -1 dBFS holds peaks at exactly -1 dBFS (float32 rounded down, README
 * "Knobs"); this much slack keeps that from reading as "over".
 */
export const PEAK_SLACK_DB = 0.01;
/**
 * A raise that brings the peak this close to the ceiling turns the limiter on with it
 * (rule 4): a talker's peaks differ from one 5 s bucket to the next, and the raise is judged
 * on one of them. Measured on looped espeak-ng speech: the true peak of the same talker
 * spread over 1.6 dB in five buckets, and a raise to 1.2 dB under the ceiling (without the
 * limiter) put a later bucket's peak 1.3 dB over it. Real talkers spread wider; the limiter
 * is the net, and it costs nothing where the peaks stay under its threshold.
 */
export const PEAK_HEADROOM_DB = 3;
/** Ratio the compressor is switched on with (rule 2). */
export const COMPRESSOR_RATIO = 4;
/** Compressor threshold over the level when it is switched on, dB (rule 2). */
export const COMPRESSOR_ABOVE_LEVEL_DB = 6;

export type HoldCode = EvidenceCode | 'no_speech' | 'in_target' | 'at_limit' | 'peaks_at_ceiling';

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
const pct = (ratio: number): string => `${(ratio * 100).toFixed(2)} %`;

function clampKnob(name: 'pcm.input_gain_db' | 'compressor.threshold_dbfs' | 'limiter.threshold_dbfs', value: number): number {
  const spec = knobSpec(name);
  return Math.min(spec?.max ?? Infinity, Math.max(spec?.min ?? -Infinity, value));
}

/** The frame-level crest factor of rule 2, dB; null without a level. */
export function crestDb(r: TapReading): number | null {
  const level = levelOf(r);
  return level === null ? null : r.loudestFrameDbfs - level;
}

/** Whether a tap meets every target (rule 1). */
export function inTarget(r: TapReading, t: Targets): boolean {
  const level = levelOf(r);
  return level !== null && Math.abs(level - t.levelDb) <= t.toleranceDb && peakOf(r, t) <= t.maxPeakDb + PEAK_SLACK_DB && r.clippingRatio < t.maxClippingRatio;
}

/** Why the gain may not be raised on this bucket (rule 3), or null when it may. */
export function raiseBlock(a: Analysis, t: Targets): string | null {
  const { pre, post } = a;
  if (post.clippingRatio > 0) return `POST clips (${pct(post.clippingRatio)} of samples)`;
  if (post.truePeakDbtp >= t.maxPeakDb - PEAK_SLACK_DB) return `POST true peak ${fmt(post.truePeakDbtp)} dBTP already reaches the ${fmt(t.maxPeakDb)} ${peakUnit(t)} ceiling`;
  if (pre.clippingRatio > 0) return `the source clips before the chain (PRE clipping ${pct(pre.clippingRatio)})`;
  return null;
}

export function decide(a: Analysis, t: Targets): Decision {
  const evidence = decisionEvidence(a, t);
  if (evidence !== null) return { kind: 'hold', ...evidence };
  const m = a.post;
  const knobs = a.knobs;
  const level = levelOf(m);
  if (level === null) return { kind: 'hold', code: 'no_speech', reason: 'no 400 ms block of the bucket passes the gates' };
  const lu = levelUnit(t);
  const du = diffUnit(t);
  const pu = peakUnit(t);
  const peak = peakOf(m, t);
  if (inTarget(m, t)) {
    return { kind: 'hold', code: 'in_target', reason: `in target: level ${fmt(level)} ${lu}, peak ${fmt(peak)} ${pu}, clipping ${pct(m.clippingRatio)}` };
  }

  const patch: KnobPatch = {};
  const reasons: string[] = [];
  const expect: Expectation = { gainStepDb: 0, peakFix: false, compressorOn: false };
  const levelError = level - t.levelDb;
  const levelOk = Math.abs(levelError) <= t.toleranceDb;
  const crest = crestDb(m) ?? 0;
  const target = `the ${fmt(t.levelDb)} ± ${fmt(t.toleranceDb)} ${lu} target`;
  let blocked: string | null = null;

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
    const side = levelError < 0 ? 'under' : 'over';
    const off = `level ${fmt(level)} ${lu} is ${fmt(Math.abs(levelError))} ${du} ${side} ${target}`;
    blocked = wanted > 0 ? raiseBlock(a, t) : null;
    if (blocked !== null) {
      reasons.push(`${off}, but the gain is not raised: ${blocked}`);
    } else {
      const step = Math.max(-t.maxStepDb, Math.min(t.maxStepDb, wanted));
      const next = round1(clampKnob('pcm.input_gain_db', gain + step));
      const applied = round1(next - gain);
      if (applied !== 0) {
        patch['pcm.input_gain_db'] = next;
        expect.gainStepDb = applied;
        const note = applied !== round1(step) ? ', gain at its limit' : Math.abs(wanted) > t.maxStepDb ? `, step capped at ${fmt(t.maxStepDb)} dB` : '';
        reasons.push(`${off}: gain ${signed(gain)} → ${signed(next)} dB (${signed(applied)} dB${note})`);
        if (knobs['compressor.enabled']) {
          const threshold = round1(clampKnob('compressor.threshold_dbfs', knobs['compressor.threshold_dbfs'] + applied));
          if (threshold !== knobs['compressor.threshold_dbfs']) {
            patch['compressor.threshold_dbfs'] = threshold;
            reasons.push(`compressor threshold follows the gain to ${fmt(threshold)} dBFS`);
          }
        }
      } else {
        reasons.push(`${off} but the gain is at its limit (${signed(gain)} dB)`);
      }
    }
  }

  limiterRule(m, knobs, t, expect, patch, reasons);

  if (Object.keys(patch).length === 0) {
    return {
      kind: 'hold',
      code: blocked !== null ? 'peaks_at_ceiling' : 'at_limit',
      reason: reasons.join('; ') || `out of target with nothing left to change (level ${fmt(level)} ${lu}, peak ${fmt(peak)} ${pu})`,
    };
  }
  return { kind: 'change', knobs: patch, reason: reasons.join('; '), expect };
}

/** Rule 4; adds to `patch` and `reasons`. */
function limiterRule(m: TapReading, knobs: Analysis['knobs'], t: Targets, expect: Expectation, patch: KnobPatch, reasons: string[]): void {
  const pu = peakUnit(t);
  const peak = peakOf(m, t);
  const wanted = limiterThresholdFor(t);
  const clipping = m.clippingRatio >= t.maxClippingRatio;
  const over = peak > t.maxPeakDb + PEAK_SLACK_DB;
  const on = knobs['limiter.enabled'];
  const threshold = knobs['limiter.threshold_dbfs'];

  if (on && threshold <= wanted + 1e-9) {
    // On and set for the ceiling: only a measured overshoot (a true peak between samples)
    // moves it, and not in a step that lowers the gain, which lowers the peaks anyway.
    if (!over || expect.gainStepDb < 0) return;
    // Rounded down to 0.5 dB: the overshoot of a given signal moves with the threshold, and the rounding is the margin.
    const next = round1(clampKnob('limiter.threshold_dbfs', Math.floor((threshold - (peak - t.maxPeakDb)) * 2) / 2));
    if (next >= threshold) return;
    patch['limiter.enabled'] = true;
    patch['limiter.threshold_dbfs'] = next;
    expect.peakFix = true;
    reasons.push(`the limiter at ${fmt(threshold)} dBFS leaves the peak at ${fmt(peak)} ${pu}, over the ${fmt(t.maxPeakDb)} ${pu} ceiling: threshold lowered by the overshoot to ${fmt(next)} dBFS`);
    return;
  }
  // Off, or on above the threshold the ceiling wants.
  const predicted = peak + expect.gainStepDb;
  const headroom = expect.gainStepDb > 0 ? PEAK_HEADROOM_DB : 0;
  if (!clipping && predicted < t.maxPeakDb - headroom) return;
  patch['limiter.enabled'] = true;
  patch['limiter.threshold_dbfs'] = wanted;
  expect.peakFix = true;
  const why = clipping
    ? `clipping ${pct(m.clippingRatio)} is at or over ${pct(t.maxClippingRatio)}`
    : headroom > 0
      ? `peak ${fmt(predicted)} ${pu} after the gain change comes within ${fmt(headroom)} dB of ${fmt(t.maxPeakDb)} ${pu}`
      : `peak ${fmt(predicted)} ${pu}${expect.gainStepDb !== 0 ? ' after the gain change' : ''} reaches ${fmt(t.maxPeakDb)} ${pu}`;
  reasons.push(`${why}: limiter on at ${fmt(wanted)} dBFS`);
}
