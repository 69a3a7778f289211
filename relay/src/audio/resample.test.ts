/**
 * The segment resampler against known answers: a 1 kHz tone passes within 0.1 dB, a tone
 * above the new Nyquist frequency (and an upsampler's images) are attenuated by more than
 * 60 dB, and the output agrees with sox's `rate` on the same input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../testing/tool-required.ts';
import { resample, resampleWav } from './resample.ts';
import { measureRmsDbfs, mulberry32, sine, toInt16 } from './signals.ts';
import { encodeWav, readWav } from './wav.ts';

/** RMS of x without its first and last 10 % (where a finite input starts and stops), dBFS. */
function steadyRmsDbfs(x: Float32Array): number {
  const edge = Math.round(x.length / 10);
  return measureRmsDbfs(x, edge, x.length - edge);
}

/** Level of the `freqHz` component of x (Goertzel over the steady part), dB relative to full-scale sine. */
function toneDb(x: Float32Array, freqHz: number, rate: number): number {
  const edge = Math.round(x.length / 10);
  const n = x.length - 2 * edge;
  const w = (2 * Math.PI * freqHz) / rate;
  let re = 0;
  let im = 0;
  for (let i = 0; i < n; i++) {
    // A Hann window keeps the main tone's leakage far below the levels measured here.
    const v = x[edge + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
    re += v * Math.cos(w * i);
    im -= v * Math.sin(w * i);
  }
  return 20 * Math.log10((2 * Math.hypot(re, im)) / (n * 0.5));
}

/** Agreement of two signals over their common steady part: signal over difference, dB. */
function agreementDb(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length);
  const edge = Math.round(n / 20);
  let signal = 0;
  let diff = 0;
  for (let i = edge; i < n - edge; i++) {
    signal += b[i] * b[i];
    diff += (a[i] - b[i]) ** 2;
  }
  return 10 * Math.log10(signal / diff);
}

/** 24 tones between 50 Hz and 0.4 × the lower rate, random phases, about -12 dBFS RMS in all. */
function toneMix(seconds: number, rate: number, lowerRate: number, seed = 7): Float32Array {
  const rand = mulberry32(seed);
  const x = new Float32Array(Math.round(seconds * rate));
  for (let k = 0; k < 24; k++) {
    const f = 50 + rand() * (0.4 * lowerRate - 50);
    const phase = rand() * 2 * Math.PI;
    for (let i = 0; i < x.length; i++) x[i] += 0.0515 * Math.sin((2 * Math.PI * f * i) / rate + phase);
  }
  return x;
}

const PAIRS: [number, number][] = [
  [48000, 16000],
  [48000, 8000],
  [16000, 8000],
  [8000, 16000],
  [16000, 48000],
];

describe('resample', () => {
  it('returns round(length × to / from) samples, and a copy for equal rates', async () => {
    for (const [from, to] of PAIRS) expect((await resample(new Float32Array(from * 5), from, to)).length, `${from} -> ${to}`).toBe(to * 5);
    expect((await resample(new Float32Array(4801), 48000, 16000)).length).toBe(1600);
    const x = sine(1000, -6, 0.1, 16000);
    const same = await resample(x, 16000, 16000);
    expect(same).toEqual(x);
    expect(same).not.toBe(x);
    expect((await resample(new Float32Array(0), 48000, 8000)).length).toBe(0);
    await expect(resample(x, 0, 8000)).rejects.toThrow(TypeError);
  });

  it.each(PAIRS)('%i -> %i Hz: a 1 kHz tone passes within 0.1 dB', async (from, to) => {
    const x = sine(1000, -6, 2, from);
    const y = await resample(x, from, to);
    const gainDb = steadyRmsDbfs(y) - steadyRmsDbfs(x);
    console.log(`${from} -> ${to} Hz: 1 kHz tone ${gainDb.toFixed(4)} dB`);
    expect(Math.abs(gainDb)).toBeLessThan(0.1);
  });

  it.each(PAIRS.filter(([from, to]) => to < from))('%i -> %i Hz: tones above the new Nyquist frequency are attenuated by more than 60 dB', async (from, to) => {
    const nyquist = to / 2;
    for (const f of [nyquist * 1.02, nyquist * 1.25, from * 0.45]) {
      const x = sine(f, -6, 2, from);
      const y = await resample(x, from, to);
      const attenuationDb = steadyRmsDbfs(x) - steadyRmsDbfs(y);
      console.log(`${from} -> ${to} Hz: ${f.toFixed(0)} Hz tone attenuated by ${attenuationDb.toFixed(1)} dB`);
      expect(attenuationDb, `${f} Hz`).toBeGreaterThan(60);
    }
  });

  it.each(PAIRS.filter(([from, to]) => to > from))('%i -> %i Hz: the images of a 1 kHz tone are attenuated by more than 60 dB', async (from, to) => {
    const y = await resample(sine(1000, -6, 2, from), from, to);
    const tone = toneDb(y, 1000, to);
    for (const image of [from - 1000, from + 1000].filter((f) => f < to / 2)) {
      const below = tone - toneDb(y, image, to);
      console.log(`${from} -> ${to} Hz: image at ${image} Hz ${below.toFixed(1)} dB below the tone`);
      expect(below, `${image} Hz`).toBeGreaterThan(60);
    }
  });
});

