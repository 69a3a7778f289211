import { describe, expect, it } from 'vitest';
import { IngressQueue } from './ingress-queue.ts';
import { PacketBatchWriter, readPacketBatch, type PacketView } from './packet-batch.ts';

function pkt(seq: number): PacketView {
  return { stationId: 1, timestampMs: seq * 20, sequence: seq, codec: 16, flags: 0, arrivalMs: 0, payload: new Uint8Array(0), mediaMs: 0 };
}

describe('IngressQueue', () => {
  it('keeps order and drops the oldest when full, counting each drop', () => {
    const q = new IngressQueue(3);
    for (let s = 0; s < 5; s++) q.push(pkt(s));
    expect(q.dropped).toBe(2);
    expect(q.depth).toBe(3);
    expect([q.shift()!.sequence, q.shift()!.sequence, q.shift()!.sequence]).toEqual([2, 3, 4]);
    expect(q.shift()).toBeUndefined();
  });

  it('rejects a zero capacity', () => {
    expect(() => new IngressQueue(0)).toThrow(RangeError);
  });
});

describe('packet batches', () => {
  it('round-trips packets through one buffer, growing as needed', () => {
    const w = new PacketBatchWriter(32);
    const payloads = [new Uint8Array([1, 2, 3]), new Uint8Array(100).fill(7), new Uint8Array(0)];
    payloads.forEach((p, i) => w.append(i + 1, 0xfffffff0 + i * 20, 65535 + i, 1, i & 1, 1000.25 + i, p));
    const { buffer, bytes, count } = w.take();
    expect(count).toBe(3);
    const got = [...readPacketBatch(buffer, bytes)];
    expect(got.map((p) => p.stationId)).toEqual([1, 2, 3]);
    expect(got.map((p) => p.sequence)).toEqual([65535, 0, 1]);
    expect(got.map((p) => p.timestampMs)).toEqual([0xfffffff0, 0x100000004 >>> 0, 0x100000018 >>> 0]);
    expect(got[1].payload).toEqual(payloads[1]);
    expect(got[0].arrivalMs).toBe(1000.25);
    expect(w.take().count).toBe(0);
  });
});
