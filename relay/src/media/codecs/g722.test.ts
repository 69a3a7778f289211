import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../../testing/tool-required.ts';
import { G722Decoder, G722Encoder, type G722Mode } from './g722.ts';

const has = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;
const hasFfmpeg = has('ffmpeg');
const hasEspeak = has('espeak-ng');

const RATE = 16000;

function run(cmd: string, args: string[], input?: Uint8Array): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

function asInt16(b: Buffer): Int16Array {
  const copy = new Uint8Array(b); // aligned copy
  return new Int16Array(copy.buffer, 0, copy.length >> 1);
}

function encode(pcm: Int16Array): Uint8Array {
  const out = new Uint8Array(pcm.length >> 1);
  expect(new G722Encoder().encode(pcm, out)).toBe(out.length);
  return out;
}

function decode(bytes: Uint8Array, mode: G722Mode = 1): Int16Array {
  const out = new Int16Array(bytes.length * 2);
  expect(new G722Decoder(mode).decode(bytes, out)).toBe(out.length);
  return out;
}

function sine(freqHz: number, dbfs: number, seconds: number): Int16Array {
  const amp = 32768 * 10 ** (dbfs / 20);
  return Int16Array.from({ length: RATE * seconds }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * freqHz * i) / RATE)));
}

function rms(x: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return Math.sqrt(s / (to - from));
}

/** Index of the first sample that differs, or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Delay (samples) of y against x that maximises their cross-correlation, 0..maxLag. */
function bestLag(x: Int16Array, y: Int16Array, maxLag: number): number {
  let best = 0;
  let bestC = -Infinity;
  for (let lag = 0; lag <= maxLag; lag++) {
    let c = 0;
    for (let i = 0; i + lag < y.length; i++) c += x[i] * y[i + lag];
    if (c > bestC) {
      bestC = c;
      best = lag;
    }
  }
  return best;
}

describe('G.722 kernel', () => {
  it('rejects odd input lengths and short output buffers', () => {
    const enc = new G722Encoder();
    expect(() => enc.encode(new Int16Array(3), new Uint8Array(2))).toThrow(TypeError);
    expect(() => enc.encode(new Int16Array(3), new Uint8Array(2))).toThrow(/pairs of 16 kHz samples.*odd/);
    expect(() => enc.encode(new Int16Array(4), new Uint8Array(1))).toThrow(RangeError);
    expect(() => new G722Decoder().decode(new Uint8Array(3), new Int16Array(5))).toThrow(RangeError);
    expect(() => new G722Decoder(4 as G722Mode)).toThrow(TypeError);
  });

  it('keeps a 1 kHz sine at -10 dBFS within 0.5 dB through encode and decode', () => {
    const x = sine(1000, -10, 1);
    const y = decode(encode(x));
    const levelDb = 20 * Math.log10(rms(y, 1600, y.length) / rms(x, 1600, x.length));
    console.log(`G.722 1 kHz -10 dBFS: level change ${levelDb.toFixed(3)} dB`);
    expect(Math.abs(levelDb)).toBeLessThan(0.5);
  });

  it('delays by exactly 22 samples (1.375 ms), with linear phase', () => {
    // A windowed 2 kHz burst locates the delay; the phase of steady tones at other
    // frequencies confirms it is the same at every frequency (the QMFs are linear phase).
    const x = new Int16Array(4000);
    for (let i = 800; i < 1600; i++) x[i] = Math.round(8000 * Math.sin((2 * Math.PI * 2000 * i) / RATE) * Math.sin((Math.PI * (i - 800)) / 800) ** 2);
    const lag = bestLag(x, decode(encode(x)), 64);
    console.log(`G.722 encode+decode delay: ${lag} samples`);
    expect(lag).toBe(22);
    for (const f of [250, 1000, 3000, 6000]) {
      const y = decode(encode(sine(f, -12, 0.5)));
      // Phase of y against sin(w n): y[n] = A sin(w (n - D)) gives atan2(-sin wD, cos wD).
      let re = 0;
      let im = 0;
      for (let n = 2000; n < y.length; n++) {
        const w = (2 * Math.PI * f * n) / RATE;
        re += y[n] * Math.sin(w);
        im += y[n] * Math.cos(w);
      }
      const period = RATE / f;
      const delay = ((((-Math.atan2(im, re) / (2 * Math.PI)) * period) % period) + period) % period;
      expect(Math.abs(delay - (22 % period))).toBeLessThan(0.02);
    }
  });

  it('restarts from the same state after reset()', () => {
    const x = sine(440, -6, 0.25);
    const enc = new G722Encoder();
    const a = new Uint8Array(x.length >> 1);
    const b = new Uint8Array(x.length >> 1);
    enc.encode(x, a);
    enc.encode(x, b);
    expect(firstDifference(a, b)).not.toBe(-1); // state carried over
    enc.reset();
    enc.encode(x, b);
    expect(firstDifference(a, b)).toBe(-1);
    const dec = new G722Decoder();
    const ya = new Int16Array(x.length);
    const yb = new Int16Array(x.length);
    dec.decode(a, ya);
    dec.reset();
    dec.decode(a, yb);
    expect(firstDifference(ya, yb)).toBe(-1);
    const f = new Float32Array(x.length);
    dec.reset();
    dec.decodeFloat(a, f);
    expect(f[1000]).toBe(ya[1000] / 32768);
  });

  it('decodes modes 2 and 3 close to mode 1 (the dropped bits only refine the lower band)', () => {
    const x = sine(1000, -10, 1);
    const bytes = encode(x);
    const y1 = decode(bytes, 1);
    for (const mode of [2, 3] as const) {
      const y = decode(bytes, mode);
      const diff = Int16Array.from(y, (v, i) => v - y1[i]);
      const snrDb = 20 * Math.log10(rms(y1, 1600, y1.length) / rms(diff, 1600, diff.length));
      expect(snrDb).toBeGreaterThan(mode === 2 ? 20 : 14);
    }
  });
});

