import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FRAME_META, FrameRing } from './frame-ring.ts';

const frame = (seq: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => seq * 1000 + i);

describe('FrameRing', () => {
  it('gives back frames with their headers, in order, across the wrap', () => {
    const ring = new FrameRing(FrameRing.allocate(3, 960));
    const pcm = new Float32Array(960);
    const header = new Float64Array(3);
    let expected = 0;
    for (let seq = 0; seq < 20; seq++) {
      expect(ring.push(seq, seq * 20, 1000.5 + seq, frame(seq, 960 - seq), 960 - seq)).toBe(true);
      if (seq % 2 === 1) {
        while (ring.available > 0) {
          const n = ring.pop(pcm, header);
          expect(n).toBe(960 - expected);
          expect(header[FRAME_META.seq]).toBe(expected);
          expect(header[FRAME_META.timestampMs]).toBe(expected * 20);
          expect(header[FRAME_META.arrivalMs]).toBe(1000.5 + expected);
          expect(pcm[0]).toBe(expected * 1000);
          expect(pcm[n - 1]).toBe(expected * 1000 + n - 1);
          expected++;
        }
      }
    }
    expect(expected).toBe(20);
    expect(ring.pop(pcm, header)).toBe(-1);
    expect(ring.overruns).toBe(0);
  });

  it('drops and counts a frame that does not fit', () => {
    const ring = new FrameRing(FrameRing.allocate(2, 4));
    expect(ring.capacity).toBe(2);
    expect(ring.push(0, 0, 0, frame(0, 4), 4)).toBe(true);
    expect(ring.push(1, 0, 0, frame(1, 4), 4)).toBe(true);
    expect(ring.push(2, 0, 0, frame(2, 4), 4)).toBe(false);
    expect(ring.overruns).toBe(1);
    const header = new Float64Array(3);
    ring.pop(new Float32Array(4), header);
    expect(header[FRAME_META.seq]).toBe(0);
    expect(() => ring.push(3, 0, 0, frame(3, 5), 5)).toThrow(RangeError);
  });

  it('carries frames from a writer thread to a reader without loss, reordering or torn frames', async () => {
    const buffers = FrameRing.allocate(8, 960);
    const total = 20_000;
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const { control, meta, data, total } = workerData;
       const c = new Int32Array(control), m = new Float64Array(meta), d = new Float32Array(data);
       const size = m.length / 4, max = d.length / size;
       let seq = 0;
       while (seq < total) {
         const w = Atomics.load(c, 0), r = Atomics.load(c, 1), next = (w + 1) % size;
         if (next === r) continue;
         m[w * 4] = seq; m[w * 4 + 1] = seq * 20; m[w * 4 + 2] = 0; m[w * 4 + 3] = 960;
         for (let i = 0; i < 960; i++) d[w * max + i] = seq;
         Atomics.store(c, 0, next);
         seq++;
       }`,
      { eval: true, workerData: { ...buffers, total } },
    );
    const ring = new FrameRing(buffers);
    const pcm = new Float32Array(960);
    const header = new Float64Array(3);
    let expected = 0;
    const deadline = Date.now() + 20_000;
    while (expected < total && Date.now() < deadline) {
      const n = ring.pop(pcm, header);
      if (n < 0) continue;
      expect(header[0]).toBe(expected);
      // Every sample of the frame was written before the frame was published.
      if (pcm[0] !== expected || pcm[959] !== expected) throw new Error(`torn frame ${expected}`);
      expected++;
    }
    await worker.terminate();
    expect(expected).toBe(total);
  });
});
