import { describe, expect, it } from 'vitest';
import { type EbuExpectation, type EbuReadings, NOT_GENERATED, readFrameMeter, readLoudnessMeter, TECH_3341_CASES, verdict } from './ebu-signals.ts';
import { FrameMeter } from './meters.ts';

/** Asserts a reading within the document's tolerance, naming what was read. */
function expectWithin(e: EbuExpectation, r: EbuReadings, mono: boolean): void {
  const v = verdict(e, r, mono);
  const what = `${e.measure} (${e.when}${e.when === 'every' ? ` from ${e.fromS} s` : ''})`;
  expect(v.measured, what).not.toBeNull();
  expect(v.measured, what).toBeGreaterThanOrEqual(v.expected - e.below - 1e-9);
  expect(v.measured, what).toBeLessThanOrEqual(v.expected + e.above + 1e-9);
}

describe('EBU Tech 3341 Table 1: the expectations are the document\'s', () => {
  // Case → [measure, expected, tolerance below, above] as printed in Table 1.
  const table: Record<number, [string, number, number, number][]> = {
    1: [['M', -23, 0.1, 0.1], ['S', -23, 0.1, 0.1], ['I', -23, 0.1, 0.1]],
    2: [['M', -33, 0.1, 0.1], ['S', -33, 0.1, 0.1], ['I', -33, 0.1, 0.1]],
    3: [['I', -23, 0.1, 0.1]],
    4: [['I', -23, 0.1, 0.1]],
    5: [['I', -23, 0.1, 0.1]],
    6: [['I', -23, 0.1, 0.1]],
    9: [['S', -23, 0.1, 0.1]],
    12: [['M', -23, 0.1, 0.1]],
    15: [['TP', -6, 0.4, 0.2]],
    16: [['TP', -6, 0.4, 0.2]],
    17: [['TP', -6, 0.4, 0.2]],
    18: [['TP', -6, 0.4, 0.2]],
    19: [['TP', 3, 0.4, 0.2]],
  };

  it('generates cases 1-6, 9, 12 and 15-19, and lists the file-only cases 7, 8, 10, 11, 13, 14, 20-23', () => {
    expect(TECH_3341_CASES.map((c) => c.number)).toEqual([1, 2, 3, 4, 5, 6, 9, 12, 15, 16, 17, 18, 19]);
    expect(NOT_GENERATED.filter((c) => c.id.startsWith('tech3341-')).map((c) => Number(c.id.slice(9)))).toEqual([7, 8, 10, 11, 13, 14, 20, 21, 22, 23]);
  });

  for (const c of TECH_3341_CASES) {
    it(`case ${c.number}: ${c.description}`, () => {
      const e = c.generate(48000).expectations.map((x) => [x.measure, x.value, x.below, x.above]);
      expect(e).toEqual(table[c.number]);
    });
  }

  it('a reading outside the tolerance fails the check', () => {
    const e = TECH_3341_CASES[0].generate(48000).expectations[2];
    const readings = (lufs: number): EbuReadings => ({ stepEndS: [], momentaryLufs: [], shortTermLufs: [], integratedLufs: lufs, loudnessRangeLu: null, truePeakDbtp: -120 });
    expect(verdict(e, readings(-23.09)).pass).toBe(true);
    expect(verdict(e, readings(-23.11)).pass).toBe(false);
    expect(verdict(e, readings(-26.01), true).pass).toBe(true);
    expect(verdict(e, readings(-23), true).pass).toBe(false);
  });
});

describe('EBU Tech 3341 Table 1 through LoudnessMeter (all channels, 128-sample blocks)', () => {
  for (const c of TECH_3341_CASES) {
    for (const fs of c.sampleRates) {
      it(`case ${c.number} at ${fs} Hz`, () => {
        const signal = c.generate(fs);
        const r = readLoudnessMeter(signal, 128);
        for (const e of signal.expectations) expectWithin(e, r, false);
      });
    }
  }
});

describe('EBU Tech 3341 Table 1 through FrameMeter (the left channel as a mono station, 20 ms blocks)', () => {
  // Case 6 (5.0 channels) has no mono reading (asserted below).
  for (const c of TECH_3341_CASES.filter((x) => x.number !== 6)) {
    for (const fs of c.sampleRates) {
      it(`case ${c.number} at ${fs} Hz`, () => {
        const s = c.generate(fs);
        const r = readFrameMeter(s.channels[0], fs, Math.round(fs / 50));
        for (const e of s.expectations) expectWithin(e, r, true);
      });
    }
  }

  it('case 6 (5.0) has no mono expectation', () => {
    const c = TECH_3341_CASES.find((x) => x.number === 6);
    expect(c?.generate(48000).expectations.every((e) => e.monoValue === null)).toBe(true);
  });

  it('case 12: FrameMeter.momentaryLufs (400 ms ending at each block) is constant after 1 s too', () => {
    const c = TECH_3341_CASES.find((x) => x.number === 12);
    if (!c) throw new Error('case 12 is generated');
    for (const fs of c.sampleRates) {
      const s = c.generate(fs);
      const e = s.expectations[0];
      const m = new FrameMeter(fs);
      const block = Math.round(fs / 50);
      const x = s.channels[0];
      let worst = e.monoValue as number;
      for (let i = 0; i + block <= x.length; i += block) {
        m.process(x.subarray(i, i + block), block);
        if ((i + block) / fs >= e.fromS && Math.abs(m.momentaryLufs - (e.monoValue as number)) > Math.abs(worst - (e.monoValue as number))) worst = m.momentaryLufs;
      }
      expect(Math.abs(worst - (e.monoValue as number))).toBeLessThanOrEqual(e.below);
    }
  });
});
