/**
 * Step 6 of seed 000 §3: did the change the optimizer applied do what it should? Checked on
 * the first bucket at or after `apply_at_bucket_ts` that has speech (§6):
 * 1. `config_version` is at least the one the apply answered (it increased);
 * 2. `knobs_snapshot` shows every effective knob the apply answered;
 * 3. the metric moved the intended way:
 *    - a gain step: the chain's gain (POST over PRE on the same frames, level.ts) moved in
 *      the step's direction by at least half the step. The chain's gain, not the POST
 *      level alone, because the talker is louder in one bucket than in the next; the PRE
 *      tap takes that out;
 *    - the limiter: POST peak at or under the target, POST clipping under it;
 *    - the compressor: POST's crest factor (policy.ts rule 2) is under PRE's in the same
 *      bucket, i.e. the compressor narrowed the dynamics of that very audio.
 * A verification that fails halts the station (optimizer.ts says how it resumes).
 * Pure: no I/O, no clock.
 */
import type { KnobPatch } from '../../../protocol/knobs.ts';
import type { Analysis } from './analysis.ts';
import { crestDb, PEAK_SLACK_DB, type Expectation, type Targets } from './policy.ts';

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

/** Buckets from apply_at without speech after which a change counts as unverifiable. */
export const MAX_SILENT_BUCKETS = 3;

const fmt = (db: number): string => db.toFixed(1);
const signed = (db: number): string => (db > 0 ? `+${fmt(db)}` : fmt(db));

function sameValue(a: number | boolean | undefined, b: number | boolean): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-9;
  return a === b;
}

export function verify(p: PendingChange, after: Analysis, t: Targets, bucketMs = 5000): Verification {
  if (after.bucketMs < p.applyAtMs) return { status: 'wait', reason: `bucket ${after.bucketTs} is before the change at ${new Date(p.applyAtMs).toISOString()}` };

  if (after.configVersion < p.configVersion) {
    return { status: 'failed', reason: `config_version is ${after.configVersion} in bucket ${after.bucketTs}; the apply answered ${p.configVersion}` };
  }
  const wrong = Object.entries(p.effectiveKnobs)
    .filter(([name, value]) => !sameValue(after.knobs[name as keyof typeof after.knobs], value as number | boolean))
    .map(([name, value]) => `${name} is ${String(after.knobs[name as keyof typeof after.knobs])}, not ${String(value)}`);
  if (wrong.length > 0) return { status: 'failed', reason: `knobs_snapshot of ${after.bucketTs} does not show the change: ${wrong.join(', ')}` };

  const levelNeeded = p.expect.gainStepDb !== 0 || p.expect.compressorOn;
  if (levelNeeded && (after.chainGainDb === null || after.post.levelDbfs === null)) {
    const silent = Math.floor((after.bucketMs - p.applyAtMs) / bucketMs) + 1;
    if (silent < MAX_SILENT_BUCKETS) return { status: 'wait', reason: `no speech in ${after.bucketTs} to measure the change on` };
    return { status: 'failed', reason: `no speech in the ${silent} buckets since the change to measure it on` };
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
    const peakOk = after.post.peakDbfs <= t.maxPeakDbfs + PEAK_SLACK_DB;
    const clipOk = after.post.clippingRatio < t.maxClippingRatio;
    const text = `peak ${fmt(p.before.post.peakDbfs)} → ${fmt(after.post.peakDbfs)} dBFS, clipping ${(p.before.post.clippingRatio * 100).toFixed(2)} → ${(after.post.clippingRatio * 100).toFixed(2)} %`;
    (peakOk && clipOk ? seen : failures).push(text);
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
