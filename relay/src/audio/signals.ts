/**
 * Test and demo signals with known levels, and the level measurements that check them.
 *
 * Every generator returns mono Float32Array samples at full scale ±1.0 and is deterministic:
 * the same arguments give the same samples, so tests can state known answers
 * (a -6 dBFS-peak sine has an RMS of -9.03 dBFS). Levels are dBFS relative to a full-scale
 * sample value of 1.0 (a full-scale sine measures 0 dBFS peak, -3.01 dBFS RMS).
 */
import { spawnSync } from 'node:child_process';
import { float32ToInt16 } from '../../../worklets/dsp/pcm.ts';
import { readWav } from './wav.ts';

/** Linear amplitude of a level in dB (20·log10 convention). */
export function dbToGain(db: number): number {
  return Math.pow(10, db / 20);
}

function sampleCount(seconds: number, sampleRate: number): number {
  if (!Number.isFinite(seconds) || seconds < 0) throw new TypeError(`seconds must be a finite number >= 0, got ${seconds}`);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new TypeError(`sampleRate must be a positive integer in Hz, got ${sampleRate}`);
  return Math.round(seconds * sampleRate);
}

/** A sine starting at phase 0 whose peak is `amplitudeDbfs` (0 dBFS = full scale). */
export function sine(freqHz: number, amplitudeDbfs: number, seconds: number, sampleRate: number): Float32Array {
  const n = sampleCount(seconds, sampleRate);
  const a = dbToGain(amplitudeDbfs);
  const w = (2 * Math.PI * freqHz) / sampleRate;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = a * Math.sin(w * i);
  return x;
}

/**
 * mulberry32: a 32-bit PRNG with a full 2^32 period, uniform in [0, 1). Small, fast and
 * identical everywhere, which is all a test signal needs (not for cryptography).
 */
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

/**
 * Gaussian white noise at an RMS of `rmsDbfs`, from a seeded PRNG (Box-Muller). The level is
 * statistical, not forced: one second at 48 kHz lands within about 0.03 dB of the request.
 * Samples are not clipped, so above about -12 dBFS RMS peaks can exceed full scale.
 */
