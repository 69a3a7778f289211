/**
 * Merging the shares of parts in one recorded bucket: known answers for the aggregates and
 * the overlay.
 */
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES, type BucketMetrics } from '../../../protocol/metrics.ts';
import type { IngestCounters } from '../media/messages.ts';
import { mergeShares, overlaySamples, type BucketShare } from './recorded-merge.ts';

const counters = (framesReceived: number): IngestCounters => ({
  frames_received: framesReceived,
  bytes_received: framesReceived * 80,
  frames_dropped: 0,
  decode_errors: 0,
  frames_concealed: 0,
  resyncs: 0,
  late_frames: 0,
  frames_out_of_order: 0,
});

/** A share whose every metric has the given aggregate. */
function share(sampleStart: number, samples: number, agg: { count: number; min: number; max: number; avg: number; last: number }): BucketShare {
  const tap = Object.fromEntries(METRIC_NAMES.map((m) => [m, { ...agg }]));
  return { sampleStart, samples, metrics: { PRE: tap, POST: tap } as BucketMetrics, ingest: counters(agg.count) };
}

describe('mergeShares', () => {
  it('weights averages by frames, takes extremes, and `last` from the share that ends latest', () => {
    const early = share(1000, 5000, { count: 100, min: -20, max: -14, avg: -15, last: -16 });
    const late = share(8000, 9000, { count: 50, min: -30, max: -22, avg: -23, last: -24 });
    for (const order of [[early, late], [late, early]]) {
      const m = mergeShares(order);
      expect(m.metrics.PRE['pcm.rms_dbfs']).toEqual({ count: 150, min: -30, max: -14, avg: -17.666667, last: -24 });
      expect(m.metrics.POST['loudness.momentary_lufs'].count).toBe(150);
      expect([m.sampleStart, m.samples]).toEqual([1000, 9000]);
      expect(m.ingest.frames_received).toBe(150);
    }
  });

  it('gives one share back as it was', () => {
    const only = share(0, 240000, { count: 250, min: -15.1, max: -14.9, avg: -15.01, last: -15 });
    expect(mergeShares([only])).toEqual({ sampleStart: 0, samples: 240000, metrics: only.metrics, ingest: only.ingest });
  });
});

describe('overlaySamples', () => {
  it('copies only the samples a part wrote, leaving the rest of the bucket as it was', () => {
    const dst = new Int16Array([1, 1, 0, 0, 0, 0]);
    overlaySamples(dst, new Int16Array([0, 0, 0, 7, 8, 0]), 3, 5);
    expect([...dst]).toEqual([1, 1, 0, 7, 8, 0]);
  });
});
