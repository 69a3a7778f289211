import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { skipWithout } from '../../testing/tool-required.ts';
import { ALAW_TO_INT16, MULAW_TO_INT16, decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from './g711.ts';

const has = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;
const hasFfmpeg = has('ffmpeg');
const hasSox = has('sox');

/** Every 16-bit value, -32768 to 32767, in order. */
const ALL_INT16 = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);

function run(cmd: string, args: string[], input: Uint8Array): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

function int16Bytes(x: Int16Array): Buffer {
  const b = Buffer.alloc(x.length * 2);
  x.forEach((v, i) => b.writeInt16LE(v, 2 * i));
  return b;
}

function readInt16(b: Buffer): Int16Array {
  return Int16Array.from({ length: b.length / 2 }, (_, i) => b.readInt16LE(2 * i));
}

/** Position of a code on the quantiser's magnitude scale (0 = smallest), and its sign. */
const ulawStep = (c: number): number => ~c & 0x7f;
const alawStep = (c: number): number => (c ^ 0x55) & 0x7f;

describe('G.711 decoding', () => {
  it('decodes the known mu-law code points', () => {
    expect(MULAW_TO_INT16[0xff]).toBe(0);
    expect(MULAW_TO_INT16[0x7f]).toBe(0);
    expect(MULAW_TO_INT16[0x00]).toBe(-32124);
    expect(MULAW_TO_INT16[0x80]).toBe(32124);
    const out = new Float32Array(4);
    expect(decodeMulaw(Uint8Array.of(0xff, 0x7f, 0x00, 0x80), out)).toBe(4);
    expect([...out]).toEqual([0, 0, -32124 / 32768, 32124 / 32768]);
  });

  it('decodes the known A-law code points', () => {
    expect(ALAW_TO_INT16[0xd5]).toBe(8);
    expect(ALAW_TO_INT16[0x55]).toBe(-8);
    expect(ALAW_TO_INT16[0xaa]).toBe(32256);
    expect(ALAW_TO_INT16[0x2a]).toBe(-32256);
    const out = new Float32Array(4);
    expect(decodeAlaw(Uint8Array.of(0xd5, 0x55, 0xaa, 0x2a), out)).toBe(4);
    expect([...out]).toEqual([8 / 32768, -8 / 32768, 32256 / 32768, -32256 / 32768]);
  });

  it('has levels that grow with the code magnitude and mirror around zero', () => {
    for (let c = 0; c < 256; c++) {
      for (const [table, step] of [[MULAW_TO_INT16, ulawStep], [ALAW_TO_INT16, alawStep]] as const) {
        expect(table[c] + table[c ^ 0x80]).toBe(0);
        if (step(c) > 0) {
          const smaller = [...ALL_CODES].find((d) => (d & 0x80) === (c & 0x80) && step(d) === step(c) - 1) ?? -1;
          expect(Math.abs(table[c])).toBeGreaterThan(Math.abs(table[smaller]));
        }
      }
    }
  });

  it('writes only src.length samples and refuses a short dst', () => {
    const out = new Float32Array(5).fill(9);
    expect(decodeAlaw(Uint8Array.of(0xd5, 0xd5), out)).toBe(2);
    expect(out[2]).toBe(9);
    expect(() => decodeMulaw(new Uint8Array(3), new Float32Array(2))).toThrow(RangeError);
  });

  it.skipIf(skipWithout('ffmpeg', hasFfmpeg))('matches ffmpeg decoding all 256 codes, sample for sample', () => {
    const mu = readInt16(run('ffmpeg', ['-v', 'error', '-f', 'mulaw', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', 's16le', 'pipe:1'], ALL_CODES));
    const a = readInt16(run('ffmpeg', ['-v', 'error', '-f', 'alaw', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', 's16le', 'pipe:1'], ALL_CODES));
    expect(mu).toEqual(MULAW_TO_INT16);
    expect(a).toEqual(ALAW_TO_INT16);
    const f = new Float32Array(256);
    decodeMulaw(ALL_CODES, f);
    expect(Float32Array.from(mu, (v) => v / 32768)).toEqual(f);
  });

  it.skipIf(skipWithout('sox', hasSox))('matches sox decoding all 256 codes, sample for sample', () => {
    const args = (enc: string): string[] => ['-t', 'raw', '-r', '8000', '-e', enc, '-b', '8', '-c', '1', '-', '-t', 'raw', '-e', 'signed', '-b', '16', '-'];
    expect(readInt16(run('sox', args('mu-law'), ALL_CODES))).toEqual(MULAW_TO_INT16);
    expect(readInt16(run('sox', args('a-law'), ALL_CODES))).toEqual(ALAW_TO_INT16);
  });
});

describe('G.711 encoding', () => {
  it('encodes every decoded level back to its own code (mu-law 0x7F is the second zero)', () => {
    const mu = encodeMulaw(MULAW_TO_INT16);
    const a = encodeAlaw(ALAW_TO_INT16);
    for (let c = 0; c < 256; c++) {
      expect(mu[c]).toBe(c === 0x7f ? 0xff : c);
      expect(a[c]).toBe(c);
    }
  });

  it('saturates at full scale', () => {
    expect([...encodeMulaw(Int16Array.of(32767, -32768))]).toEqual([0x80, 0x00]);
    expect([...encodeAlaw(Int16Array.of(32767, -32768))]).toEqual([0xaa, 0x2a]);
  });

  it.skipIf(skipWithout('sox', hasSox))('matches sox encoding every 16-bit value, byte for byte', () => {
    // -D: no dither, or sox adds noise when it narrows the samples.
    const args = (enc: string): string[] => ['-D', '-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-c', '1', '-', '-t', 'raw', '-e', enc, '-b', '8', '-'];
    const pcm = int16Bytes(ALL_INT16);
    expect(Buffer.from(encodeMulaw(ALL_INT16)).equals(run('sox', args('mu-law'), pcm))).toBe(true);
    expect(Buffer.from(encodeAlaw(ALL_INT16)).equals(run('sox', args('a-law'), pcm))).toBe(true);
  });

  it.skipIf(skipWithout('ffmpeg', hasFfmpeg))('agrees with ffmpeg except next to decision levels, where ffmpeg picks the nearest level', () => {
    // ffmpeg quantises to the nearest reconstruction level; G.711's decision levels at segment
    // edges are not midway between levels, so the two differ there by one code.
    const pcm = int16Bytes(ALL_INT16);
    for (const [law, ours, table, step] of [
      ['mulaw', encodeMulaw(ALL_INT16), MULAW_TO_INT16, ulawStep],
      ['alaw', encodeAlaw(ALL_INT16), ALAW_TO_INT16, alawStep],
    ] as const) {
      const theirs = run('ffmpeg', ['-v', 'error', '-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', law, 'pipe:1'], pcm);
      expect(theirs.length).toBe(65536);
      let differ = 0;
      for (let i = 0; i < 65536; i++) {
        const a = ours[i];
        const b = theirs[i];
        if (a === b) continue;
        differ++;
        const v = ALL_INT16[i];
        const sameSide = (a & 0x80) === (b & 0x80) || Math.abs(v) <= 8;
        expect(sameSide && Math.abs(step(a) - step(b)) <= 1, `${law} ${v}: ${a} vs ${b}`).toBe(true);
        // ffmpeg's level is never farther from the input than ours, give or take its own
        // rounding to 14/13 bits (8 = one 13-bit step).
        expect(Math.abs(v - table[b]), `${law} ${v}`).toBeLessThanOrEqual(Math.abs(v - table[a]) + 8);
      }
      expect(differ, law).toBeGreaterThan(0); // documents the difference; 0 would mean this test is stale
      expect(differ, law).toBeLessThan(65536 * 0.05); // measured: 992 mu-law, 1944 A-law
    }
  });
});
