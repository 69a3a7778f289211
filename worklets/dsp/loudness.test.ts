import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { Biquad, kWeightingHighpassCoefficients, kWeightingShelfCoefficients } from './biquad.ts';
import { ABSOLUTE_GATE_LUFS, gateBlocks, LoudnessIntegrator, LoudnessMeter, lufsToPower, powerToLufs } from './loudness.ts';
import { FrameMeter } from './meters.ts';
import { noise, sine } from './test-signals.ts';
import { TruePeakMeter } from './true-peak.ts';

const STEP = 4800; // 100 ms at 48 kHz

/** Feeds `count` steps of mean square `power` (a step of STEP samples). */
function feed(li: LoudnessIntegrator, power: number, count = 1, samples = STEP): void {
  for (let i = 0; i < count; i++) li.addStep(power * samples, samples);
}

/** Mulberry32: deterministic uniform [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Scavenges (young-generation garbage collections) while `step` runs `calls` times. A step
 * that allocated even one boxed number (16 bytes) would fill the young generation (at most
 * 16 MB) twice over in 2 million calls. Until V8 has optimized the code (compiled
 * in the background, slow on a busy machine) the interpreter boxes every number, so this
 * is the fewest scavenges over up to five rounds: 0 once optimized code runs allocation-free.
 */
function scavenges(step: () => void, calls = 2_000_000): number {
  let fewest = Infinity;
  for (let round = 0; round < 5 && fewest > 0; round++) {
    const profiler = new v8.GCProfiler();
    profiler.start();
    for (let i = 0; i < calls; i++) step();
    fewest = Math.min(fewest, profiler.stop().statistics.length);
  }
  return fewest;
}

// First in the file: the probes need code V8 optimized for these calls alone, before other
// tests make the same functions polymorphic (more listeners, channel counts, block lengths).
describe('nothing allocated per block or per step', () => {
  const x = sine(48000, 997, 0.5, 8);
  const out = new Float64Array(1);

  it('detects an allocation when there is one (the probe works)', () => {
    const boxes: number[][] = [];
    expect(scavenges(() => {
      boxes[0] = [out[0]++];
    })).toBeGreaterThan(0);
  });

  it('FrameMeter.process, 8-sample blocks', () => {
    const m = new FrameMeter(48000);
    expect(scavenges(() => m.process(x, 8))).toBe(0);
  });

  it('LoudnessMeter.process, stereo, 8-sample blocks', () => {
    const m = new LoudnessMeter(48000, { channels: 2 });
    const ch = [x, x];
    expect(scavenges(() => m.process(ch, 8))).toBe(0);
  });

  it('TruePeakMeter.process, 8-sample blocks', () => {
    const t = new TruePeakMeter(48000);
    expect(scavenges(() => t.process(x, 8))).toBe(0);
  });

  it('LoudnessIntegrator.addStep with an onBlock listener', () => {
    const li = new LoudnessIntegrator();
    li.onBlock = (p) => {
      out[0] += p;
    };
    // Integer sums: a double argument is boxed by the caller when V8 does not inline the
    // call (FrameMeter's once-per-step call may cost that 16 bytes); this measures addStep.
    let k = 0;
    expect(scavenges(() => li.addStep(++k & 7, STEP))).toBe(0);
  });
});

describe('powerToLufs / lufsToPower (BS.1770-4 eq. 2)', () => {
  it('reads a mean square of 1 as -0.691 LUFS and 0.1 as -10.691', () => {
    expect(powerToLufs(1)).toBeCloseTo(-0.691, 12);
    expect(powerToLufs(0.1)).toBeCloseTo(-10.691, 12);
  });

  it('floors 0, negative and NaN powers at exactly -120', () => {
    expect(powerToLufs(0)).toBe(-120);
    expect(powerToLufs(-1e-3)).toBe(-120);
    expect(powerToLufs(Number.NaN)).toBe(-120);
    expect(powerToLufs(1e-20)).toBe(-120);
  });

  it('inverts', () => {
    for (const l of [-70, -23, -0.691, 3]) expect(powerToLufs(lufsToPower(l))).toBeCloseTo(l, 10);
  });
});

