import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../testing/tool-required.ts';
import { sine, toInt16 } from './signals.ts';
import { WavError, encodeWav, readWav, wavHeader } from './wav.ts';

const has = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;
const hasSox = has('sox');
const hasFfmpeg = has('ffmpeg');

const dir = mkdtempSync(join(tmpdir(), 'tapwire-wav-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 0.25 s of a 1 kHz sine at -3 dBFS plus both extremes, as 16-bit PCM. */
const PCM = (() => {
  const x = toInt16(sine(1000, -3, 0.25, 16000));
  x[10] = 32767;
  x[11] = -32768;
  return x;
})();
const PCM_FLOAT = Float32Array.from(PCM, (v) => v / 32768);

function rawBytes(x: Int16Array): Buffer {
  const b = Buffer.alloc(x.length * 2);
  x.forEach((v, i) => b.writeInt16LE(v, 2 * i));
  return b;
}

function run(cmd: string, args: string[], input?: Buffer): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

function expectCode(f: () => unknown, code: WavError['code']): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WavError);
    expect((e as WavError).code).toBe(code);
    return;
  }
  throw new Error(`expected a WavError ${code}`);
}

describe('writing', () => {
  it('writes the canonical 44-byte header', () => {
    const wav = encodeWav(Int16Array.of(1, -2), 8000);
    const expected = Buffer.concat([
      Buffer.from('RIFF'), Buffer.from([0x28, 0, 0, 0]), Buffer.from('WAVE'),
      Buffer.from('fmt '), Buffer.from([16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]),
      Buffer.from('data'), Buffer.from([4, 0, 0, 0, 0x01, 0x00, 0xfe, 0xff]),
    ]);
    expect(wav).toEqual(expected);
  });

  it('writes a stereo header with the matching byte rate and block align', () => {
    const h = wavHeader(400, 48000, 2);
    expect(h.length).toBe(44);
    expect(h.readUInt16LE(22)).toBe(2);
    expect(h.readUInt32LE(28)).toBe(192000);
    expect(h.readUInt16LE(32)).toBe(4);
    expect(h.readUInt32LE(40)).toBe(400);
    expect(h.readUInt32LE(4)).toBe(436);
    expect(() => wavHeader(-1, 48000)).toThrow(TypeError);
    expect(() => wavHeader(10, 0)).toThrow(TypeError);
    expect(() => wavHeader(10, 8000, 0)).toThrow(TypeError);
  });

  it('round-trips through readWav exactly', () => {
    const r = readWav(encodeWav(PCM, 16000));
    expect(r).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, frames: PCM.length });
    expect(r.samples).toEqual(PCM_FLOAT);
  });
});

describe('reading', () => {
  it('skips unknown chunks, including odd-sized ones with their pad byte', () => {
    const wav = encodeWav(PCM, 16000);
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([0])]);
    const withList = Buffer.concat([wav.subarray(0, 36), list, wav.subarray(36)]);
    expect(readWav(withList).samples).toEqual(PCM_FLOAT);
  });

  it('reads a data chunk whose size runs past the end (streamed WAV) up to the last whole frame', () => {
    const wav = Buffer.concat([encodeWav(PCM, 16000), Buffer.from([0x7f])]); // a stray odd byte
    wav.writeUInt32LE(0xffffffff, 40);
    const r = readWav(wav);
    expect(r.frames).toBe(PCM.length);
    expect(r.samples).toEqual(PCM_FLOAT);
  });

  it('averages the channels of a stereo file', () => {
    const frames = Int16Array.of(1000, 3000, -4000, 0, 32767, 32767);
    const wav = Buffer.concat([wavHeader(12, 8000, 2), rawBytes(frames)]);
    const r = readWav(wav);
    expect(r).toMatchObject({ channels: 2, frames: 3 });
    expect([...r.samples]).toEqual([2000 / 32768, -2000 / 32768, 32767 / 32768].map(Math.fround));
  });

  it('names what is wrong with non-WAV input', () => {
    expectCode(() => readWav(Buffer.alloc(0)), 'not_riff');
    expectCode(() => readWav(Buffer.from('ID3\u0004 not a wav file at all')), 'not_riff');
    expectCode(() => readWav(Buffer.from('RIFF\u0004\u0000\u0000\u0000AVI LIST')), 'not_wave');
    expectCode(() => readWav(encodeWav(PCM, 16000).subarray(0, 36)), 'missing_data');
    const noFmt = Buffer.concat([Buffer.from('RIFF'), Buffer.from([12, 0, 0, 0]), Buffer.from('WAVEdata'), Buffer.alloc(4)]);
    expectCode(() => readWav(noFmt), 'missing_fmt');
    const badAlign = encodeWav(PCM, 16000);
    badAlign.writeUInt16LE(3, 32);
    expectCode(() => readWav(badAlign), 'bad_fmt');
  });
});

