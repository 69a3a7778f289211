import { describe, expect, it } from 'vitest';
import { NOT_GENERATED, readFrameMeter, readLoudnessMeter, TECH_3342_CASES, verdict } from './ebu-signals.ts';

describe('EBU Tech 3342 Table 1: the expectations are the document\'s', () => {
  it('generates cases 1-4 with LRA 10, 5, 20 and 15 LU ±1, and lists the file-only cases 5 and 6', () => {
    const table = TECH_3342_CASES.map((c) => {
      const [e] = c.generate(48000).expectations;
      return [c.number, e.measure, e.value, e.below, e.above];
    });
    expect(table).toEqual([
      [1, 'LRA', 10, 1, 1],
      [2, 'LRA', 5, 1, 1],
      [3, 'LRA', 20, 1, 1],
      [4, 'LRA', 15, 1, 1],
    ]);
    expect(NOT_GENERATED.filter((c) => c.id.startsWith('tech3342-')).map((c) => c.id)).toEqual(['tech3342-5', 'tech3342-6']);
  });

  it('builds 20 s segments at the stated levels (case 4: -50, -35, -20, -35, -50 dBFS)', () => {
    const s = TECH_3342_CASES[3].generate(16000);
    const x = s.channels[0];
    expect(x.length).toBe(16000 * 100);
    const peak = (from: number) => Math.max(...x.subarray(from * 16000 + 1000, from * 16000 + 9000).map(Math.abs));
    expect([0, 20, 40, 60, 80].map((t) => 20 * Math.log10(peak(t)))).toEqual([-50, -35, -20, -35, -50].map((db) => expect.closeTo(db, 2)));
  });
});

describe('EBU Tech 3342 Table 1 (loudness range)', () => {
  for (const c of TECH_3342_CASES) {
    for (const fs of c.sampleRates) {
      it(`case ${c.number} at ${fs} Hz: LoudnessMeter (stereo, 128-sample blocks) and FrameMeter (left channel, 20 ms blocks)`, () => {
        const s = c.generate(fs);
        const [e] = s.expectations;
        const stereo = verdict(e, readLoudnessMeter(s, 128));
        const mono = verdict(e, readFrameMeter(s.channels[0], fs, Math.round(fs / 50)), true);
        for (const v of [stereo, mono]) {
          expect(v.measured).not.toBeNull();
          expect(v.measured).toBeGreaterThanOrEqual(v.expected - e.below);
          expect(v.measured).toBeLessThanOrEqual(v.expected + e.above);
        }
      });
    }
  }
});
