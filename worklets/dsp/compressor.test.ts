import { describe, expect, it } from 'vitest';
import { Compressor, type CompressorParams, KNEE_DB } from './compressor.ts';
import { dbToAmp } from './constants.ts';
import { db, firstDifference, inBlocks, noise, peak, sine } from './test-signals.ts';

const FS = 48000;
const BASE: CompressorParams = { thresholdDbfs: -24, ratio: 4, attackMs: 10, releaseMs: 200, makeupDb: 0 };

/** Output peak level (dBFS) of a steady sine of `levelDbfs` peak, measured after 1 s of settling. */
function settledDbfs(p: CompressorParams, levelDbfs: number, hz = 1000): number {
  const c = new Compressor(FS);
  c.set(p);
  const buf = sine(FS, hz, dbToAmp(levelDbfs), 2 * FS);
  inBlocks(buf, 960, (b, n) => c.process(b, n));
  return db(peak(buf, FS, 2 * FS));
}

/** The static curve off the knee: T + (L − T)/R above, L below; plus makeup. */
function staticCurve(p: CompressorParams, level: number): number {
  return (level > p.thresholdDbfs ? p.thresholdDbfs + (level - p.thresholdDbfs) / p.ratio : level) + p.makeupDb;
}

describe('Compressor static curve (steady sines)', () => {
  const cases: [Partial<CompressorParams>, number][] = [
    [{}, 0],
    [{}, -12],
    [{}, -20],
    [{ ratio: 2 }, -6],
    [{ ratio: 20, thresholdDbfs: -40 }, -10],
    [{ makeupDb: 6 }, -6],
    [{ thresholdDbfs: -10, ratio: 8, attackMs: 1, releaseMs: 50 }, 0],
  ];
  for (const [over, level] of cases) {
    const p = { ...BASE, ...over };
    it(`T ${p.thresholdDbfs}, R ${p.ratio}, makeup ${p.makeupDb}: ${level} dBFS in → T + (L − T)/R out`, () => {
      expect(Math.abs(settledDbfs(p, level) - staticCurve(p, level))).toBeLessThan(0.5);
      expect(Math.abs(settledDbfs(p, level, 200) - staticCurve(p, level))).toBeLessThan(0.5);
    });
  }

  it('settles within 0.1 dB on a 1 kHz tone with the default times', () => {
    expect(Math.abs(settledDbfs(BASE, 0) - -18)).toBeLessThan(0.1);
  });

  it('passes signal below the knee at unity, bit for bit', () => {
    const c = new Compressor(FS);
    c.set(BASE);
    const input = sine(FS, 1000, dbToAmp(-30), FS);
    const buf = input.slice();
    inBlocks(buf, 960, (b, n) => c.process(b, n));
    expect(firstDifference(buf, input)).toBe(-1);
  });

  it('adds only the makeup gain below the knee', () => {
    expect(settledDbfs({ ...BASE, makeupDb: 6 }, -40)).toBeCloseTo(-34, 6);
  });

  it('reduces a level at the threshold by (1 − 1/R)·knee/8 in the soft knee', () => {
    const expected = -24 - ((1 - 1 / 4) * KNEE_DB) / 8; // -24.5625
    expect(settledDbfs(BASE, -24)).toBeCloseTo(expected, 1);
  });

  it('is transparent at ratio 1', () => {
    const c = new Compressor(FS);
    c.set({ ...BASE, ratio: 1 });
    const input = noise(FS, 1);
    const buf = input.slice();
    inBlocks(buf, 960, (b, n) => c.process(b, n));
    expect(firstDifference(buf, input)).toBe(-1);
  });
});

describe('Compressor timing', () => {
  /**
   * Gain reduction (dB) per 1 ms while a 1 kHz sine steps from -40 dBFS (below the knee) to
   * 0 dBFS at 0.5 s and back to -40 dBFS at 1.5 s.
   */
  function stepResponse(p: CompressorParams): number[] {
    const c = new Compressor(FS);
    c.set(p);
    const grPerMs: number[] = [];
    const len = 3 * FS;
    const input = sine(FS, 1000, 1, len);
    for (let i = 0; i < len; i++) if (i < FS / 2 || i >= 1.5 * FS) input[i] *= dbToAmp(-40);
    const buf = input.slice();
    for (let i = 0; i < len; i += 48) {
      c.process(buf.subarray(i, i + 48), 48);
      grPerMs.push(c.gainReductionDb);
    }
    return grPerMs;
  }

  /** ms from `from` until the reduction has covered 90 % of the way from its value at `from` to `target`. */
  function settleMs(gr: number[], from: number, target: number): number {
    const start = gr[from];
    for (let t = from; t < gr.length; t++) if (Math.abs(gr[t] - target) <= 0.1 * Math.abs(start - target)) return t - from;
    return Number.POSITIVE_INFINITY;
  }

  it('attacks in 2.3·τA and releases in about 2.3·τR (10 %–90 %, GMR time constants)', () => {
    const gr = stepResponse(BASE);
    const full = gr[1499];
    expect(full).toBeCloseTo(18, 0); // (0 − (−24))·(1 − 1/4)
    const attack = settleMs(gr, 500, full);
    const release = settleMs(gr, 1500, 0);
    expect(attack).toBeGreaterThanOrEqual(18); // 10 ms · ln 10 = 23 ms
    expect(attack).toBeLessThanOrEqual(28);
    expect(release).toBeGreaterThanOrEqual(400); // 200 ms · ln 10 = 460 ms, plus the attack smoothing
    expect(release).toBeLessThanOrEqual(540);
    expect(attack).toBeLessThan(release);
  });

  it('follows the attack and release knobs', () => {
    const fast = stepResponse({ ...BASE, attackMs: 1, releaseMs: 50 });
    const slow = stepResponse({ ...BASE, attackMs: 50, releaseMs: 1000 });
    const f = fast[1499], s = slow[1499];
    expect(settleMs(fast, 500, f)).toBeLessThan(settleMs(slow, 500, s));
    expect(settleMs(fast, 1500, 0)).toBeLessThan(settleMs(slow, 1500, 0));
    expect(settleMs(fast, 1500, 0)).toBeLessThan(150);
  });

  it('gives the same output whatever the block size, and starts over after reset', () => {
    const input = noise(FS, 0.8, 5);
    const a = input.slice();
    const b = input.slice();
    const c1 = new Compressor(FS);
    const c2 = new Compressor(FS);
    inBlocks(a, 128, (x, n) => c1.process(x, n));
    inBlocks(b, 1021, (x, n) => c2.process(x, n));
    expect(firstDifference(a, b)).toBe(-1);
    c1.reset();
    expect(c1.gainReductionDb).toBe(0);
  });

  it('rejects parameters with no meaning', () => {
    const c = new Compressor(FS);
    expect(() => c.set({ ...BASE, ratio: 0.5 })).toThrow(RangeError);
    expect(() => c.set({ ...BASE, attackMs: 0 })).toThrow(RangeError);
    expect(() => c.set({ ...BASE, thresholdDbfs: Number.NaN })).toThrow(RangeError);
  });
});
