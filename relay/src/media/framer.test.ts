/**
 * The framer on its own: decoded samples of any packet size become 20 ms frames on the
 * bucket grid with exact offsets; a stall past the grace moves the timeline forward.
 */
import { describe, expect, it } from 'vitest';
import { Framer } from './framer.ts';
import type { Frame } from './stage.ts';

const RATE = 8000; // 160 samples a frame, 40000 a bucket
const T0 = Date.parse('2026-01-03T21:15:03.000Z'); // 2 s before a boundary

function framer() {
  const frames: { bucketTs: number; offset: number; length: number; first: number; concealed: boolean }[] = [];
  const f = new Framer(RATE, 5000, 1000, (fr: Frame) => frames.push({ bucketTs: fr.bucketTs, offset: fr.offset, length: fr.length, first: fr.samples[0], concealed: fr.concealed }));
  return { f, frames };
}

const block = (n: number, value: number): Float32Array => new Float32Array(n).fill(value);

describe('Framer', () => {
  it('cuts packets of any size into 20 ms frames that cross the bucket boundary exactly', () => {
    const { f, frames } = framer();
    // 2.4 s of 30 ms packets (240 samples), values counting up.
    for (let k = 0; k < 80; k++) f.write(block(240, k), 240, T0 + k * 30, false);
    expect(frames).toHaveLength(120);
    const boundary = Date.parse('2026-01-03T21:15:05.000Z');
    const i = frames.findIndex((x) => x.bucketTs === boundary);
    expect(i).toBe(100); // 2 s of frames before the boundary
    expect(frames[99]).toMatchObject({ offset: 40000 - 160, length: 160 }); // the bucket's last frame
    expect(frames[100]).toMatchObject({ offset: 0, bucketTs: boundary });
    expect(frames[101].offset).toBe(160);
    expect(f.playedMs).toBe(2400);
  });

  it('marks a frame concealed when any of its samples were', () => {
    const { f, frames } = framer();
    f.write(block(80, 1), 80, T0, false);
    f.write(block(80, 0), 80, T0, true);
    f.write(block(160, 1), 160, T0 + 20, false);
    expect(frames.map((x) => x.concealed)).toEqual([true, false]);
  });

  it('moves the timeline forward after a stall longer than the grace, and counts a resync', () => {
    const { f, frames } = framer();
    for (let k = 0; k < 10; k++) f.write(block(160, 1), 160, T0 + k * 20, false);
    // Nothing for 3 s, then audio again: it plays at its arrival, not 3 s in the past.
    f.write(block(160, 2), 160, T0 + 200 + 3000, false);
    expect(f.stats().resyncs).toBe(1);
    const last = frames.at(-1)!;
    expect(last.bucketTs + last.offset / 8).toBeGreaterThanOrEqual(T0 + 3000);
  });

  it('hands on the last, short frame at the end', () => {
    const { f, frames } = framer();
    f.write(block(100, 1), 100, T0, false);
    expect(frames).toHaveLength(0);
    f.end();
    expect(frames).toEqual([expect.objectContaining({ length: 100 })]);
  });
});
