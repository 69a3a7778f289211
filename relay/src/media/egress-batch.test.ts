/** The egress batch: what the worker writes is what the control plane reads, across growth, and views stay valid. */
import { describe, expect, it } from 'vitest';
import { EgressBatchWriter, readEgressBatch } from './egress-batch.ts';

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('EgressBatchWriter / readEgressBatch', () => {
  it('round-trips records of many stations and taps, in order, past the initial size', () => {
    const w = new EgressBatchWriter(64); // grows several times
    const sent: { stationId: number; tap: 0 | 1; generation: number; sequence: number; timestampMs: number; arrivalMs: number; history: boolean; data: Uint8Array }[] = [];
    for (let i = 0; i < 50; i++) {
      const r = {
        stationId: 1000 + (i % 7), tap: (i % 2) as 0 | 1, generation: (i * 37) & 0xff, sequence: 4_000_000_000 + i,
        timestampMs: 1_767_474_903_000 + i * 20, arrivalMs: 1_767_474_903_000.123 + i * 20.5, history: i % 3 === 0, data: bytes(i * 13 % 300, i),
      };
      sent.push(r);
      if (i % 2 === 0) w.append(r.stationId, r.tap, r.generation, r.sequence, r.timestampMs, r.arrivalMs, r.data, r.history);
      else {
        // The encoder's way: reserve room for the largest packet, write, commit what was written.
        const { target, offset } = w.reserve(1276);
        target.set(r.data, offset);
        w.commit(r.stationId, r.tap, r.generation, r.sequence, r.timestampMs, r.arrivalMs, r.data.length, r.history);
      }
    }
    expect(w.count).toBe(50);
    const { buffer, bytes: used, count } = w.take();
    expect(count).toBe(50);
    expect(used).toBe(sent.reduce((n, r) => n + 28 + r.data.length, 0));
    const got = [...readEgressBatch(buffer, used)];
    expect(got).toEqual(sent);
    // The next batch is a new buffer: what was read stays as it was.
    w.append(1, 0, 1, 0, 0, 0, new Uint8Array(300).fill(9));
    expect(got).toEqual(sent);
    expect(w.count).toBe(1);
  });

  it('allocates nothing until the first packet, and hands over an empty batch as such', () => {
    const w = new EgressBatchWriter();
    const { buffer, bytes, count } = w.take();
    expect([buffer.byteLength, bytes, count]).toEqual([0, 0, 0]);
    expect([...readEgressBatch(buffer, bytes)]).toEqual([]);
  });

  it('refuses a commit without a reserve, a packet larger than reserved, and a truncated batch', () => {
    const w = new EgressBatchWriter();
    expect(() => w.commit(1, 0, 1, 0, 0, 0, 10)).toThrow(/without a matching reserve/);
    w.reserve(10);
    expect(() => w.commit(1, 0, 1, 0, 0, 0, 11)).toThrow(/11-byte packet is more than the 10 bytes reserved/);
    expect(() => w.reserve(70_000)).toThrow(RangeError);
    w.append(1, 1, 1, 0, 0, 0, bytes(40, 1));
    const { buffer, bytes: used } = w.take();
    expect(() => [...readEgressBatch(buffer, used - 1)]).toThrow(/runs past the end/);
  });
});
