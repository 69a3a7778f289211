/**
 * Test audio for the browser tests, made with code and written as 16-bit PCM WAV (Chromium's
 * fake microphone plays 24-bit files as silence), and the measurements the tests compare.
 */
import { writeFileSync } from 'node:fs';
import { encodeWav } from '../../relay/src/audio/wav.ts';
import { mulberry32, toInt16 } from '../../relay/src/audio/signals.ts';

export const RATE = 48000;

/** A steady sine (a whole number of cycles, so the fake microphone's loop has no seam). */
export function steadySine(freqHz: number, peakDbfs: number, seconds: number): Float32Array {
  const a = 10 ** (peakDbfs / 20);
  const n = Math.round(seconds * RATE);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = a * Math.sin((2 * Math.PI * freqHz * i) / RATE);
  return x;
}

/**
 * Tones of random pitch (200-2000 Hz) and level (-36 to -10 dBFS), 200 ms each with 10 ms
 * ramps: an envelope no stretch of which looks like another, so recorded audio can be
 * located in the file and correlated with it.
 */
export function toneMosaic(seconds: number, seed = 7): Float32Array {
  const rnd = mulberry32(seed);
  const n = Math.round(seconds * RATE);
  const x = new Float32Array(n);
  const seg = Math.round(0.2 * RATE);
  const ramp = Math.round(0.01 * RATE);
  let phase = 0;
  for (let s = 0; s < n; s += seg) {
    const f = 200 + rnd() * 1800;
    const a = 10 ** ((-36 + rnd() * 26) / 20);
    for (let i = 0; i < seg && s + i < n; i++) {
      const g = Math.min(1, i / ramp, (seg - i) / ramp);
      phase += (2 * Math.PI * f) / RATE;
      x[s + i] = a * g * Math.sin(phase);
    }
  }
  return x;
}

export function writeWav(path: string, x: Float32Array): string {
  writeFileSync(path, encodeWav(toInt16(x), RATE));
  return path;
}

/** RMS, dBFS, of x (full-scale sine = -3.01). */
export function rmsDbfs(x: ArrayLike<number>, start = 0, end = x.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += x[i] * x[i];
  return 10 * Math.log10(sum / Math.max(1, end - start) + 1e-20);
}

/** Per-window RMS (linear) of x, one value per `windowSamples`. */
export function envelope(x: ArrayLike<number>, windowSamples: number): Float64Array {
  const n = Math.floor(x.length / windowSamples);
  const out = new Float64Array(n);
  for (let w = 0; w < n; w++) {
    let sum = 0;
    for (let i = w * windowSamples; i < (w + 1) * windowSamples; i++) sum += x[i] * x[i];
    out[w] = Math.sqrt(sum / windowSamples);
  }
  return out;
}

/**
 * Best Pearson correlation of `part` against the looping `whole` (both envelopes), over
 * every circular offset; and that offset. The fake microphone loops its file and starts
 * anywhere in it.
 */
export function bestLoopCorrelation(part: Float64Array, whole: Float64Array): { r: number; offset: number } {
  let best = { r: -1, offset: 0 };
  const n = part.length;
  let mp = 0;
  for (const v of part) mp += v;
  mp /= n;
  for (let off = 0; off < whole.length; off++) {
    let mw = 0;
    for (let i = 0; i < n; i++) mw += whole[(off + i) % whole.length];
    mw /= n;
    let sxy = 0, sxx = 0, syy = 0;
    for (let i = 0; i < n; i++) {
      const a = part[i] - mp;
      const b = whole[(off + i) % whole.length] - mw;
      sxy += a * b;
      sxx += a * a;
      syy += b * b;
    }
    const r = sxy / Math.sqrt(sxx * syy + 1e-30);
    if (r > best.r) best = { r, offset: off };
  }
  return best;
}
