import { describe, expect, it } from 'vitest';
import { sine, whiteNoise } from '../audio/signals.ts';
import { speechLevel } from './level.ts';

const RATE = 16000;
const FRAME = 320; // 20 ms at 16 kHz

/** Talk and pause in whole 20 ms frames: `pattern` is a list of [talk frames, pause frames]. */
function withPauses(talk: Float32Array, pattern: [number, number][], floor?: Float32Array): Float32Array {
  const total = pattern.reduce((n, [a, b]) => n + a + b, 0) * FRAME;
  const x = new Float32Array(total);
  if (floor) x.set(floor.subarray(0, total));
  let at = 0;
  let src = 0;
  for (const [talkFrames, pauseFrames] of pattern) {
    x.set(talk.subarray(src, src + talkFrames * FRAME), at);
    at += (talkFrames + pauseFrames) * FRAME;
    src += talkFrames * FRAME;
  }
  return x;
}

describe('speechLevel', () => {
  it('a -26 dBFS sine with pauses has a level of -29.01 dBFS, whatever the pauses', () => {
    // 1 kHz at 16 kHz: 16 samples a period, 20 periods a frame, so every frame is exact.
    const tone = sine(1000, -26, 5, RATE);
    for (const pattern of [
      [[50, 0]],
      [[25, 25], [25, 25]],
      [[10, 60], [5, 100]],
    ] as [number, number][][]) {
      const r = speechLevel(withPauses(tone, pattern), RATE);
      expect(r.levelDbfs).toBeCloseTo(-29.01, 2);
      expect(r.peakDbfs).toBeCloseTo(-26, 2);
      expect(r.activeFrames).toBe(pattern.reduce((n, [a]) => n + a, 0));
    }
  });

  it('leaves out a noise floor below -70 dBFS and frames more than 40 dB under the loudest', () => {
    const tone = sine(1000, -26, 5, RATE);
    const lowFloor = whiteNoise(-75, 5, RATE, 3);
    const r1 = speechLevel(withPauses(tone, [[20, 30], [20, 30]], lowFloor), RATE);
    expect(r1.activeFrames).toBe(40);
    expect(r1.levelDbfs).toBeCloseTo(-29.01, 1);

    // A -10 dBFS tone makes a -60 dBFS floor (49 dB under it) inactive, but counts it under
    // a -29 dBFS tone (31 dB under it).
    const midFloor = whiteNoise(-60, 5, RATE, 4);
    const loud = speechLevel(withPauses(sine(1000, -7, 5, RATE), [[20, 30]], midFloor), RATE);
    expect(loud.activeFrames).toBe(20);
    expect(loud.levelDbfs).toBeCloseTo(-10.01, 1);
    const quiet = speechLevel(withPauses(tone, [[20, 30]], midFloor), RATE);
    expect(quiet.activeFrames).toBe(50);
  });

  it('energy-averages: frames at -20 and -40 dBFS RMS give 10·log10((0.01 + 0.0001)/2)', () => {
    const x = new Float32Array(2 * FRAME);
    x.set(sine(1000, -20 + 3.0103, 0.02, RATE), 0);
    x.set(sine(1000, -40 + 3.0103, 0.02, RATE), FRAME);
    const r = speechLevel(x, RATE);
    expect(r.levelDbfs).toBeCloseTo(10 * Math.log10((0.01 + 0.0001) / 2), 3);
    expect(r.loudestFrameDbfs).toBeCloseTo(-20, 3);
  });

  it('reads digital silence and an empty segment as no speech', () => {
    expect(speechLevel(new Float32Array(5 * RATE), RATE)).toEqual({ levelDbfs: null, peakDbfs: null, loudestFrameDbfs: null, activeFrames: 0, frames: 250 });
    expect(speechLevel(new Float32Array(0), RATE)).toEqual({ levelDbfs: null, peakDbfs: null, loudestFrameDbfs: null, activeFrames: 0, frames: 0 });
  });

  it('counts a last partial frame by its own samples', () => {
    const x = sine(1000, -6, 0.03, RATE); // one and a half frames
    const r = speechLevel(x, RATE);
    expect(r.frames).toBe(2);
    expect(r.levelDbfs).toBeCloseTo(-9.01, 2);
  });

  it('rejects a sample rate that is not a positive integer', () => {
    expect(() => speechLevel(new Float32Array(10), 0)).toThrow(TypeError);
  });
});
