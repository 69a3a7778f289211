/**
 * Step 6 of seed 000 §3: did the change the optimizer applied do what it should? Checked from
 * the bucket rows alone, like the decision. The bucket that carries the change (the one at
 * `apply_at_bucket_ts`) must show the knobs in force (1, 2); its measurements are not used,
 * because its first 400 ms loudness blocks, and the first true-peak points interpolated
 * across its start, were measured partly under the old knobs (evidence.ts rule 5: after a
 * 12 dB cut its loudness reads 1.5 LU too loud, and its true peak can read the old level). The
 * metric is checked (3) on the first bucket after it that holds speech enough (evidence.ts
 * rules 1-4; §6), which is also the bucket the next decision is taken on:
 * 1. `config_version` is at least the one the apply answered (it increased);
 * 2. `knobs_snapshot` shows every effective knob the apply answered;
 * 3. the metric moved the intended way:
 *    - a gain step: the chain's gain (POST over PRE gated loudness of the same bucket,
 *      analysis.ts) moved in the step's direction by at least half the step. The chain's
 *      gain, not the POST level alone, because the talker is louder in one bucket than in
 *      the next; the PRE tap takes that out;
 *    - the limiter: POST peak (the mode's: sample or true peak) at or under the ceiling,
 *      POST clipping under its target. In loudness mode a true peak still over the ceiling
 *      but 0.5 dB or more lower than before also passes: the chain's limiter holds sample
 *      peaks, and what overshoots between samples is taken off by the next decision;
 *    - the compressor: POST's crest factor (policy.ts rule 2) is under PRE's in the same
 *      bucket, i.e. the compressor narrowed the dynamics of that very audio.
 * A verification that fails halts the station (optimizer.ts says how it resumes).
 * Pure: no I/O, no clock.
 */
import type { KnobPatch } from '../../../protocol/knobs.ts';
import type { Analysis } from './analysis.ts';
import { speechEvidence } from './evidence.ts';
import { crestDb, PEAK_SLACK_DB, type Expectation } from './policy.ts';
import { peakOf, peakUnit, type Targets } from './targets.ts';

/** A change that was accepted and awaits verification. */
export interface PendingChange {
  /** `apply_at_bucket_ts` as epoch ms. */
  applyAtMs: number;
  /** The apply response's `config_version`. */
  configVersion: number;
  /** The apply response's `effective_knobs`. */
  effectiveKnobs: KnobPatch;
  expect: Expectation;
  /** The bucket the decision was made on. */
  before: Analysis;
}

export type Verification = { status: 'wait'; reason: string } | { status: 'verified'; reason: string } | { status: 'failed'; reason: string };

/** In loudness mode, a limiter change that left the true peak over the ceiling but lowered it by this much counts as progress, dB. */
export const PEAK_PROGRESS_DB = 0.5;

/** Buckets from apply_at without evidence (no speech) after which a change counts as unverifiable. */
export const MAX_SILENT_BUCKETS = 3;

const fmt = (db: number): string => db.toFixed(1);
const signed = (db: number): string => (db > 0 ? `+${fmt(db)}` : fmt(db));

function sameValue(a: number | boolean | undefined, b: number | boolean): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-9;
  return a === b;
}

/** Checks 1 and 2: why the bucket does not show the change in force, or null when it does. */
function knobsNotInForce(p: PendingChange, after: Analysis): string | null {
  if (after.configVersion < p.configVersion) return `config_version is ${after.configVersion} in bucket ${after.bucketTs}; the apply answered ${p.configVersion}`;
  const wrong = Object.entries(p.effectiveKnobs)
    .filter(([name, value]) => !sameValue(after.knobs[name as keyof typeof after.knobs], value as number | boolean))
    .map(([name, value]) => `${name} is ${String(after.knobs[name as keyof typeof after.knobs])}, not ${String(value)}`);
  return wrong.length > 0 ? `knobs_snapshot of ${after.bucketTs} does not show the change: ${wrong.join(', ')}` : null;
}