describe.skipIf(skipWithout('ffmpeg', hasFfmpeg))('G.722 against ffmpeg (adpcm_g722)', () => {
  let dir = '';
  const signals = new Map<string, Int16Array>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'g722-'));
    const lavfi: Record<string, string> = {
      sine1k: 'sine=frequency=1000:sample_rate=16000:duration=2',
      noise: 'anoisesrc=sample_rate=16000:duration=2:amplitude=0.5:seed=7',
      chirp: "aevalsrc='0.7*sin(2*PI*(50*t+(7950/4)*t*t))':s=16000:d=2",
      silence: 'anullsrc=r=16000:cl=mono:d=1',
      square: "aevalsrc='if(lt(mod(t*440,1),0.5),1,-1)':s=16000:d=1",
    };
    for (const [name, src] of Object.entries(lavfi)) {
      signals.set(name, asInt16(run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', src, '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'])));
    }
    if (hasEspeak) {
      const wav = run('espeak-ng', ['--stdout', 'The quick brown fox jumps over the lazy dog, twice.']);
      signals.set('speech', asInt16(run('ffmpeg', ['-v', 'error', '-i', 'pipe:0', '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'], wav)));
    }
    // A whole number of sample pairs.
    for (const [name, x] of signals) if (x.length & 1) signals.set(name, x.subarray(0, x.length - 1));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function ffmpegEncode(x: Int16Array, name: string): Uint8Array {
    const raw = join(dir, `${name}.raw`);
    writeFileSync(raw, x);
    return new Uint8Array(run('ffmpeg', ['-v', 'error', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', raw, '-c:a', 'g722', '-trellis', '0', '-f', 'g722', 'pipe:1']));
  }

  function ffmpegDecode(bytes: Uint8Array, name: string, bitsPerCodeword = 8): Int16Array {
    const file = join(dir, `${name}.g722`);
    writeFileSync(file, bytes);
    return asInt16(run('ffmpeg', ['-v', 'error', '-bits_per_codeword', String(bitsPerCodeword), '-f', 'g722', '-i', file, '-f', 's16le', 'pipe:1']));
  }

  it('has every test signal, speech included when espeak-ng is installed', () => {
    expect(signals.size).toBe(hasEspeak ? 6 : 5);
    expect(rms(signals.get('square')!, 0, 16000)).toBeGreaterThan(32000);
  });

  it('decodes ffmpeg streams of every signal bit-exactly, in modes 1, 2 and 3', () => {
    for (const [name, x] of signals) {
      const bytes = ffmpegEncode(x, name);
      expect(bytes.length).toBe(x.length >> 1);
      for (const [mode, bits] of [[1, 8], [2, 7], [3, 6]] as const) {
        const theirs = ffmpegDecode(bytes, `${name}-m${mode}`, bits);
        const ours = decode(bytes, mode);
        expect({ name, mode, at: firstDifference(ours, theirs) }).toEqual({ name, mode, at: -1 });
      }
    }
  });

  it('encodes every signal byte for byte as ffmpeg does (trellis off)', () => {
    for (const [name, x] of signals) {
      expect({ name, at: firstDifference(encode(x), ffmpegEncode(x, name)) }).toEqual({ name, at: -1 });
    }
  });

  it('encodes and decodes faster than realtime', () => {
    const x = signals.get('noise')!;
    const bytes = new Uint8Array(x.length >> 1);
    const y = new Int16Array(x.length);
    const enc = new G722Encoder();
    const dec = new G722Decoder();
    enc.encode(x, bytes); // warm up
    dec.decode(bytes, y);
    const t0 = performance.now();
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      enc.encode(x, bytes);
      dec.decode(bytes, y);
    }
    const seconds = (performance.now() - t0) / 1000;
    const realtime = (rounds * x.length) / RATE / seconds;
    console.log(`G.722 encode+decode: ${realtime.toFixed(0)}x realtime`);
    expect(realtime).toBeGreaterThan(1);
  });
});