describe('gateBlocks (BS.1770-4 §2.3 two-pass gating)', () => {
  const blocks = (...lufs: number[]) => Float64Array.from(lufs, lufsToPower);

  it('returns the loudness of identical blocks and counts them all', () => {
    const r = gateBlocks(blocks(-23, -23, -23), 3);
    expect(r.lufs).toBeCloseTo(-23, 10);
    expect(r.passed).toBe(3);
  });

  it('drops blocks at or below -70 LUFS (absolute gate)', () => {
    const r = gateBlocks(Float64Array.of(lufsToPower(-30), lufsToPower(-75), lufsToPower(ABSOLUTE_GATE_LUFS)), 3);
    expect(r.lufs).toBeCloseTo(-30, 10);
    expect(r.passed).toBe(1);
  });

  it('drops blocks more than 10 LU below the absolute-gated loudness (relative gate)', () => {
    // Ten at -20 and ten at -40: gated mean -22.97 LUFS, relative gate -32.97; the -40s go.
    const r = gateBlocks(blocks(...Array(10).fill(-20), ...Array(10).fill(-40)), 20);
    expect(r.lufs).toBeCloseTo(-20, 10);
    expect(r.passed).toBe(10);
    // Ten at -20 and ten at -28: relative gate -32.1, all pass; mean of the powers.
    const all = gateBlocks(blocks(...Array(10).fill(-20), ...Array(10).fill(-28)), 20);
    expect(all.passed).toBe(20);
    expect(all.lufs).toBeCloseTo(-20 + 10 * Math.log10((1 + Math.pow(10, -0.8)) / 2), 10);
  });

  it('gates relative to an external loudness when given (relativeTo)', () => {
    const b = blocks(-20, -28, -28, -45);
    const own = gateBlocks(b, 4);
    expect(own.passed).toBe(3); // own gate ≈ -33.2: -45 goes
    const r = gateBlocks(b, 4, -15); // gate at -25: only the -20 block passes
    expect(r.passed).toBe(1);
    expect(r.lufs).toBeCloseTo(-20, 10);
    const low = gateBlocks(b, 4, -60); // gate at -70: the absolute gate still applies
    expect(low.passed).toBe(4);
    expect(gateBlocks(b, 4, null).passed).toBe(3);
    expect(gateBlocks(b, 4, 0).lufs).toBeNull(); // gate at -10: none pass
  });

  it('uses only the first `count` entries and does not modify them', () => {
    const b = blocks(-20, -20, -80, -10);
    const copy = b.slice();
    const r = gateBlocks(b, 2);
    expect(r.passed).toBe(2);
    expect(r.lufs).toBeCloseTo(-20, 10);
    expect(b).toEqual(copy);
  });

  it('returns null when nothing passes, and for no blocks', () => {
    expect(gateBlocks(blocks(-80, -90), 2)).toEqual({ lufs: null, passed: 0 });
    expect(gateBlocks(new Float64Array(4), 0)).toEqual({ lufs: null, passed: 0 });
  });

  it('rejects a count beyond the array and a NaN reference', () => {
    expect(() => gateBlocks(new Float64Array(2), 3)).toThrow(RangeError);
    expect(() => gateBlocks(new Float64Array(2), -1)).toThrow(RangeError);
    expect(() => gateBlocks(new Float64Array(2), 2, Number.NaN)).toThrow(RangeError);
  });
});

