import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SampleRing } from './sample-ring.ts';

const seq = (from: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => from + i);

describe('SampleRing', () => {
  it('gives back what was pushed, in order, across the wrap', () => {
    const ring = new SampleRing(SampleRing.allocate(10));
    const out = new Float32Array(10);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 20; round++) {
      expect(ring.push(seq(next, 7), 7)).toBe(7);
      next += 7;
      expect(ring.available).toBe(7);
      expect(ring.pop(out, 10)).toBe(7);
      for (let i = 0; i < 7; i++) expect(out[i]).toBe(expected++);
    }
    expect(ring.overruns).toBe(0);
  });

  it('keeps what fits when full and counts the samples it dropped', () => {
    const ring = new SampleRing(SampleRing.allocate(8));
    expect(ring.capacity).toBe(8);
    expect(ring.push(seq(0, 5), 5)).toBe(5);
    expect(ring.push(seq(5, 5), 5)).toBe(3);
    expect(ring.overruns).toBe(2);
    expect(ring.available).toBe(8);
    const out = new Float32Array(8);
    expect(ring.pop(out, 8)).toBe(8);
    expect(Array.from(out)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(ring.pop(out, 8)).toBe(0);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => SampleRing.allocate(0)).toThrow(RangeError);
    expect(() => SampleRing.allocate(1.5)).toThrow(RangeError);
  });

  it('carries a continuous sequence from a writer thread to a reader without loss or reordering', async () => {
    const buffers = SampleRing.allocate(4096);
    const total = 2_000_000;
    // The writer pushes 128-sample blocks (a render quantum), retrying what did not fit.
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const { control, data, total } = workerData;
       const c = new Int32Array(control), d = new Float32Array(data), size = d.length;
       let next = 0;
       while (next < total) {
         const w = Atomics.load(c, 0), r = Atomics.load(c, 1);
         const free = size - 1 - ((w - r + size) % size);
         const n = Math.min(128, free, total - next);
         for (let i = 0; i < n; i++) d[(w + i) % size] = (next + i) % 16777216;
         Atomics.store(c, 0, (w + n) % size);
         next += n;
       }`,
      { eval: true, workerData: { ...buffers, total } },
    );
    const ring = new SampleRing(buffers);
    const out = new Float32Array(1000);
    let expected = 0;
    let bad = 0;
    while (expected < total) {
      const n = ring.pop(out, out.length);
      for (let i = 0; i < n; i++) if (out[i] !== expected++ % 16777216) bad++;
      if (n === 0) await new Promise((r) => setImmediate(r));
    }
    await worker.terminate();
    expect(bad).toBe(0);
    expect(ring.available).toBe(0);
  });
});
