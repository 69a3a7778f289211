/**
 * Verification against buckets made the way the relay makes them (snapshot-fixtures.ts): the
 * real knob chain, the relay's meters over 20 ms frames and its gating of each bucket's
 * 400 ms blocks. Like the optimizer, verification reads only the rows.
 */
import { describe, expect, it } from 'vitest';
import { defaultKnobs, mergeKnobs, type KnobPatch, type KnobValues } from '../../../protocol/knobs.ts';
import { dbToGain, speechLike, whiteNoise } from '../audio/signals.ts';
import { analyze, type Analysis } from './analysis.ts';
import { decide } from './policy.ts';
import { meteredEntry, T0 } from './snapshot-fixtures.ts';
import { LOUDNESS_TARGETS, RMS_TARGETS, type Targets } from './targets.ts';
import { verify, type PendingChange } from './verify.ts';

const RATE = 16000;
const DEFAULT_TARGETS = RMS_TARGETS;

/** One bucket of `source` through the chain with `knobs`, as the relay would store its row. */
function bucket(index: number, source: Float32Array, knobs: KnobValues, configVersion: number): Analysis {
  return analyze(meteredEntry(index, source, RATE, knobs, configVersion));
}

/** Five seconds of speech at a given active level; `seed` makes each bucket different. */
function talk(levelDbfs: number, seed: number): Float32Array {
  return speechLike(levelDbfs - 2.1, 5, RATE, seed); // active level ≈ full-length RMS + 2.1 dB for this signal
}

/** The change `decide` makes on `before`, applied at the bucket before `verifyAtIndex` (so that bucket is the first measured wholly under it). */
function pendingFrom(before: Analysis, verifyAtIndex: number, configVersion: number, t: Targets = DEFAULT_TARGETS): PendingChange {
  const d = decide(before, t);
  if (d.kind !== 'change') throw new Error(`expected a change: ${d.reason}`);
  return { applyAtMs: T0 + (verifyAtIndex - 1) * 5000, configVersion, effectiveKnobs: d.knobs, expect: d.expect, before };
}

