/**
 * Merging the shares of parts in one recorded bucket: known answers for the aggregates, the
 * gated loudness (ITU-R BS.1770-4 §2.8, worked by hand) and the overlay.
 */
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES, type MetricAggregate, type TapMetrics } from '../../../protocol/metrics.ts';
import type { IngestCounters, LoudnessBlocks } from '../media/messages.ts';
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

/** A share whose every per-frame metric has the given aggregate (and no gated entries, as one stored before them). */
function share(sampleStart: number, samples: number, agg: MetricAggregate, names: readonly string[] = METRIC_NAMES): BucketShare {
  const tap = {} as TapMetrics;
  for (const m of METRIC_NAMES) if (names.includes(m)) tap[m] = { ...agg };
  return { sampleStart, samples, metrics: { PRE: tap, POST: { ...tap } }, ingest: counters(agg.count), loudnessBlocks: null };
}

/** BS.1770-4 eq. 2, mono: the mean square of a block that reads `lufs`. */
const power = (lufs: number): number => 10 ** ((lufs + 0.691) / 10);
const blocks = (...runs: [count: number, lufs: number][]): Float64Array => Float64Array.from(runs.flatMap(([n, l]) => Array<number>(n).fill(power(l))));

/** A share with loudness: its blocks, and the station's integrated loudness and range at its end. */
function loudShare(sampleStart: number, samples: number, frames: number, b: Float64Array | null, station: number | null, range: number | null): BucketShare {
  const s = share(sampleStart, samples, { count: frames, min: -30, max: -10, avg: -20, last: -20 });
  for (const tap of ['PRE', 'POST'] as const) {
    // The share's own bucket value is irrelevant to a merge: a wrong one shows if it is used.
    s.metrics[tap]['loudness.integrated_lufs'] = { bucket: 99, station, active_s: 99 };
    s.metrics[tap]['loudness.range_lu'] = { station: range };
  }
  s.loudnessBlocks = b === null ? null : ({ PRE: b, POST: b.slice() } satisfies LoudnessBlocks);
  return s;
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

  it('leaves out a later metric that no share has, and aggregates it over the shares that have it', () => {
    const old = METRIC_NAMES.filter((m) => m !== 'pcm.true_peak_dbtp' && m !== 'loudness.short_term_lufs');
    const a = share(0, 1000, { count: 100, min: -20, max: -14, avg: -15, last: -16 }, old);
    const b = share(2000, 3000, { count: 50, min: -30, max: -22, avg: -23, last: -24 }, old);
    expect(Object.keys(mergeShares([a, b]).metrics.PRE).sort()).toEqual([...old].sort());
    const c = share(4000, 5000, { count: 50, min: -9, max: -3, avg: -6, last: -5 });
    expect(mergeShares([a, c]).metrics.PRE['pcm.true_peak_dbtp']).toEqual({ count: 50, min: -9, max: -3, avg: -6, last: -5 });
    expect(mergeShares([a, c]).metrics.PRE['pcm.rms_dbfs'].count).toBe(150);
  });

  it('gates the merged bucket over both shares\' blocks, not over their values', () => {
    // 20 blocks at -20 LUFS and 20 at -40: both pass -70; together they read -22.97 LUFS, so
    // the relative gate is -32.97 and only the -20 blocks count: -20.0. (A mean of the two
    // shares' values would say -30, their energy mean -22.97.)
    const early = loudShare(0, 100_000, 100, blocks([20, -20]), -21, 4);
    const late = loudShare(120_000, 240_000, 100, blocks([20, -40]), -23, 6.5);
    for (const order of [[early, late], [late, early]]) {
      const m = mergeShares(order);
      const g = m.metrics.POST['loudness.integrated_lufs']!;
      expect(g.bucket).toBeCloseTo(-20, 6);
      // Station values are the share's that ends latest; active: the blocks above -33 LUFS (-23 - 10).
      expect(g.station).toBe(-23);
      expect(g.active_s).toBe(2);
      expect(m.metrics.PRE['loudness.range_lu']).toEqual({ station: 6.5 });
    }
  });

  it('counts as active only the blocks above the relative gate of the station, over every share', () => {
    // Station at -30 LUFS: the gate is -40, so the -38 blocks count and the -45 do not.
    const m = mergeShares([loudShare(0, 50_000, 50, blocks([10, -38], [5, -45]), -25, 3), loudShare(60_000, 90_000, 30, blocks([7, -38]), -30, 3)]);
    expect(m.metrics.PRE['loudness.integrated_lufs']!.active_s).toBe(1.7);
    // The bucket on its own: -38 and -45 are within 10 LU of their mean (-38.9): all count.
    const all = 10 * Math.log10((17 * power(-38) + 5 * power(-45)) / 22) - 0.691;
    expect(m.metrics.PRE['loudness.integrated_lufs']!.bucket).toBeCloseTo(all, 6);
  });

  it('reads silence as null loudness and no active time, never -Infinity', () => {
    const m = mergeShares([loudShare(0, 1000, 5, blocks([4, -120]), null, null), loudShare(2000, 3000, 5, new Float64Array(0), null, null)]);
    expect(m.metrics.PRE['loudness.integrated_lufs']).toEqual({ bucket: null, station: null, active_s: 0 });
    expect(m.metrics.PRE['loudness.range_lu']).toEqual({ station: null });
    expect(JSON.parse(JSON.stringify(m.metrics.PRE['loudness.integrated_lufs']))).toEqual({ bucket: null, station: null, active_s: 0 });
  });

  it('leaves the gated loudness out when a share with audio kept no blocks (stored before they were kept)', () => {
    const old = loudShare(0, 1000, 50, null, -20, 2);
    const m = mergeShares([old, loudShare(2000, 3000, 50, blocks([10, -20]), -21, 3)]);
    expect(m.metrics.PRE['loudness.integrated_lufs']).toBeUndefined();
    expect(m.metrics.PRE['loudness.range_lu']).toEqual({ station: 3 });
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
