/**
 * The export WAV stream on real segment files: exact length and header, samples placed at
 * from + i / rate, silence where nothing was stored, bounded pieces, and no more reading
 * once the stream is destroyed.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeWav } from '../audio/wav.ts';
import { CHUNK_BYTES, exportBytes, exportSamples, stationSource, wavExportStream, type ExportPlan } from './segment-export.ts';

const RATE = 8000;
const BUCKET_MS = 5000;
const T0 = Date.UTC(2024, 5, 1, 12, 0, 0);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-export-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A segment whose sample j is `value(j)`, `samples` long. */
function segment(name: string, samples: number, value: (j: number) => number, rate = RATE): string {
  const x = new Int16Array(samples);
  for (let j = 0; j < samples; j++) x[j] = value(j);
  const path = join(dir, name);
  writeFileSync(path, encodeWav(x, rate));
  return path;
}

async function collect(plan: ExportPlan): Promise<{ buf: Buffer }> {
  const parts: Buffer[] = [];
  for await (const p of wavExportStream(stationSource(plan))) parts.push(p as Buffer);
  return { buf: Buffer.concat(parts) };
}

/** Paths of the files this process has open under the test's directory. */
function openFiles(): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((p) => p.startsWith(dir));
}

const sampleAt = (buf: Buffer, i: number): number => buf.readInt16LE(44 + 2 * i);

describe('wavExportStream', () => {
  it('places each segment at its bucket time, fills gaps with silence, and writes exact sizes', async () => {
    const full = BUCKET_MS * (RATE / 1000);
    // B0: the station's first sample at 1 s (the segment holds zeros before it); B1 missing;
    // B2 cut short at 3 s; from 2.5 s into B0 to 1 s into B3.
    const b0 = segment('b0.wav', full, (j) => (j < RATE ? 0 : 1000 + (j % 100)));
    const b2 = segment('b2.wav', 3 * RATE, (j) => -2000 - (j % 50));
    const fromMs = T0 + 2500;
    const toMs = T0 + 3 * BUCKET_MS + 1000;
    const plan: ExportPlan = {
      fromMs,
      toMs,
      sampleRate: RATE,
      segments: [
        { bucketTs: T0, path: b0 },
        { bucketTs: T0 + BUCKET_MS, path: null },
        { bucketTs: T0 + 2 * BUCKET_MS, path: b2 },
      ],
    };
    const n = exportSamples(fromMs, toMs, RATE);
    expect(n).toBe(13.5 * RATE);
    const { buf } = await collect(plan);
    expect(buf.length).toBe(exportBytes(fromMs, toMs, RATE));
    expect(buf.toString('ascii', 0, 4)).toBe('RIFF');
    expect(buf.readUInt32LE(4)).toBe(36 + 2 * n);
    expect(buf.readUInt32LE(24)).toBe(RATE);
    expect(buf.readUInt16LE(22)).toBe(1);
    expect(buf.readUInt16LE(34)).toBe(16);
    expect(buf.readUInt32LE(40)).toBe(2 * n);
    // Export sample i is B0's sample i + 2.5 s.
    for (const i of [0, 100, 2.5 * RATE - 1]) expect(sampleAt(buf, i)).toBe(1000 + ((i + 2.5 * RATE) % 100));
    // B1 (no segment): silence.
    for (let i = 2.5 * RATE; i < 7.5 * RATE; i++) if (sampleAt(buf, i) !== 0) throw new Error(`sample ${i} of B1 is ${sampleAt(buf, i)}`);
    // B2: its 3 s, then silence to the end.
    expect(sampleAt(buf, 7.5 * RATE)).toBe(-2000);
    expect(sampleAt(buf, 7.5 * RATE + 77)).toBe(-2000 - 27);
    expect(sampleAt(buf, 10.5 * RATE - 1)).toBe(-2000 - ((3 * RATE - 1) % 50));
    for (let i = 10.5 * RATE; i < n; i++) if (sampleAt(buf, i) !== 0) throw new Error(`sample ${i} after B2 is ${sampleAt(buf, i)}`);
  });

  it('treats a segment removed meanwhile, or at another rate, as silence and keeps the length', async () => {
    const other = segment('other.wav', 5 * 16000, () => 500, 16000);
    const plan: ExportPlan = {
      fromMs: T0,
      toMs: T0 + 2 * BUCKET_MS,
      sampleRate: RATE,
      segments: [
        { bucketTs: T0, path: join(dir, 'gone.wav') },
        { bucketTs: T0 + BUCKET_MS, path: other },
      ],
    };
    const { buf } = await collect(plan);
    expect(buf.length).toBe(44 + 2 * 10 * RATE);
    expect(buf.subarray(44).every((b) => b === 0)).toBe(true);
  });

  it('stops reading once destroyed (a client gone), and closes the open segment', async () => {
    const full = BUCKET_MS * (RATE / 1000);
    let reached = 0; // segments the stream has looked at
    const segments = Array.from({ length: 20 }, (_, k) => {
      const path = segment(`s${k}.wav`, full, () => 7);
      return {
        bucketTs: T0 + k * BUCKET_MS,
        get path() {
          reached = Math.max(reached, k + 1);
          return path;
        },
      };
    });
    const stream = wavExportStream(stationSource({ fromMs: T0, toMs: T0 + 20 * BUCKET_MS, sampleRate: RATE, segments }));
    let bytes = 0;
    for await (const p of stream) {
      bytes += (p as Buffer).length;
      if (bytes > 2 * CHUNK_BYTES) break; // for await destroys the stream
    }
    expect(stream.destroyed).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    // Each segment is 80 000 bytes: a stream that went on reading would reach all 20.
    expect(reached).toBeLessThanOrEqual(4);
    expect(openFiles()).toEqual([]);
  });

  it('refuses a file over the RIFF size limit', () => {
    expect(exportBytes(T0, T0 + 2 * 3600_000, 48000)).toBe(44 + 2 * 2 * 3600 * 48000);
    expect(exportBytes(T0, T0 + 24 * 3600_000, 48000)).toBeNull();
  });
});