describe('LoudnessIntegrator', () => {
  it('reads -120 and null before any step', () => {
    const li = new LoudnessIntegrator();
    expect([li.momentaryLufs, li.shortTermLufs, li.blocks, li.lastBlockPower]).toEqual([-120, -120, 0, 0]);
    expect(li.integratedLufs()).toBeNull();
    expect(li.loudnessRangeLu()).toBeNull();
  });

  it('reads M over the last 4 steps and S over the last 30 (fewer while fewer were seen)', () => {
    const li = new LoudnessIntegrator();
    const p = [1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2];
    feed(li, p[0]);
    expect(li.momentaryLufs).toBeCloseTo(powerToLufs(p[0]), 10);
    expect(li.shortTermLufs).toBeCloseTo(powerToLufs(p[0]), 10);
    for (let i = 1; i < 5; i++) feed(li, p[i]);
    expect(li.momentaryLufs).toBeCloseTo(powerToLufs((p[1] + p[2] + p[3] + p[4]) / 4), 10);
    expect(li.shortTermLufs).toBeCloseTo(powerToLufs(p.reduce((a, b) => a + b) / 5), 10);
    feed(li, 0, 26); // 31 steps in all: S covers the newest 30, so p[0] has left
    expect(li.shortTermLufs).toBeCloseTo(powerToLufs((p[1] + p[2] + p[3] + p[4]) / 30), 10);
    expect(li.momentaryLufs).toBe(-120);
  });

  it('weights steps of unequal length by their samples (mean square over the window)', () => {
    const li = new LoudnessIntegrator();
    li.addStep(1 * 4410, 4410);
    li.addStep(0, 4411);
    expect(li.momentaryLufs).toBeCloseTo(powerToLufs(4410 / 8821), 10);
  });

  it('completes a 400 ms block at every step from the 4th, and calls onBlock once per block with its mean square', () => {
    const li = new LoudnessIntegrator();
    const seen: number[] = [];
    li.onBlock = (power) => seen.push(power);
    const p = [1, 2, 3, 4, 5, 6].map((k) => k * 1e-3);
    for (let i = 0; i < 3; i++) feed(li, p[i]);
    expect(li.blocks).toBe(0);
    expect(seen).toEqual([]);
    for (let i = 3; i < 6; i++) feed(li, p[i]);
    expect(li.blocks).toBe(3);
    expect(seen.length).toBe(3);
    expect(seen[0]).toBeCloseTo((p[0] + p[1] + p[2] + p[3]) / 4, 15);
    expect(seen[2]).toBeCloseTo((p[2] + p[3] + p[4] + p[5]) / 4, 15);
    expect(li.lastBlockPower).toBe(seen[2]);
  });

  it('integrates a steady level to that level, once a block completed', () => {
    const li = new LoudnessIntegrator();
    feed(li, lufsToPower(-23), 3);
    expect(li.integratedLufs()).toBeNull();
    feed(li, lufsToPower(-23), 100);
    expect(li.integratedLufs()).toBeCloseTo(-23, 10);
    expect(li.loudnessRangeLu()).toBeCloseTo(0, 10);
  });

  it('applies the relative gate over overlapping blocks (BS.1770-4 §2.3, worked by hand)', () => {
    // 100 steps at -20 LUFS, then 100 at -40: 97 blocks at -20, 3 blocks straddling the
    // change (3, 2, 1 steps of 4 at -20), 97 at -40. Absolute-gated loudness ≈ -23: the gate
    // at ≈ -33 keeps the -20 and straddling blocks and drops the -40s.
    const li = new LoudnessIntegrator();
    feed(li, lufsToPower(-20), 100);
    feed(li, lufsToPower(-40), 100);
    const share = (k: number) => (k + (4 - k) * 0.01) / 4; // a block's power relative to -20 LUFS
    const expected = -20 + 10 * Math.log10((97 + share(3) + share(2) + share(1)) / 100);
    expect(li.integratedLufs()).toBeCloseTo(expected, 6);
    expect(li.blocks).toBe(197);
  });

  it('ignores everything at or below -70 LUFS: integrated and range stay null', () => {
    const li = new LoudnessIntegrator();
    feed(li, lufsToPower(-75), 100);
    expect(li.blocks).toBe(97);
    expect(li.integratedLufs()).toBeNull();
    expect(li.loudnessRangeLu()).toBeNull();
  });

  it('has no loudness range before 3 s (30 steps)', () => {
    const li = new LoudnessIntegrator();
    feed(li, lufsToPower(-20), 29);
    expect(li.loudnessRangeLu()).toBeNull();
    feed(li, lufsToPower(-20), 1);
    expect(li.loudnessRangeLu()).toBe(0);
  });

  /**
   * Varied material: a loudness wandering over 60 LU with pauses. Every block's power comes
   * out of onBlock and every short-term value is kept, so exact gating of all of them (the
   * slow, obvious way) is the reference for the histograms.
   */
  function varied(seed: number, steps: number): { li: LoudnessIntegrator; blocks: Float64Array; count: number; shortTerm: number[] } {
    const li = new LoudnessIntegrator();
    const blocks = new Float64Array(steps);
    let count = 0;
    li.onBlock = (p) => {
      blocks[count++] = p;
    };
    const shortTerm: number[] = [];
    const r = rng(seed);
    let level = -30;
    for (let i = 0; i < steps; i++) {
      level = Math.max(-80, Math.min(0, level + (r() - 0.5) * 6));
      const pause = r() < 0.1;
      feed(li, pause ? 0 : lufsToPower(level + (r() - 0.5) * 4));
      if (i >= 29) shortTerm.push(li.shortTermLufs);
    }
    return { li, blocks, count, shortTerm };
  }

  /** Tech 3342 §3 over all short-term values, sorted: gates, then the nearest-rank 10th and 95th percentiles. */
  function exactRange(shortTerm: number[]): number | null {
    const abs = shortTerm.filter((l) => l > -70);
    if (abs.length === 0) return null;
    const mean = abs.reduce((s, l) => s + lufsToPower(l), 0) / abs.length;
    const gated = abs.filter((l) => l > powerToLufs(mean) - 20).sort((a, b) => a - b);
    const at = (q: number) => gated[Math.round((gated.length - 1) * q)];
    return at(0.95) - at(0.1);
  }

  it('integrates within 0.05 LU of exact gating over every block, on varied material (histogram mode)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { li, blocks, count } = varied(seed, 6000); // 10 minutes
      const exact = gateBlocks(blocks, count).lufs;
      expect(exact).not.toBeNull();
      expect(Math.abs((li.integratedLufs() as number) - (exact as number))).toBeLessThan(0.05);
    }
  });

  it('reads a loudness range within 0.2 LU of the exact percentiles (one 0.1 LU bin each), on varied material', () => {
    for (const seed of [1, 2, 3]) {
      const { li, shortTerm } = varied(seed, 6000);
      const exact = exactRange(shortTerm) as number;
      expect(exact).toBeGreaterThan(5);
      expect(Math.abs((li.loudnessRangeLu() as number) - exact)).toBeLessThan(0.2);
    }
  });

  it('stays exact over ten hours of steps in fixed memory', () => {
    const { li, blocks, count } = varied(9, 360_000);
    expect(count).toBe(360_000 - 3);
    expect(Math.abs((li.integratedLufs() as number) - (gateBlocks(blocks, count).lufs as number))).toBeLessThan(0.05);
  });

  it('starts again from nothing after reset, and then reads as a new one', () => {
    const a = varied(3, 500).li;
    a.reset();
    expect([a.momentaryLufs, a.shortTermLufs, a.blocks, a.lastBlockPower]).toEqual([-120, -120, 0, 0]);
    expect(a.integratedLufs()).toBeNull();
    expect(a.loudnessRangeLu()).toBeNull();
    const b = new LoudnessIntegrator();
    for (const li of [a, b]) {
      feed(li, lufsToPower(-30), 40);
      feed(li, lufsToPower(-18), 40);
    }
    expect(a.integratedLufs()).toBe(b.integratedLufs());
    expect(a.loudnessRangeLu()).toBe(b.loudnessRangeLu());
    expect(a.shortTermLufs).toBe(b.shortTermLufs);
  });
});

