/**
 * A whole trace's mix on real segment files: stations at 16 and 48 kHz, each a step of known
 * level starting at a known instant. The mix places every station at its own time (the
 * resampler's delay taken off: the 16 kHz step starts where it should, within a sample at
 * 48 kHz), sums at unity, limits only what would pass -1 dBFS, and stops reading when
 * destroyed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { measureToneDbfs, sine } from '../audio/signals.ts';
import { encodeWav } from '../audio/wav.ts';
import { MIX_SAMPLE_RATE, mixSource } from './mix-export.ts';
import type { ExportPlan } from './segment-export.ts';
import { webmOpusExportStream } from './segment-export-webm.ts';

const BUCKET_MS = 5000;
const T0 = Date.UTC(2024, 5, 1, 12, 0, 0);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-mix-export-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function segment(name: string, x: Float32Array, rate: number): string {
  const path = join(dir, name);
  writeFileSync(path, encodeWav(Int16Array.from(x, (s) => Math.round(s * 32767)), rate));
  return path;
}

async function mixOf(fromMs: number, toMs: number, plans: ExportPlan[]): Promise<Float32Array> {
  const src = mixSource(fromMs, toMs, plans);
  const parts: Buffer[] = [];
  for await (const p of src.pieces()) parts.push(p);
  const b = Buffer.concat(parts);
  expect(b.length).toBe(2 * src.samples);
  return Float32Array.from(new Int16Array(b.buffer, b.byteOffset, b.length / 2), (s) => s / 32767);
}

describe('mixSource', () => {
  it('places a 16 kHz and a 48 kHz station at their times and sums them at unity', async () => {
    // Station a (16 kHz): a 1 kHz tone at -20 dBFS from 1.000 s into the bucket; b (48 kHz): 440 Hz at -26 dBFS from 2.5 s.
    const a = new Float32Array(5 * 16000);
    a.set(sine(1000, -20, 4, 16000), 16000);
    const b = new Float32Array(5 * 48000);
    b.set(sine(440, -26, 2.5, 48000), 2.5 * 48000);
    const plans: ExportPlan[] = [
      { fromMs: T0 + 500, toMs: T0 + 4500, sampleRate: 16000, segments: [{ bucketTs: T0, path: segment('a.wav', a, 16000) }] },
      { fromMs: T0 + 500, toMs: T0 + 4500, sampleRate: 48000, segments: [{ bucketTs: T0, path: segment('b.wav', b, 48000) }] },
    ];
    const x = await mixOf(T0 + 500, T0 + 4500, plans);
    expect(x.length).toBe(4 * MIX_SAMPLE_RATE);
    // The 16 kHz tone's onset: 0.5 s into the export, within one 48 kHz sample of the resampler's ringing.
    const onset = x.findIndex((s) => Math.abs(s) > 0.02);
    console.log(`mix: 16 kHz onset at sample ${onset} (expected 24000)`);
    expect(Math.abs(onset - 0.5 * MIX_SAMPLE_RATE)).toBeLessThanOrEqual(2);
    expect(measureToneDbfs(x, 1000, MIX_SAMPLE_RATE, 0.6 * 48000, 1.9 * 48000)).toBeCloseTo(-20, 1);
    expect(measureToneDbfs(x, 440, MIX_SAMPLE_RATE, 0.6 * 48000, 1.9 * 48000)).toBeLessThan(-60);
    expect(measureToneDbfs(x, 1000, MIX_SAMPLE_RATE, 2.1 * 48000, 3.9 * 48000)).toBeCloseTo(-20, 1);
    expect(measureToneDbfs(x, 440, MIX_SAMPLE_RATE, 2.1 * 48000, 3.9 * 48000)).toBeCloseTo(-26, 1);
  });

  it('limits the sum at -1 dBFS only where it would pass it, and gives silence without stations', async () => {
    const loud = sine(500, -3, 5, 48000);
    const path = segment('loud.wav', loud, 48000);
    const plan = (): ExportPlan => ({ fromMs: T0, toMs: T0 + 2000, sampleRate: 48000, segments: [{ bucketTs: T0, path }] });
    // One station alone at -3 dBFS passes unchanged; two of it (+3 dBFS) meet the ceiling.
    const one = await mixOf(T0, T0 + 2000, [plan()]);
    const two = await mixOf(T0, T0 + 2000, [plan(), plan()]);
    const peak = (y: Float32Array) => 20 * Math.log10(y.reduce((m, s) => Math.max(m, Math.abs(s)), 0));
    console.log(`mix: one ${peak(one).toFixed(2)} dBFS peak, two ${peak(two).toFixed(2)} dBFS peak`);
    expect(peak(one)).toBeCloseTo(-3, 1);
    expect(peak(two)).toBeLessThanOrEqual(-1 + 0.01);
    expect(peak(two)).toBeGreaterThan(-1.5);
    const none = await mixOf(T0, T0 + 1000, []);
    expect(none.length).toBe(48000);
    expect(none.every((s) => s === 0)).toBe(true);
  });

  it('leaves the event loop turns while it mixes and encodes silence (tiny Opus packets never fill a stream\'s buffer)', async () => {
    const minutes = 5;
    const src = mixSource(T0, T0 + minutes * 60_000, [{ fromMs: T0, toMs: T0 + minutes * 60_000, sampleRate: 16000, segments: [] }]);
    let last = performance.now();
    let worstGapMs = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
    }, 5);
    const t0 = performance.now();
    let bytes = 0;
    for await (const b of webmOpusExportStream(src, { bitrate: 64_000 })) bytes += (b as Buffer).length;
    const tookMs = performance.now() - t0;
    clearInterval(timer);
    worstGapMs = Math.max(worstGapMs, performance.now() - last);
    console.log(`mix: ${minutes} min of silence as WebM: ${bytes} bytes in ${tookMs.toFixed(0)} ms, longest event-loop gap ${worstGapMs.toFixed(1)} ms`);
    // Without the turns the whole export is one gap.
    expect(tookMs).toBeGreaterThan(300);
    expect(worstGapMs).toBeLessThan(Math.min(200, tookMs / 2));
  });

  it('refuses plans over another range', () => {
    expect(() => mixSource(T0, T0 + 1000, [{ fromMs: T0, toMs: T0 + 2000, sampleRate: 48000, segments: [] }])).toThrow(/cover/);
  });
});