export function whiteNoise(rmsDbfs: number, seconds: number, sampleRate: number, seed = 1): Float32Array {
  const n = sampleCount(seconds, sampleRate);
  const sigma = dbToGain(rmsDbfs);
  const rand = mulberry32(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rand(); // (0, 1]: log(0) never happens
    const u2 = rand();
    const r = sigma * Math.sqrt(-2 * Math.log(u1));
    x[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) x[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return x;
}

/**
 * A sine whose peak would be `driveDb` relative to full scale, hard clipped at ±1: at 0 dB it
 * is a clean full-scale sine, at +20 dB it is close to a square wave. Models an overdriven
 * input stage for clipping detectors.
 */
export function clippedSine(freqHz: number, driveDb: number, seconds: number, sampleRate: number): Float32Array {
  const x = sine(freqHz, driveDb, seconds, sampleRate);
  for (let i = 0; i < x.length; i++) {
    if (x[i] > 1) x[i] = 1;
    else if (x[i] < -1) x[i] = -1;
  }
  return x;
}

/** Two-pole resonator (a formant) at `freqHz` with bandwidth `bwHz`, unity gain at the peak. */
class Resonator {
  private readonly a1: number;
  private readonly a2: number;
  private readonly g: number;
  private y1 = 0;
  private y2 = 0;
  constructor(freqHz: number, bwHz: number, sampleRate: number) {
    const r = Math.exp((-Math.PI * bwHz) / sampleRate);
    this.a1 = 2 * r * Math.cos((2 * Math.PI * freqHz) / sampleRate);
    this.a2 = -r * r;
    this.g = 1 - r;
  }
  process(x: number): number {
    const y = this.g * x + this.a1 * this.y1 + this.a2 * this.y2;
    this.y2 = this.y1;
    this.y1 = y;
    return y;
  }
}

/**
 * A deterministic speech-like signal for when espeak-ng is absent: phrases of 3 to 8
 * syllables separated by 250-700 ms of digital silence; each syllable (120-300 ms, a
 * raised-cosine envelope, so about 4 syllables a second) is either voiced (a sawtooth glottal
 * source at a gliding 95-230 Hz through two formant resonators) or, one time in four,
 * unvoiced (high-passed noise, like a fricative), at a level within ±3 dB of the others.
 * The whole signal is scaled so its RMS over the full length, pauses included, is `rmsDbfs`.
 * Peaks sit 17-19 dB above that RMS, as in real speech: keep rmsDbfs at or below -20 to
 * stay clear of full scale.
 */
export function speechLike(rmsDbfs: number, seconds: number, sampleRate: number, seed = 1): Float32Array {
  const n = sampleCount(seconds, sampleRate);
  const x = new Float32Array(n);
  const rand = mulberry32(seed);
  const between = (lo: number, hi: number): number => lo + (hi - lo) * rand();
  const nyquist = sampleRate / 2;

  let i = Math.round(between(0.05, 0.3) * sampleRate); // start with a short silence
  while (i < n) {
    const syllables = 3 + Math.floor(rand() * 6);
    for (let s = 0; s < syllables && i < n; s++) {
      const len = Math.round(between(0.12, 0.3) * sampleRate);
      const voiced = rand() < 0.75;
      const f0Start = between(95, 230);
      const f0End = f0Start * between(0.8, 1.2);
      const formant1 = new Resonator(Math.min(between(300, 850), nyquist * 0.8), 90, sampleRate);
      const formant2 = new Resonator(Math.min(between(900, 2400), nyquist * 0.9), 150, sampleRate);
      let phase = 0;
      let hpPrevIn = 0;
      let hpPrevOut = 0;
      const start = i;
      const end = Math.min(n, i + len);
      const levelDb = between(-3, 3);
      for (let k = 0; i < end; i++, k++) {
        const t = k / len;
        const env = Math.sin(Math.PI * t) ** 2;
        let v: number;
        if (voiced) {
          phase += (f0Start + (f0End - f0Start) * t) / sampleRate;
          if (phase >= 1) phase -= 1;
          const glottal = 2 * phase - 1;
          v = formant1.process(glottal) * 1.0 + formant2.process(glottal) * 0.5;
        } else {
          const noise = 2 * rand() - 1;
          // One-pole high-pass (pole at 0.9): fricative energy sits high.
          const hp = noise - hpPrevIn + 0.9 * hpPrevOut;
          hpPrevIn = noise;
          hpPrevOut = hp;
          v = 0.15 * hp;
        }
        x[i] = env * v;
      }
      // Each syllable at its own level within ±3 dB: the formant/pitch draw alone would spread
      // syllable levels over 20 dB and let one syllable set the peak.
      const syllableDbfs = measureRmsDbfs(x, start, end);
      if (Number.isFinite(syllableDbfs)) {
        const g = dbToGain(levelDb - syllableDbfs);
        for (let k = start; k < end; k++) x[k] *= g;
      }
      i += Math.round(between(0.0, 0.06) * sampleRate); // gap between syllables
    }
    i += Math.round(between(0.25, 0.7) * sampleRate); // pause between phrases
  }
  return scaleToRmsDbfs(x, rmsDbfs);
}

/** True when `cmd` can be run (spawnSync reports ENOENT otherwise). */
function hasCommand(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error === undefined;
}

/**
 * Synthesised speech from espeak-ng (`espeak-ng --stdout`, a 22050 Hz 16-bit WAV), converted to
 * `sampleRate` by sox, or by ffmpeg when sox is absent. Returns null when espeak-ng is not
 * installed, or when a rate conversion is needed and neither converter is installed.
 */
export function espeakSpeech(text: string, sampleRate: number): Float32Array | null {
  const tts = spawnSync('espeak-ng', ['--stdout', text], { maxBuffer: 64 << 20 });
  if (tts.error !== undefined || tts.status !== 0) return null;
  let wav = tts.stdout;
  if (readWav(wav).sampleRate !== sampleRate) {
    const rate = String(sampleRate);
    const converted = hasCommand('sox')
      ? spawnSync('sox', ['-q', '-t', 'wav', '-', '-t', 'wav', '-r', rate, '-b', '16', '-'], { input: wav, maxBuffer: 64 << 20 })
      : hasCommand('ffmpeg')
        ? spawnSync('ffmpeg', ['-v', 'error', '-f', 'wav', '-i', 'pipe:0', '-ar', rate, '-c:a', 'pcm_s16le', '-f', 'wav', 'pipe:1'], { input: wav, maxBuffer: 64 << 20 })
        : null;
    if (converted === null || converted.error !== undefined || converted.status !== 0) return null;
    wav = converted.stdout;
  }
  return readWav(wav).samples;
}

function checkRange(x: Float32Array, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > x.length || start > end) {
    throw new RangeError(`measurement range [${start}, ${end}) must lie within [0, ${x.length}]`);
  }
}

/** RMS level of x[start, end) in dBFS (sums in float64); -Infinity for silence or an empty range. */
export function measureRmsDbfs(x: Float32Array, start = 0, end = x.length): number {
  checkRange(x, start, end);
  if (end === start) return -Infinity;
  let sum = 0;
  for (let i = start; i < end; i++) sum += x[i] * x[i];
  return 10 * Math.log10(sum / (end - start));
}

/** Sample peak of x[start, end) in dBFS (not true peak: no oversampling); -Infinity for silence. */
export function measurePeakDbfs(x: Float32Array, start = 0, end = x.length): number {
  checkRange(x, start, end);
  let peak = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(x[i]);
    if (a > peak) peak = a;
  }
  return 20 * Math.log10(peak);
}

/**
 * Level of the `freqHz` component of x[start, end) in dB re a full-scale sine (Goertzel on a
 * Hann-windowed block, the window's coherent gain of 0.5 divided out): a sine of amplitude A
 * at that frequency reads 20·log10(A), other components fall off with the window's leakage.
 */
export function measureToneDbfs(x: Float32Array, freqHz: number, sampleRate: number, start = 0, end = x.length): number {
  checkRange(x, start, end);
  const n = end - start;
  if (n < 2) return -Infinity;
  const w = (2 * Math.PI * freqHz) / sampleRate;
  let re = 0;
  let im = 0;
  for (let i = 0; i < n; i++) {
    const v = x[start + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
    re += v * Math.cos(w * i);
    im -= v * Math.sin(w * i);
  }
  return 20 * Math.log10((2 * Math.hypot(re, im)) / (n * 0.5));
}

/** A copy of x scaled so its RMS is `targetDbfs`. Throws a RangeError for a silent input. */
export function scaleToRmsDbfs(x: Float32Array, targetDbfs: number): Float32Array {
  const current = measureRmsDbfs(x);
  if (!Number.isFinite(current)) throw new RangeError('cannot scale a silent or empty signal to an RMS level');
  const g = dbToGain(targetDbfs - current);
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * g;
  return y;
}

/**
 * Float ±1.0 to signed 16-bit: x·32768 rounded, clamped to [-32768, 32767]. The inverse of
 * the value/32768 the decoders use, so int16 -> float -> int16 is exact.
 */
export function toInt16(x: Float32Array): Int16Array {
  const y = new Int16Array(x.length);
  float32ToInt16(x, y);
  return y;
}
