import { describe, expect, it } from 'vitest';
import { sine } from '../../../worklets/dsp/test-signals.ts';
import { tailPeakDbfs, tailRmsDbfs } from './level.ts';
import { chooseMediaSource } from './media-source.ts';

const MIME = 'audio/webm; codecs="opus"';

/** A stand-in for a browser's MediaSource constructor that supports the given types. */
function flavour(supported: string[]): { new (): MediaSource; isTypeSupported(t: string): boolean } {
  return Object.assign(function MS() {} as unknown as { new (): MediaSource }, { isTypeSupported: (t: string) => supported.includes(t) });
}

describe('chooseMediaSource', () => {
  it('takes MediaSource when it plays WebM Opus (Chromium, Firefox, desktop Safari)', () => {
    const ms = flavour([MIME]);
    const r = chooseMediaSource({ MediaSource: ms, ManagedMediaSource: flavour([MIME]) }, MIME);
    expect(r).toEqual({ ok: true, ctor: ms, managed: false });
  });

  it('takes ManagedMediaSource where that is all there is (iPhone Safari)', () => {
    const mms = flavour([MIME]);
    expect(chooseMediaSource({ ManagedMediaSource: mms }, MIME)).toEqual({ ok: true, ctor: mms, managed: true });
  });

  it('says which is missing: the type, or MSE altogether', () => {
    const noType = chooseMediaSource({ MediaSource: flavour(['audio/mp4']) }, MIME);
    expect(!noType.ok && noType.message).toContain('cannot play');
    const none = chooseMediaSource({}, MIME);
    expect(!none.ok && none.message).toContain('no Media Source Extensions');
  });
});

describe('tailRmsDbfs / tailPeakDbfs', () => {
  it('reads a -6 dBFS sine as -9.03 dBFS RMS and -6 dBFS peak over the newest samples', () => {
    const x = new Float32Array(32768);
    // Old silence, then 400 ms of a 0.5-peak 1 kHz sine at the end (a whole number of cycles).
    x.set(sine(48000, 1000, 0.5, 19200, Math.PI / 2), 32768 - 19200);
    expect(tailRmsDbfs(x, 19200)).toBeCloseTo(-9.03, 2);
    expect(tailPeakDbfs(x, 2400)).toBeCloseTo(-6.02, 2);
    // A window longer than the buffer takes all of it: 400 ms of sound in 683 ms, 2.3 dB lower.
    expect(tailRmsDbfs(x, 38400)).toBeCloseTo(-9.03 - 10 * Math.log10(32768 / 19200), 2);
  });

  it('reads silence as the floor, never -Infinity', () => {
    expect(tailRmsDbfs(new Float32Array(100), 50)).toBe(-120);
    expect(tailPeakDbfs(new Float32Array(100), 50)).toBe(-120);
  });
});
