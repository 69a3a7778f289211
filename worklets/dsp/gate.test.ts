import { describe, expect, it } from 'vitest';
import { dbToAmp } from './constants.ts';
import { GATE_CLOSED_DB, NoiseGate } from './gate.ts';
import { db, firstDifference, inBlocks, peak, sine } from './test-signals.ts';

const FS = 48000;

function gateOf(thresholdDbfs: number): NoiseGate {
  const g = new NoiseGate(FS);
  g.set(thresholdDbfs);
  return g;
}

/** Gain in dB over out/in[from..to), measured on peaks. */
function gainDb(input: Float32Array, out: Float32Array, from: number, to: number): number {
  return db(peak(out, from, to) / peak(input, from, to));
}

describe('NoiseGate', () => {
  it('passes a tone above the threshold unchanged in steady state', () => {
    const input = sine(FS, 1000, dbToAmp(-20), FS);
    const g = gateOf(-40);
    const out = input.slice();
    inBlocks(out, 128, (b, n) => g.process(b, n));
    expect(Math.abs(gainDb(input, out, FS / 2, FS))).toBeLessThan(0.1);
    expect(firstDifference(out.subarray(FS / 2), input.subarray(FS / 2))).toBe(-1); // open is exactly unity
  });

  it('attenuates a tone below the threshold by 80 dB in steady state', () => {
    const input = sine(FS, 1000, dbToAmp(-50), FS);
    const out = input.slice();
    const g = gateOf(-40);
    inBlocks(out, 960, (b, n) => g.process(b, n));
    const gain = gainDb(input, out, FS / 2, FS);
    expect(gain).toBeLessThanOrEqual(-60);
    expect(gain).toBeCloseTo(GATE_CLOSED_DB, 3);
  });

  it('stays open through the zero crossings of a 20 Hz tone', () => {
    const input = sine(FS, 20, dbToAmp(-20), 2 * FS);
    const out = input.slice();
    const g = gateOf(-40);
    inBlocks(out, 960, (b, n) => g.process(b, n));
    expect(firstDifference(out.subarray(FS), input.subarray(FS))).toBe(-1);
  });

  it('opens in 1 ms, holds 50 ms and closes over 100 ms', () => {
    // 200 ms at -50 dBFS (closed), 300 ms at -20 dBFS (open), then -50 dBFS again.
    const ms = FS / 1000;
    const input = new Float32Array(FS);
    const quiet = dbToAmp(-50), loud = dbToAmp(-20);
    for (let i = 0; i < FS; i++) input[i] = (i >= 200 * ms && i < 500 * ms ? loud : quiet) * (i % 2 ? 1 : -1);
    const out = input.slice();
    const g = gateOf(-40);
    inBlocks(out, 960, (b, n) => g.process(b, n));
    const gainAt = (i: number) => db(Math.abs(out[i] / input[i]));
    expect(gainAt(200 * ms - 1)).toBeCloseTo(-80, 3);
    // The first loud sample takes the first step: 24 steps of 80/48 dB reach -40 dB.
    expect(gainAt(200 * ms + ms / 2 - 1)).toBeCloseTo(-40, 3);
    expect(gainAt(200 * ms + ms)).toBe(0);
    expect(gainAt(500 * ms + 49 * ms)).toBe(0); // holding
    expect(gainAt(500 * ms + 100 * ms)).toBeCloseTo(-40, 1); // halfway through the release ramp
    expect(gainAt(500 * ms + 151 * ms)).toBeCloseTo(-80, 3);
  });

  it('starts closed after reset', () => {
    const g = gateOf(-90);
    const a = new Float32Array(960).fill(0.5);
    g.process(a, 960);
    expect(a[959]).toBe(0.5);
    g.reset();
    const b = new Float32Array(1).fill(0.5);
    g.process(b, 1);
    expect(b[0]).toBeLessThan(0.5 * dbToAmp(-70));
  });
});