export function verify(p: PendingChange, after: Analysis, t: Targets, bucketMs = 5000): Verification {
  if (after.bucketMs < p.applyAtMs) return { status: 'wait', reason: `bucket ${after.bucketTs} is before the change at ${new Date(p.applyAtMs).toISOString()}` };
  const firstMs = p.applyAtMs + bucketMs;
  if (after.bucketMs < firstMs) {
    // The bucket that carries the change is checked for the knobs only; its measurements wait (see the file comment).
    const stale = knobsNotInForce(p, after);
    if (stale !== null) return { status: 'failed', reason: stale };
    return { status: 'wait', reason: `bucket ${after.bucketTs} carries the change; the next one is measured wholly under it` };
  }

  const stale = knobsNotInForce(p, after);
  if (stale !== null) return { status: 'failed', reason: stale };

  const levelNeeded = p.expect.gainStepDb !== 0 || p.expect.compressorOn;
  const thin = levelNeeded ? speechEvidence(after, t) : null;
  if (levelNeeded && (thin !== null || after.chainGainDb === null)) {
    const silent = Math.floor((after.bucketMs - firstMs) / bucketMs) + 1;
    const why = thin?.reason ?? 'no 400 ms block passes the gates at both taps';
    if (silent < MAX_SILENT_BUCKETS) return { status: 'wait', reason: `nothing to measure the change on in ${after.bucketTs}: ${why}` };
    return { status: 'failed', reason: `no speech in the ${silent} buckets since the change to measure it on (last: ${why})` };
  }

  const seen: string[] = [];
  const failures: string[] = [];
  if (p.expect.gainStepDb !== 0) {
    const step = p.expect.gainStepDb;
    const before = p.before.chainGainDb ?? 0;
    const moved = (after.chainGainDb as number) - before;
    const text = `chain gain ${signed(before)} → ${signed(after.chainGainDb as number)} dB (${signed(moved)} of ${signed(step)} dB)`;
    (Math.sign(step) * moved >= Math.abs(step) / 2 ? seen : failures).push(text);
  }
  if (p.expect.peakFix) {
    const pu = peakUnit(t);
    const peakBefore = peakOf(p.before.post, t);
    const peakAfter = peakOf(after.post, t);
    const under = peakAfter <= t.maxPeakDb + PEAK_SLACK_DB;
    // A sample-peak limiter cannot promise a true peak; one that brought it down by a clear
    // margin did its part, and the next decision lowers it by what is left (policy.ts rule 4).
    const closer = !under && t.mode === 'loudness' && peakAfter <= peakBefore - PEAK_PROGRESS_DB;
    const clipOk = after.post.clippingRatio < t.maxClippingRatio;
    const text = `peak ${fmt(peakBefore)} → ${fmt(peakAfter)} ${pu}${closer ? ` (still over ${fmt(t.maxPeakDb)} ${pu}: the limiter goes lower next)` : ''}, clipping ${(p.before.post.clippingRatio * 100).toFixed(2)} → ${(after.post.clippingRatio * 100).toFixed(2)} %`;
    ((under || closer) && clipOk ? seen : failures).push(text);
  }
  if (p.expect.compressorOn) {
    const pre = crestDb(after.pre);
    const post = crestDb(after.post);
    const narrowed = pre !== null && post !== null && post < pre;
    (narrowed ? seen : failures).push(`crest factor PRE ${pre === null ? '-' : fmt(pre)} → POST ${post === null ? '-' : fmt(post)} dB`);
  }
  const where = `in ${after.bucketTs} (config v${after.configVersion})`;
  if (failures.length > 0) return { status: 'failed', reason: `did not move as intended ${where}: ${failures.join('; ')}${seen.length ? ` (as intended: ${seen.join('; ')})` : ''}` };
  return { status: 'verified', reason: `${where}: ${seen.join('; ') || 'knobs in force'}` };
}
