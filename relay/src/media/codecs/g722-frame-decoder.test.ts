import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../../testing/tool-required.ts';
import { createDecoder, DecodeError } from './decoder.ts';
import { G722FrameDecoder } from './g722-frame-decoder.ts';

const hasFfmpeg = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).error === undefined;
/** 20 ms of G.722: 8000 Hz RTP clock, one byte per tick (RFC 3551 §4.5.2). */
const PAYLOAD = 160;

function run(args: string[]): Buffer {
  const r = spawnSync('ffmpeg', ['-v', 'error', ...args], { maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof DecodeError ? err.code : `not a DecodeError: ${String(err)}`;
  }
  return undefined;
}

describe('G722FrameDecoder', () => {
  it('comes from the factory at 16 kHz only', () => {
    expect(createDecoder('g722', 16000).sampleRate).toBe(16000);
    expect(createDecoder('g722', 16000)).toBeInstanceOf(G722FrameDecoder);
    expect(() => createDecoder('g722', 8000)).toThrow(TypeError);
  });

  it('refuses empty and too long payloads with stable codes, and stays usable', () => {
    const d = new G722FrameDecoder();
    const out = new Float32Array(2 * PAYLOAD);
    expect(codeOf(() => d.decode(new Uint8Array(0), out))).toBe('bad_payload_length');
    expect(codeOf(() => d.decode(new Uint8Array(PAYLOAD + 1), out))).toBe('frame_too_long');
    expect(d.decode(new Uint8Array(PAYLOAD), out)).toBe(2 * PAYLOAD);
    d.close();
    d.close();
    expect(codeOf(() => d.decode(new Uint8Array(PAYLOAD), out))).toBe('decoder_closed');
  });

  describe.skipIf(skipWithout('ffmpeg', hasFfmpeg))('against ffmpeg', () => {
    const dir = mkdtempSync(join(tmpdir(), 'g722-frames-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('decodes an ffmpeg G.722 stream in 20 ms payloads exactly as ffmpeg decodes it', () => {
      // A chirp plus noise, 2 s at 16 kHz: both sub-bands busy.
      const src = 'aevalsrc=0.3*sin(2*PI*(200+1800*t)*t)+0.05*(random(0)-0.5):s=16000:d=2';
      const g722 = new Uint8Array(run(['-f', 'lavfi', '-i', src, '-ac', '1', '-ar', '16000', '-c:a', 'g722', '-f', 'g722', 'pipe:1']));
      const file = join(dir, 'chirp.g722');
      writeFileSync(file, g722);
      const raw = new Uint8Array(run(['-f', 'g722', '-i', file, '-f', 's16le', 'pipe:1']));
      const theirs = new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1);
      expect(g722.length).toBeGreaterThanOrEqual(15000);

      const d = createDecoder('g722', 16000);
      const out = new Float32Array(2 * PAYLOAD);
      const ours = new Int16Array(g722.length * 2);
      let at = 0;
      let packets = 0;
      for (let i = 0; i < g722.length; i += PAYLOAD, packets++) {
        const n = d.decode(g722.subarray(i, Math.min(i + PAYLOAD, g722.length)), out);
        for (let k = 0; k < n; k++) ours[at++] = Math.round(out[k] * 32768);
      }
      expect(packets).toBe(Math.ceil(g722.length / PAYLOAD));
      expect(at).toBe(theirs.length);
      let firstDiff = -1;
      for (let i = 0; i < at; i++) {
        if (ours[i] !== theirs[i]) {
          firstDiff = i;
          break;
        }
      }
      expect(firstDiff).toBe(-1);
      let peak = 0;
      for (let i = 0; i < at; i++) peak = Math.max(peak, Math.abs(theirs[i]));
      expect(peak).toBeGreaterThan(5000);
    });
  });
});