describe('LoudnessMeter', () => {
  it('reads a stereo pair of 1 kHz sines at -23 dBFS as -23.0 LUFS, and one of them as -26.0', () => {
    const x = sine(48000, 1000, Math.pow(10, -23 / 20), 48000 * 5);
    const stereo = new LoudnessMeter(48000, { channels: 2 });
    stereo.process([x, x], x.length);
    expect(Math.abs((stereo.loudness.integratedLufs() as number) + 23)).toBeLessThan(0.05);
    const mono = new LoudnessMeter(48000);
    mono.process([x], x.length);
    expect(Math.abs((mono.loudness.integratedLufs() as number) + 26.01)).toBeLessThan(0.05);
  });

  it('weights channels (BS.1770-4 Gi): a channel at weight 1.41 reads 1.49 LU louder', () => {
    const x = noise(48000 * 2, 0.2, 3);
    const silent = new Float32Array(x.length);
    const front = new LoudnessMeter(48000, { channels: 2 });
    const surround = new LoudnessMeter(48000, { channels: 2, channelWeights: [1, 1.41] });
    front.process([silent, x], x.length);
    surround.process([silent, x], x.length);
    expect((surround.loudness.integratedLufs() as number) - (front.loudness.integratedLufs() as number)).toBeCloseTo(10 * Math.log10(1.41), 9);
  });

  it('cuts steps at exact 100 ms boundaries whatever the block length (matches a direct computation)', () => {
    const fs = 44100;
    const x = noise(fs * 7 + 333, 0.3, 11);
    // Reference: K-weight sample by sample, sum squares per 4410 samples, blocks of 4 steps.
    const shelf = new Biquad(kWeightingShelfCoefficients(fs));
    const rlb = new Biquad(kWeightingHighpassCoefficients(fs));
    const steps: number[] = [];
    let acc = 0;
    for (let i = 0; i < x.length; i++) {
      const y = rlb.processSample(shelf.processSample(x[i]));
      acc += y * y;
      if ((i + 1) % 4410 === 0) {
        steps.push(acc);
        acc = 0;
      }
    }
    const expected = steps.slice(3).map((_, k) => (steps[k] + steps[k + 1] + steps[k + 2] + steps[k + 3]) / (4 * 4410));
    for (const block of [128, 882, 1021, 4410, x.length]) {
      const m = new LoudnessMeter(fs);
      const got: number[] = [];
      m.loudness.onBlock = (p) => got.push(p);
      for (let i = 0; i < x.length; i += block) m.process([x.subarray(i, Math.min(x.length, i + block))], Math.min(block, x.length - i));
      expect(got.length).toBe(expected.length);
      for (let k = 0; k < got.length; k++) expect(got[k] / expected[k]).toBeCloseTo(1, 9);
    }
  });

  it('reports the largest true peak over all channels, and -120 before any audio', () => {
    const m = new LoudnessMeter(48000, { channels: 2 });
    expect(m.truePeakDbtp).toBe(-120);
    const quiet = sine(48000, 1000, 0.1, 4800);
    const loud = sine(48000, 1000, 0.5, 4800);
    m.process([quiet, loud], 4800);
    expect(m.truePeakDbtp).toBeCloseTo(20 * Math.log10(0.5), 1);
    m.process([quiet, quiet], 4800);
    expect(m.truePeakDbtp).toBeCloseTo(20 * Math.log10(0.5), 1);
    m.reset();
    expect(m.truePeakDbtp).toBe(-120);
    expect(m.loudness.integratedLufs()).toBeNull();
  });

  it('rejects bad options and inputs', () => {
    expect(() => new LoudnessMeter(4000)).toThrow(RangeError);
    expect(() => new LoudnessMeter(48000, { channels: 0 })).toThrow(RangeError);
    expect(() => new LoudnessMeter(48000, { channels: 2, channelWeights: [1] })).toThrow(RangeError);
    expect(() => new LoudnessMeter(48000, { channels: 1, channelWeights: [-1] })).toThrow(RangeError);
    const m = new LoudnessMeter(48000, { channels: 2 });
    expect(() => m.process([new Float32Array(4)], 4)).toThrow(RangeError);
    expect(() => m.process([new Float32Array(4), new Float32Array(2)], 4)).toThrow(RangeError);
  });
});
