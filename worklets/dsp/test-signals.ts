/**
 * Deterministic test signals and block-level measurements for the kernel tests and the
 * benchmark. Not used in any audio path (they allocate).
 */

/** A sine of `amplitude` (peak, linear) at `hz`, starting at phase 0. */
export function sine(sampleRate: number, hz: number, amplitude: number, samples: number, phase = 0): Float32Array {
  const out = new Float32Array(samples);
  const w = (2 * Math.PI * hz) / sampleRate;
  for (let i = 0; i < samples; i++) out[i] = amplitude * Math.sin(w * i + phase);
  return out;
}

/** mulberry32: a seeded 32-bit generator, uniform in [0, 1); the same sequence everywhere. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** White noise, uniform in [-amplitude, amplitude), from a seeded mulberry32 generator. */
export function noise(samples: number, amplitude: number, seed = 1): Float32Array {
  const out = new Float32Array(samples);
  const next = mulberry32(seed);
  for (let i = 0; i < samples; i++) out[i] = amplitude * (2 * next() - 1);
  return out;
}

/** RMS of buf[from..to), linear. */
export function rms(buf: Float32Array, from = 0, to = buf.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += buf[i] * buf[i];
  return Math.sqrt(s / (to - from));
}

/** Largest |x| of buf[from..to). */
export function peak(buf: Float32Array, from = 0, to = buf.length): number {
  let p = 0;
  for (let i = from; i < to; i++) p = Math.max(p, Math.abs(buf[i]));
  return p;
}

/** Level ratio in dB of two linear amplitudes. */
export function db(ratio: number): number {
  return 20 * Math.log10(ratio);
}

/** Feeds buf through `process` in blocks of `block` samples (the way the relay and the worklet call kernels). */
export function inBlocks(buf: Float32Array, block: number, process: (b: Float32Array, n: number) => void): void {
  for (let i = 0; i < buf.length; i += block) {
    const view = buf.subarray(i, Math.min(buf.length, i + block));
    process(view, view.length);
  }
}

/** Index of the first sample where a and b differ (=== , so 0 and -0 match), or -1 if they are identical. */
export function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