describe('verify', () => {
  it('verifies a +12 dB step on a quiet talker, even though the talker changed level between buckets', () => {
    const before = bucket(0, talk(-35, 1), defaultKnobs(), 0);
    const p = pendingFrom(before, 2, 1);
    expect(p.effectiveKnobs).toEqual({ 'pcm.input_gain_db': 12 });
    // The talker drops 2.5 dB in the bucket that carries the change: the POST level moves
    // only 9.5 dB, but the chain's gain moved the full 12.
    const after = bucket(2, talk(-37.5, 2), mergeKnobs(defaultKnobs(), p.effectiveKnobs), 1);
    const v = verify(p, after, DEFAULT_TARGETS);
    expect(v.status).toBe('verified');
    expect(v.reason).toMatch(/chain gain 0\.0 → \+12\.0 dB \(\+12\.0 of \+12\.0 dB\)/);
  });

  it('verifies -12 dB and the limiter on a clipping source', () => {
    const hot = Float32Array.from(talk(-28, 3), (v) => Math.max(-1, Math.min(1, v * dbToGain(21))));
    const before = bucket(0, hot, defaultKnobs(), 4);
    expect(before.post.clippingRatio).toBeGreaterThan(0.001);
    const p = pendingFrom(before, 2, 5);
    // The gated level of the clipped talker is -8.9 dBFS: 11.1 dB over -20 (rounded to the 0.1 dB the gain moves in).
    expect(p.effectiveKnobs).toEqual({ 'pcm.input_gain_db': -(Math.round(((before.post.bucketLufs as number) + 20) * 10) / 10), 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    expect(p.effectiveKnobs['pcm.input_gain_db']).toBeLessThan(-10);
    const hot2 = Float32Array.from(talk(-28, 4), (v) => Math.max(-1, Math.min(1, v * dbToGain(21))));
    const v = verify(p, bucket(2, hot2, mergeKnobs(defaultKnobs(), p.effectiveKnobs), 5), DEFAULT_TARGETS);
    expect(v).toMatchObject({ status: 'verified' });
    expect(v.reason).toContain('clipping');
  });

  it('waits through the bucket that carries the change, which must show it in force', () => {
    const before = bucket(0, talk(-35, 1), defaultKnobs(), 0);
    const p = pendingFrom(before, 2, 1);
    const knobs = mergeKnobs(defaultKnobs(), p.effectiveKnobs);
    const carrying = verify(p, bucket(1, talk(-35, 2), knobs, 1), DEFAULT_TARGETS);
    expect(carrying).toMatchObject({ status: 'wait' });
    expect(carrying.reason).toContain('carries the change; the next one is measured wholly under it');
    expect(verify(p, bucket(1, talk(-35, 2), defaultKnobs(), 0), DEFAULT_TARGETS)).toMatchObject({ status: 'failed' });
    expect(verify(p, bucket(0, talk(-35, 2), defaultKnobs(), 0), DEFAULT_TARGETS).status).toBe('wait');
  });

  it('fails when config_version did not increase or the knobs are not in force', () => {
    const before = bucket(0, talk(-35, 1), defaultKnobs(), 0);
    const p = pendingFrom(before, 2, 1);
    const stale = verify(p, bucket(2, talk(-35, 2), defaultKnobs(), 0), DEFAULT_TARGETS);
    expect(stale).toMatchObject({ status: 'failed' });
    expect(stale.reason).toContain('config_version is 0');
    const other = verify(p, bucket(2, talk(-35, 2), mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': 6 }), 1), DEFAULT_TARGETS);
    expect(other).toMatchObject({ status: 'failed' });
    expect(other.reason).toContain('pcm.input_gain_db is 6, not 12');
  });

  it('fails when the level did not move by half the step (something else in the chain undid it)', () => {
    const before = bucket(0, talk(-35, 1), defaultKnobs(), 0);
    const p = pendingFrom(before, 2, 1);
    // The change is in force, but a 20:1 compressor from -60 dBFS takes far more than 12 dB away.
    const gated: KnobPatch = { ...p.effectiveKnobs, 'compressor.enabled': true, 'compressor.threshold_dbfs': -60, 'compressor.ratio': 20 };
    const v = verify(p, bucket(2, talk(-35, 2), mergeKnobs(defaultKnobs(), gated), 1), DEFAULT_TARGETS);
    expect(v).toMatchObject({ status: 'failed' });
    expect(v.reason).toMatch(/^did not move as intended/);
  });

  it('fails a limiter that leaves the peaks over target', () => {
    const before = bucket(0, talk(-19, 5), defaultKnobs(), 0);
    const loud = { ...before, post: { ...before.post, samplePeakDbfs: -0.5, truePeakDbtp: -0.3 } };
    const p = pendingFrom(loud, 1, 1);
    expect(p.effectiveKnobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    const limited = bucket(1, talk(-19, 6), mergeKnobs(defaultKnobs(), p.effectiveKnobs), 1);
    expect(verify(p, limited, DEFAULT_TARGETS).status).toBe('verified');
    const tooHigh = bucket(1, talk(-10, 6), mergeKnobs(defaultKnobs(), { ...p.effectiveKnobs }), 1);
    const unlimited = { ...tooHigh, post: { ...tooHigh.post, samplePeakDbfs: 0.3 } };
    expect(verify(p, unlimited, DEFAULT_TARGETS).status).toBe('failed');
  });

  it('in loudness mode, verifies a gain step by the gated loudness and the limiter by the true peak', () => {
    const T = LOUDNESS_TARGETS;
    const before = bucket(0, talk(-33, 11), defaultKnobs(), 0);
    const p = pendingFrom(before, 1, 1, T);
    const step = p.expect.gainStepDb;
    expect(step).toBeCloseTo(-23 - (before.post.bucketLufs as number), 1);
    const after = bucket(1, talk(-33, 12), mergeKnobs(defaultKnobs(), p.effectiveKnobs), 1);
    const v = verify(p, after, T);
    expect(v.status, v.reason).toBe('verified');
    expect(Math.abs((after.post.bucketLufs as number) - -23)).toBeLessThanOrEqual(1);

    // Speech in target with clicks (2 ms bursts at -0.4 dBFS, once a second): a sample-peak
    // limiter 1 dB under the -1 dBTP ceiling keeps the true peak under it.
    const clicky = (seed: number): Float32Array => {
      const x = talk(-23, seed);
      for (let at = RATE / 2; at < x.length; at += RATE) for (let i = 0; i < 32; i++) x[at + i] += 0.95 * Math.sin((2 * Math.PI * 3000 * i) / RATE);
      return x;
    };
    const loud = bucket(0, clicky(13), defaultKnobs(), 0);
    expect(loud.post.truePeakDbtp).toBeGreaterThan(-1);
    const fix = pendingFrom(loud, 1, 1, T);
    expect(fix.effectiveKnobs).toMatchObject({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -2 });
    const limited = bucket(1, clicky(14), mergeKnobs(defaultKnobs(), fix.effectiveKnobs), 1);
    // A 3 kHz click limited at 16 kHz overshoots its sample peak by more than the 1 dB margin:
    // the true peak came down but is still over; that is progress, and the next step lowers the limiter.
    const w = verify(fix, limited, T);
    expect(w.status, w.reason).toBe('verified');
    expect(w.reason).toMatch(/peak 1\.\d → -0\.\d dBTP \(still over -1\.0 dBTP: the limiter goes lower next\)/);
    const retune = pendingFrom(limited, 2, 2, T);
    expect(retune.effectiveKnobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -2.5 });
    const lower = bucket(2, clicky(15), mergeKnobs(defaultKnobs(), retune.effectiveKnobs), 2);
    const x = verify(retune, lower, T);
    expect(x.status, x.reason).toBe('verified');
    expect(lower.post.truePeakDbtp).toBeLessThanOrEqual(-1);
    // Without any progress it fails: the same bucket as before the change.
    expect(verify(retune, { ...limited, bucketMs: lower.bucketMs, configVersion: 2, knobs: lower.knobs }, T).status).toBe('failed');
  });

  it('verifies the compressor by POST crest factor under PRE in the same bucket', () => {
    // A quiet talker who shouts for 600 ms, 10 dB louder: the loudest frame is far over the
    // level (11.5 dB; 7-8.5 dB for this talker without the shout).
    const shout = (seed: number): Float32Array => {
      const x = talk(-38, seed);
      for (let i = Math.round(1.5 * RATE); i < Math.round(2.1 * RATE); i++) x[i] *= dbToGain(10);
      return x;
    };
    const before = bucket(0, shout(7), defaultKnobs(), 0);
    const p = pendingFrom(before, 1, 1);
    expect(p.expect.compressorOn).toBe(true);
    const knobs = mergeKnobs(defaultKnobs(), p.effectiveKnobs);
    const v = verify(p, bucket(1, shout(8), knobs, 1), DEFAULT_TARGETS);
    expect(v.reason).toMatch(/crest factor PRE 1\d\.\d → POST \d+\.\d dB/);
    expect(v.status).toBe('verified');
    // A compressor whose threshold is above everything does nothing, and fails.
    const idle = mergeKnobs(knobs, { 'compressor.threshold_dbfs': 0 });
    expect(verify({ ...p, effectiveKnobs: { 'compressor.enabled': true } }, bucket(1, shout(8), idle, 1), DEFAULT_TARGETS).status).toBe('failed');
  });

  it('waits through silent buckets, then gives up', () => {
    const before = bucket(0, talk(-35, 1), defaultKnobs(), 0);
    const p = pendingFrom(before, 2, 1);
    const knobs = mergeKnobs(defaultKnobs(), p.effectiveKnobs);
    const silence = whiteNoise(-100, 5, RATE, 1);
    expect(verify(p, bucket(2, silence, knobs, 1), DEFAULT_TARGETS).status).toBe('wait');
    expect(verify(p, bucket(3, silence, knobs, 1), DEFAULT_TARGETS).status).toBe('wait');
    const v = verify(p, bucket(4, silence, knobs, 1), DEFAULT_TARGETS);
    expect(v).toMatchObject({ status: 'failed' });
    expect(v.reason).toContain('no speech in the 3 buckets');
  });
});
