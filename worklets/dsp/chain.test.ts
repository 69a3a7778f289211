import { describe, expect, it } from 'vitest';
import { defaultKnobs, type KnobValues, mergeKnobs } from '../../protocol/knobs.ts';
import { ProcessingChain } from './chain.ts';
import { dbToAmp } from './constants.ts';
import { firstDifference, inBlocks, noise, peak, sine } from './test-signals.ts';

const FS = 48000;

function chainWith(patch: Partial<KnobValues>): ProcessingChain {
  const c = new ProcessingChain(FS);
  c.setKnobs(mergeKnobs(defaultKnobs(), patch));
  return c;
}

const ALL_ON: Partial<KnobValues> = {
  'pcm.input_gain_db': 6,
  'hpf.enabled': true,
  'gate.enabled': true,
  'compressor.enabled': true,
  'compressor.makeup_db': 12,
  'limiter.enabled': true,
};

describe('ProcessingChain', () => {
  it('is bit-transparent with the default knobs, and before any setKnobs', () => {
    const input = noise(5 * FS, 1.5);
    for (const chain of [chainWith({}), new ProcessingChain(FS)]) {
      const buf = input.slice();
      inBlocks(buf, 960, (b, n) => chain.process(b, n));
      expect(firstDifference(buf, input)).toBe(-1);
    }
  });

  it('doubles the amplitude exactly from the first sample after setKnobs(+6.02 dB)', () => {
    const chain = new ProcessingChain(FS);
    const input = noise(960, 0.5);
    const before = input.slice();
    chain.process(before, 960);
    expect(firstDifference(before, input)).toBe(-1);
    chain.setKnobs(mergeKnobs(defaultKnobs(), { 'pcm.input_gain_db': 20 * Math.log10(2) }));
    const after = input.slice();
    chain.process(after, 960);
    expect(firstDifference(after, input.map((v) => 2 * v))).toBe(-1);
  });

  it('does not clamp: +12 dB of gain on a full-scale sine gives a 3.98 peak', () => {
    const buf = sine(FS, 1000, 1, 960);
    chainWith({ 'pcm.input_gain_db': 12 }).process(buf, 960);
    expect(peak(buf)).toBeCloseTo(dbToAmp(12), 5);
  });

  it('caps peaks with the limiter on, after gain and makeup', () => {
    const chain = chainWith({ ...ALL_ON, 'pcm.input_gain_db': 20, 'limiter.threshold_dbfs': -3 });
    const buf = noise(5 * FS, 1, 2);
    inBlocks(buf, 960, (b, n) => chain.process(b, n));
    expect(peak(buf)).toBeLessThanOrEqual(dbToAmp(-3));
    expect(peak(buf)).toBeGreaterThan(dbToAmp(-3) * 0.999);
  });

  it('applies gain before the gate: a -50 dBFS tone +20 dB opens a -40 dBFS gate', () => {
    const tone = sine(FS, 1000, dbToAmp(-50), FS);
    const buf = tone.slice();
    const chain = chainWith({ 'pcm.input_gain_db': 20, 'gate.enabled': true, 'gate.threshold_dbfs': -40 });
    inBlocks(buf, 960, (b, n) => chain.process(b, n));
    expect(firstDifference(buf.subarray(FS / 2), tone.map((v) => v * dbToAmp(20)).subarray(FS / 2))).toBe(-1);
  });

  it('applies the high-pass before the gate: a 20 Hz hum filtered under the threshold is gated', () => {
    // -30 dBFS at 20 Hz opens a -40 dBFS gate by itself, but after a 400 Hz high-pass (≈ -52 dB) it does not.
    const hum = sine(FS, 20, dbToAmp(-30), 2 * FS);
    const chain = chainWith({ 'hpf.enabled': true, 'hpf.cutoff_hz': 400, 'gate.enabled': true, 'gate.threshold_dbfs': -40 });
    inBlocks(hum, 960, (b, n) => chain.process(b, n));
    expect(peak(hum, FS, 2 * FS)).toBeLessThan(dbToAmp(-150));
  });

  it('starts a stage that is switched on again from reset', () => {
    const knobsOn = mergeKnobs(defaultKnobs(), { 'compressor.enabled': true });
    const loud = sine(FS, 1000, 1, FS);
    const chain = new ProcessingChain(FS);
    chain.setKnobs(knobsOn);
    inBlocks(loud.slice(), 960, (b, n) => chain.process(b, n)); // builds up 18 dB of reduction
    chain.setKnobs(defaultKnobs());
    chain.process(loud.slice(0, 960), 960);
    chain.setKnobs(knobsOn);
    const again = loud.slice(0, 960);
    chain.process(again, 960);
    const fresh = loud.slice(0, 960);
    chainWith({ 'compressor.enabled': true }).process(fresh, 960);
    expect(firstDifference(again, fresh)).toBe(-1);
  });

  it('keeps a running stage\'s state when its knobs are retuned', () => {
    const chain = chainWith({ 'compressor.enabled': true });
    inBlocks(sine(FS, 1000, 1, FS), 960, (b, n) => chain.process(b, n));
    chain.setKnobs(mergeKnobs(defaultKnobs(), { 'compressor.enabled': true, 'compressor.makeup_db': 1 }));
    const next = sine(FS, 1000, 1, 960);
    const fresh = next.slice();
    chain.process(next, 960);
    chainWith({ 'compressor.enabled': true, 'compressor.makeup_db': 1 }).process(fresh, 960);
    expect(peak(next)).toBeLessThan(peak(fresh) * dbToAmp(-10)); // still reducing ~18 dB
  });

  it('runs every stage at once without NaN, and reset restores the first-run output', () => {
    const chain = chainWith(ALL_ON);
    const input = noise(2 * FS, 0.3, 9);
    const first = input.slice();
    inBlocks(first, 960, (b, n) => chain.process(b, n));
    chain.reset();
    const second = input.slice();
    inBlocks(second, 960, (b, n) => chain.process(b, n));
    expect(firstDifference(second, first)).toBe(-1);
    expect(first.every(Number.isFinite)).toBe(true);
  });

  it('rejects a length beyond the buffer', () => {
    expect(() => new ProcessingChain(FS).process(new Float32Array(4), 5)).toThrow(RangeError);
  });
});
