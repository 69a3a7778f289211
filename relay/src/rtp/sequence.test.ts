import { describe, expect, it } from 'vitest';
import { MAX_DROPOUT, SequenceTracker } from './sequence.ts';

function feed(t: SequenceTracker, seqs: number[]): string[] {
  return seqs.map((s) => t.update(s));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('SequenceTracker (RFC 3550 A.1)', () => {
  it('holds a new source in probation until MIN_SEQUENTIAL (2) packets follow each other', () => {
    const t = new SequenceTracker();
    expect(feed(t, [100])).toEqual(['probation']);
    expect(t.valid).toBe(false);
    expect(feed(t, [101, 102])).toEqual(['accepted', 'accepted']);
    expect(t.valid).toBe(true);
    // A.1 starts counting at the packet that ends probation: base_seq = 101.
    expect([t.receivedPackets, t.expectedPackets, t.extendedHighestSeq]).toEqual([2, 2, 102]);
  });

  it('restarts probation on a non-sequential packet', () => {
    const t = new SequenceTracker();
    expect(feed(t, [100, 200, 201, 202])).toEqual(['probation', 'probation', 'accepted', 'accepted']);
    expect(t.expectedPackets).toBe(2);
  });

  it('extends across the 16-bit wrap, counting cycles', () => {
    const t = new SequenceTracker();
    feed(t, [65533, 65534, 65535, 0, 1]);
    expect(t.extendedHighestSeq).toBe(0x1_0001);
    expect([t.expectedPackets, t.receivedPackets, t.cumulativeLost]).toEqual([4, 4, 0]);
    expect(t.report().extendedHighestSeq).toBe(65536 + 1);
  });

  it('counts a late packet across the wrap without moving the highest or the cycles', () => {
    const t = new SequenceTracker();
    feed(t, [65532, 65533, 65535, 0, 1]); // 65534 missing
    expect(t.cumulativeLost).toBe(1);
    expect(t.update(65534)).toBe('accepted');
    expect(t.extendedHighestSeq).toBe(0x1_0001);
    expect(t.cumulativeLost).toBe(0);
  });

  it('counts duplicates, which can make the loss negative', () => {
    const t = new SequenceTracker();
    feed(t, [10, 11, 12, 12, 12, 13]);
    expect([t.expectedPackets, t.receivedPackets, t.cumulativeLost]).toEqual([3, 5, -2]);
    expect(t.report().cumulativeLost).toBe(-2);
  });

  it('takes a jump below MAX_DROPOUT as loss', () => {
    const t = new SequenceTracker();
    feed(t, [1, 2]);
    expect(t.update(2 + MAX_DROPOUT - 1)).toBe('accepted');
    expect(t.cumulativeLost).toBe(MAX_DROPOUT - 2);
  });

  it('drops one large jump, and restarts when the next packet follows it', () => {
    const t = new SequenceTracker();
    feed(t, range(500, 510));
    expect(t.update(40000)).toBe('bad');
    expect(t.update(511)).toBe('accepted'); // not confirmed: the old stream goes on
    expect(t.extendedHighestSeq).toBe(511);
    expect(t.update(40000)).toBe('bad');
    expect(t.update(40001)).toBe('accepted'); // confirmed: a restart at 40001
    expect(feed(t, [40002, 40003])).toEqual(['accepted', 'accepted']);
    expect([t.extendedHighestSeq, t.expectedPackets, t.receivedPackets, t.cumulativeLost]).toEqual([40003, 3, 3, 0]);
  });

  it('drops a packet older than MAX_MISORDER (100) as bad', () => {
    const t = new SequenceTracker();
    feed(t, range(1000, 1200));
    expect(t.update(1200 - 100)).toBe('bad');
    expect(t.update(1200 - 99)).toBe('accepted');
  });
});

describe('SequenceTracker loss figures (RFC 3550 A.3)', () => {
  it('matches hand-computed fraction and cumulative loss over three intervals', () => {
    const t = new SequenceTracker();
    // Interval 1: base 101 (after probation at 100); 103 lost. expected 105-101+1 = 5,
    // received 4, lost 1: fraction = floor(1 * 256 / 5) = 51.
    feed(t, [100, 101, 102, 104, 105]);
    expect(t.report()).toEqual({ fractionLost: 51, cumulativeLost: 1, extendedHighestSeq: 105 });
    // Interval 2: 106..110 with 108 twice and 103 arriving late: expected 5, received 7,
    // so no loss this interval (fraction 0, not negative); cumulative 10 - 11 = -1.
    feed(t, [106, 107, 108, 108, 103, 109, 110]);
    expect(t.report()).toEqual({ fractionLost: 0, cumulativeLost: -1, extendedHighestSeq: 110 });
    // Interval 3: 111..120 without 115 and 116: expected 10,
    // received 8, lost 2: fraction = floor(512 / 10) = 51; cumulative -1 + 2 = 1.
    feed(t, range(111, 120).filter((s) => s !== 115 && s !== 116));
    expect(t.report()).toEqual({ fractionLost: 51, cumulativeLost: 1, extendedHighestSeq: 120 });
    // Nothing new: an empty interval reports no loss.
    expect(t.report().fractionLost).toBe(0);
  });

  it('reports 255/256 when nearly everything in an interval is lost, across a wrap', () => {
    const t = new SequenceTracker();
    feed(t, [65000, 65001]);
    t.report();
    t.update((65001 + 2000) & 0xffff); // 1465 after the wrap: 1999 lost
    const r = t.report();
    expect(r.extendedHighestSeq).toBe(65536 + 1465);
    expect(r.fractionLost).toBe(Math.floor((1999 * 256) / 2000)); // 255
    expect(r.cumulativeLost).toBe(1999);
  });

  it('reports 255/256, not an 8-bit overflow, when everything expected in an interval is missing', () => {
    // During probation the first packet counts as expected but not yet as received (A.1).
    const t = new SequenceTracker();
    expect(t.update(1)).toBe('probation');
    expect(t.report()).toEqual({ fractionLost: 255, cumulativeLost: 1, extendedHighestSeq: 1 });
  });

  it('is empty before any packet', () => {
    const t = new SequenceTracker();
    expect(t.report()).toEqual({ fractionLost: 0, cumulativeLost: 0, extendedHighestSeq: 0 });
  });
});
