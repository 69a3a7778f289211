/**
 * Verification against buckets made the way the relay makes them: the real knob chain and
 * the real meters over 20 ms frames, then 16-bit PCM as in the WAV segments.
 */
import { describe, expect, it } from 'vitest';
import { defaultKnobs, mergeKnobs, type KnobPatch, type KnobValues } from '../../../protocol/knobs.ts';
import { METRIC_NAMES, type MetricAggregate, type TapMetrics } from '../../../protocol/metrics.ts';
import { ProcessingChain } from '../../../worklets/dsp/chain.ts';
import { FrameMeter } from '../../../worklets/dsp/meters.ts';
import { dbToGain, speechLike, toInt16, whiteNoise } from '../audio/signals.ts';
import { analyze, type Analysis } from './analysis.ts';
import type { SnapshotEntry } from './api-types.ts';
import { decide, DEFAULT_TARGETS } from './policy.ts';
import { verify, type PendingChange } from './verify.ts';

const RATE = 16000;
const FRAME = 320;
const T0 = Date.parse('2026-01-03T21:15:00.000Z');

function aggregate(values: number[]): MetricAggregate {
  return { count: values.length, min: Math.min(...values), max: Math.max(...values), avg: values.reduce((a, b) => a + b, 0) / values.length, last: values[values.length - 1] };
}

/** One bucket of `source` through the chain with `knobs`, as the relay would store it. */
function bucket(index: number, source: Float32Array, knobs: KnobValues, configVersion: number): Analysis {
  const chain = new ProcessingChain(RATE);
  chain.setKnobs(knobs);
  const meters = { PRE: new FrameMeter(RATE), POST: new FrameMeter(RATE) };
  const values = { PRE: METRIC_NAMES.map(() => [] as number[]), POST: METRIC_NAMES.map(() => [] as number[]) };
  const post = new Float32Array(source.length);
  const frame = new Float32Array(FRAME);
  for (let at = 0; at + FRAME <= source.length; at += FRAME) {
    frame.set(source.subarray(at, at + FRAME));
    for (const tap of ['PRE', 'POST'] as const) {
      if (tap === 'POST') chain.process(frame, FRAME);
      const m = meters[tap];
      m.process(frame, FRAME);
      [m.rmsDbfs, m.peakDbfs, m.clippingRatio, m.dcOffset, m.momentaryLufs].forEach((v, i) => values[tap][i].push(v));
    }
    post.set(frame, at);
  }
  const bucketTs = new Date(T0 + index * 5000).toISOString();
  const metrics = {
    PRE: Object.fromEntries(METRIC_NAMES.map((n, i) => [n, aggregate(values.PRE[i])])) as TapMetrics,
    POST: Object.fromEntries(METRIC_NAMES.map((n, i) => [n, aggregate(values.POST[i])])) as TapMetrics,
  };
  const entry: SnapshotEntry = {
    bucket_ts: bucketTs,
    bucket_ms: 5000,
    station_key: 'st_test',
    knobs_snapshot: knobs,
    metrics,
    audio: { PRE: { endpoint: '/api/audio/segment?pre' }, POST: { endpoint: '/api/audio/segment?post' } },
    config_version: configVersion,
    last_knob_event_id: configVersion === 0 ? null : configVersion,
  };
  // The stored segments are 16-bit: clamp and quantize as the relay does.
  const pcm = (x: Float32Array): Float32Array => Float32Array.from(toInt16(x), (v) => v / 32768);
  return analyze(entry, pcm(source), pcm(post), RATE);
}

/** Five seconds of speech at a given active level; `seed` makes each bucket different. */
function talk(levelDbfs: number, seed: number): Float32Array {
  return speechLike(levelDbfs - 2.1, 5, RATE, seed); // active level ≈ full-length RMS + 2.1 dB for this signal
}

function pendingFrom(before: Analysis, applyAtIndex: number, configVersion: number): PendingChange {
  const d = decide(before.post, before.knobs);
  if (d.kind !== 'change') throw new Error(`expected a change: ${d.reason}`);
  return { applyAtMs: T0 + applyAtIndex * 5000, configVersion, effectiveKnobs: d.knobs, expect: d.expect, before };
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
    expect(p.effectiveKnobs).toEqual({ 'pcm.input_gain_db': -12, 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    const hot2 = Float32Array.from(talk(-28, 4), (v) => Math.max(-1, Math.min(1, v * dbToGain(21))));
    const v = verify(p, bucket(2, hot2, mergeKnobs(defaultKnobs(), p.effectiveKnobs), 5), DEFAULT_TARGETS);
    expect(v).toMatchObject({ status: 'verified' });
    expect(v.reason).toContain('clipping');
  });

  it('waits for the bucket that carries the change', () => {
    const before = bucket(0, talk(-35, 1), defaultKnobs(), 0);
    const p = pendingFrom(before, 2, 1);
    expect(verify(p, bucket(1, talk(-35, 2), defaultKnobs(), 0), DEFAULT_TARGETS).status).toBe('wait');
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
    const loud = { ...before, post: { ...before.post, peakDbfs: -0.5 } };
    const p = pendingFrom(loud, 1, 1);
    expect(p.effectiveKnobs).toEqual({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
    const limited = bucket(1, talk(-19, 6), mergeKnobs(defaultKnobs(), p.effectiveKnobs), 1);
    expect(verify(p, limited, DEFAULT_TARGETS).status).toBe('verified');
    const tooHigh = bucket(1, talk(-10, 6), mergeKnobs(defaultKnobs(), { ...p.effectiveKnobs }), 1);
    const unlimited = { ...tooHigh, post: { ...tooHigh.post, peakDbfs: 0.3 } };
    expect(verify(p, unlimited, DEFAULT_TARGETS).status).toBe('failed');
  });

  it('verifies the compressor by POST crest factor under PRE in the same bucket', () => {
    // A quiet talker who shouts for 600 ms, 15 dB louder: the loudest frame is far over the level.
    const shout = (seed: number): Float32Array => {
      const x = talk(-38, seed);
      for (let i = Math.round(1.5 * RATE); i < Math.round(2.1 * RATE); i++) x[i] *= dbToGain(15);
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