describe('resampleWav', () => {
  it('writes a 16-bit mono WAV whose header states the new rate', async () => {
    const input = encodeWav(toInt16(sine(1000, -6, 5, 48000)), 48000);
    const out = await resampleWav(input, 16000);
    expect(out.readUInt32LE(24)).toBe(16000);
    expect(out.length).toBe(44 + 5 * 16000 * 2);
    const back = readWav(out);
    expect(back).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, frames: 80000 });
    expect(Math.abs(steadyRmsDbfs(back.samples) - steadyRmsDbfs(readWav(input).samples))).toBeLessThan(0.1);
    // Deterministic: the same bytes each time.
    expect((await resampleWav(input, 16000)).equals(out)).toBe(true);
  });
});

const hasSox = spawnSync('sox', ['--version'], { stdio: 'ignore' }).error === undefined;

describe('agreement with sox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-resample-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** sox's `rate` (its default, high quality, linear phase) of a WAV file, as float samples. */
  function sox(input: Buffer, to: number, bits: '16' | 'float'): Float32Array {
    const inPath = join(dir, 'in.wav');
    const outPath = join(dir, 'out.wav');
    writeFileSync(inPath, input);
    // -D: no dither, so both sides round the same way.
    const format = bits === 'float' ? ['-e', 'floating-point', '-b', '32'] : ['-b', '16'];
    const r = spawnSync('sox', ['-q', '-D', inPath, ...format, outPath, 'rate', String(to)]);
    expect(r.status, r.stderr?.toString()).toBe(0);
    return readWav(readFileSync(outPath)).samples;
  }

  /** A float WAV (IEEE float, what sox reads without quantizing). */
  function floatWav(x: Float32Array, rate: number): Buffer {
    const h = Buffer.alloc(44);
    h.write('RIFF', 0, 'ascii');
    h.writeUInt32LE(36 + x.length * 4, 4);
    h.write('WAVEfmt ', 8, 'ascii');
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(3, 20);
    h.writeUInt16LE(1, 22);
    h.writeUInt32LE(rate, 24);
    h.writeUInt32LE(rate * 4, 28);
    h.writeUInt16LE(4, 32);
    h.writeUInt16LE(32, 34);
    h.write('data', 36, 'ascii');
    h.writeUInt32LE(x.length * 4, 40);
    return Buffer.concat([h, Buffer.from(x.buffer, x.byteOffset, x.byteLength)]);
  }

  it.skipIf(skipWithout('sox', hasSox)).each(PAIRS)('%i -> %i Hz: agrees with sox, the difference over 100 dB below the signal in float, 80 dB in 16-bit WAV', async (from, to) => {
    const lower = Math.min(from, to);
    const x = toneMix(3, from, lower);
    const ours = await resample(x, from, to);
    const theirs = sox(floatWav(x, from), to, 'float');
    const floatDb = agreementDb(ours, theirs);

    const wav = encodeWav(toInt16(x), from);
    const ourWav = readWav(await resampleWav(wav, to)).samples;
    const soxWav = sox(wav, to, '16');
    const wavDb = agreementDb(ourWav, soxWav);
    console.log(`${from} -> ${to} Hz vs sox: ${floatDb.toFixed(1)} dB (float), ${wavDb.toFixed(1)} dB (16-bit WAV); lengths ${ours.length}/${theirs.length}`);
    expect(Math.abs(ours.length - theirs.length)).toBeLessThanOrEqual(1);
    expect(floatDb).toBeGreaterThan(100);
    expect(wavDb).toBeGreaterThan(80);
  });
});
