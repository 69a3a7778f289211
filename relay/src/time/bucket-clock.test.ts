import { describe, expect, it } from 'vitest';
import { StationTimeline, bucketStartMs, isBucketComplete, isoOf, parseIsoMs } from './bucket-clock.ts';

describe('bucket clock', () => {
  it('aligns buckets to the UTC wall clock', () => {
    const t = Date.parse('2026-01-03T21:15:03.217Z');
    expect(isoOf(bucketStartMs(t, 5000))).toBe('2026-01-03T21:15:00.000Z');
    expect(isoOf(bucketStartMs(Date.parse('2026-01-03T21:15:05.000Z'), 5000))).toBe('2026-01-03T21:15:05.000Z');
    expect(isoOf(bucketStartMs(Date.parse('2026-01-03T21:15:04.999Z'), 5000))).toBe('2026-01-03T21:15:00.000Z');
  });

  it('calls a bucket complete only after its end plus the grace', () => {
    const b = Date.parse('2026-01-03T21:15:00.000Z');
    expect(isBucketComplete(b, b + 5999, 5000, 1000)).toBe(false);
    expect(isBucketComplete(b, b + 6000, 5000, 1000)).toBe(true);
  });

  it('parses ISO timestamps strictly', () => {
    expect(parseIsoMs('2026-01-03T21:15:10.000Z')).toBe(Date.parse('2026-01-03T21:15:10.000Z'));
    expect(parseIsoMs('2026-01-03 21:15:10')).toBeNull();
    expect(parseIsoMs('yesterday')).toBeNull();
    expect(parseIsoMs('2026-01-03T21:15:10.000+01:00')).toBeNull();
  });

  it('refuses dates that do not exist and years before 1970', () => {
    for (const bad of ['2026-02-30T00:00:00.000Z', '2026-02-29T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-04-31T00:00:00.000Z',
      '2026-01-01T24:00:00.000Z', '2026-01-01T23:60:00.000Z', '2026-01-01T23:59:60.000Z', '0000-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z']) {
      expect(parseIsoMs(bad), bad).toBeNull();
    }
    expect(parseIsoMs('2028-02-29T00:00:00.000Z')).toBe(Date.UTC(2028, 1, 29));
    expect(parseIsoMs('1970-01-01T00:00:00Z')).toBe(0);
    expect(parseIsoMs('2026-01-03T21:15:10.5Z')).toBe(Date.parse('2026-01-03T21:15:10.500Z'));
    expect(parseIsoMs('9999-12-31T23:59:59.999Z')).toBe(Date.parse('9999-12-31T23:59:59.999Z'));
  });

  it('puts the origin on the 20 ms grid so bucket boundaries fall on frame starts', () => {
    const first = Date.parse('2026-01-03T21:15:03.217Z');
    const tl = new StationTimeline(48000, first, 5000);
    expect(tl.originMs % 20).toBe(0);
    expect(tl.originMs).toBe(Date.parse('2026-01-03T21:15:03.200Z'));
    // 1.8 s to the next bucket = 90 frames.
    expect(tl.bucketOfFrame(89)).toBe(Date.parse('2026-01-03T21:15:00.000Z'));
    expect(tl.bucketOfFrame(90)).toBe(Date.parse('2026-01-03T21:15:05.000Z'));
    expect(tl.sampleOffsetInBucket(90)).toBe(0);
    expect(tl.sampleOffsetInBucket(89)).toBe(239_040);
    expect(tl.frameAtOrAfter(Date.parse('2026-01-03T21:15:05.000Z'))).toBe(90);
  });

  it('maps samples exactly at 44.1 kHz and 8 kHz', () => {
    const first = Date.parse('2026-01-03T21:15:04.990Z');
    const a = new StationTimeline(44100, first, 5000);
    expect(a.frameSamples).toBe(882);
    expect(a.sampleOffsetInBucket(0)).toBe(219_618);
    expect(a.sampleOffsetInBucket(1)).toBe(0);
    expect(a.bucketSamples).toBe(220500);
    const b = new StationTimeline(8000, first, 5000);
    expect(b.frameSamples).toBe(160);
    expect(() => new StationTimeline(11025, first, 5000)).toThrow(RangeError);
  });
});
