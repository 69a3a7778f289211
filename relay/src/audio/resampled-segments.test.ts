import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ResampledSegments } from './resampled-segments.ts';
import { sine, toInt16 } from './signals.ts';
import { encodeWav, readWav } from './wav.ts';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-resampled-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 1 s segment at 48 kHz; 1 s at 16 kHz is 32044 bytes of WAV. */
function segment(name: string, freqHz: number): string {
  const path = join(dir, name);
  writeFileSync(path, encodeWav(toInt16(sine(freqHz, -12, 1, 48000)), 48000));
  return path;
}

describe('ResampledSegments', () => {
  it('answers the same bytes from memory, and stays within its byte budget', async () => {
    const cache = new ResampledSegments(70_000);
    const paths = ['a.wav', 'b.wav', 'c.wav'].map((n, i) => segment(n, 500 + 100 * i));
    const first = await cache.get(paths[0], 16000);
    expect(readWav(first)).toMatchObject({ sampleRate: 16000, frames: 16000 });
    expect(await cache.get(paths[0], 16000)).toBe(first);
    await Promise.all(paths.map((p) => cache.get(p, 16000)));
    expect(cache.heldBytes).toBeLessThanOrEqual(70_000);
    expect(cache.heldBytes).toBe(2 * first.length);
    // Concurrent requests for one file share one conversion.
    const [x, y] = await Promise.all([cache.get(paths[0], 8000), cache.get(paths[0], 8000)]);
    expect(x).toBe(y);
  });

  it('converts a segment rewritten in place again', async () => {
    const cache = new ResampledSegments();
    const path = segment('d.wav', 1000);
    const before = await cache.get(path, 16000);
    writeFileSync(path, encodeWav(toInt16(sine(1000, -6, 1, 48000)), 48000));
    utimesSync(path, new Date(), new Date(Date.now() + 2000));
    const after = await cache.get(path, 16000);
    expect(after.equals(before)).toBe(false);
  });

  it('passes a missing file\'s error on and keeps nothing of it', async () => {
    const cache = new ResampledSegments();
    await expect(cache.get(join(dir, 'missing.wav'), 16000)).rejects.toThrow(/ENOENT/);
    expect(cache.heldBytes).toBe(0);
  });
});