describe.skipIf(skipWithout('sox', hasSox))('files written by sox', () => {
  const make = (name: string, args: string[]): Buffer => {
    const path = join(dir, name);
    run('sox', ['-t', 'raw', '-r', '16000', '-e', 'signed', '-b', '16', '-c', '1', '-', ...args, path], rawBytes(PCM));
    return readFileSync(path);
  };

  it('reads 16-bit PCM', () => {
    const r = readWav(make('s16.wav', ['-b', '16']));
    expect(r).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, frames: PCM.length });
    expect(r.samples).toEqual(PCM_FLOAT);
  });

  it('reads 24-bit PCM (sox writes WAVE_FORMAT_EXTENSIBLE)', () => {
    const wav = make('s24.wav', ['-b', '24']);
    expect(wav.readUInt16LE(20)).toBe(0xfffe);
    const r = readWav(wav);
    expect(r.bitsPerSample).toBe(24);
    expect(r.samples).toEqual(PCM_FLOAT);
  });

  it('reads 32-bit float with a fact chunk', () => {
    const wav = make('f32.wav', ['-e', 'floating-point', '-b', '32']);
    expect(wav.includes('fact')).toBe(true);
    const r = readWav(wav);
    expect(r.bitsPerSample).toBe(32);
    expect(r.samples).toEqual(PCM_FLOAT);
  });

  it('mixes down a stereo file', () => {
    // Left: the signal; right: the signal inverted and halved. Mixdown: a quarter of it.
    const path = join(dir, 'stereo.wav');
    run('sox', ['-t', 'raw', '-r', '16000', '-e', 'signed', '-b', '16', '-c', '1', '-', '-b', '16', '-c', '2', path, 'remix', '1', '1v-0.5'], rawBytes(PCM));
    const r = readWav(readFileSync(path));
    expect(r.channels).toBe(2);
    for (let i = 0; i < PCM.length; i += 97) expect(r.samples[i]).toBeCloseTo(PCM_FLOAT[i] / 4, 4);
  });
});

describe.skipIf(skipWithout('ffmpeg', hasFfmpeg))('files written by ffmpeg to a pipe (LIST chunk, 0xFFFFFFFF sizes)', () => {
  const make = (codec: string): Buffer =>
    run('ffmpeg', ['-v', 'error', '-f', 's16le', '-ar', '16000', '-ac', '1', '-i', 'pipe:0', '-c:a', codec, '-f', 'wav', 'pipe:1'], rawBytes(PCM));

  it('reads 16, 24 and 32-bit PCM and 32/64-bit float exactly', () => {
    for (const [codec, bits] of [['pcm_s16le', 16], ['pcm_s24le', 24], ['pcm_s32le', 32], ['pcm_f32le', 32], ['pcm_f64le', 64]] as const) {
      const wav = make(codec);
      expect(wav.includes('LIST'), codec).toBe(true);
      const r = readWav(wav);
      expect(r.bitsPerSample, codec).toBe(bits);
      expect(r.frames, codec).toBe(PCM.length);
      expect(r.samples, codec).toEqual(PCM_FLOAT);
    }
  });

  it('reads 8-bit unsigned PCM to within its resolution', () => {
    const r = readWav(make('pcm_u8'));
    expect(r.bitsPerSample).toBe(8);
    for (let i = 0; i < PCM.length; i++) expect(Math.abs(r.samples[i] - PCM_FLOAT[i])).toBeLessThanOrEqual(1 / 128);
  });

  it('refuses a compressed WAV with a clear error', () => {
    expectCode(() => readWav(make('pcm_mulaw')), 'unsupported_format');
    expect(() => readWav(make('pcm_mulaw'))).toThrow(/format tag 7/);
  });
});
