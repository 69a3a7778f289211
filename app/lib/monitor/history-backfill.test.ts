import { describe, expect, it } from 'vitest';
import type { StationDetail, TraceDetail } from '$protocol/api';
import { planBackfill } from './history-backfill';

const T0 = Date.parse('2026-01-03T00:00:00.000Z');
const H = 3600_000;
const LIMITS = { capacity: 8640, bucketMs: 5000, maxRangeMs: 2 * H, liveLagMs: 60_000 };

function station(key: string, firstMs: number | null, lastMs: number | null): StationDetail {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return { station_key: key, label: null, codec: 'pcm16', sample_rate: 48000, stream_id: 's', started_at: iso(T0) as string, ended_at: null, end_reason: null, live: false, config_version: 0, first_bucket_ts: iso(firstMs), last_bucket_ts: iso(lastMs), bucket_count: 0 };
}

function trace(active: boolean, ...stations: StationDetail[]): TraceDetail {
  return { trace_id: 'trace_x', kind: 'live', active, started_at: new Date(T0).toISOString(), ended_at: null, call_id: null, first_bucket_ts: null, last_bucket_ts: null, bucket_count: 0, stations };
}

describe('planBackfill', () => {
  it('covers an ended trace\'s 12 hours per station in 2 hour ranges, up to its last bucket', () => {
    const plan = planBackfill(trace(false, station('a', T0, T0 + 12 * H - 5000), station('b', T0, T0 + 12 * H - 5000)), LIMITS);
    expect(plan.ranges).toHaveLength(12);
    expect(plan.ranges.filter((r) => r.stationKey === 'a').map((r) => (r.fromMs - T0) / H)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(plan.ranges.every((r) => r.toMs - r.fromMs === 2 * H)).toBe(true);
    // Nothing after the last bucket: the snapshot resumes after it.
    expect(plan.resumeAfterMs).toBe(T0 + 12 * H - 5000);
  });

  it('asks only for what the page keeps, and leaves a live trace\'s newest minute to the snapshot', () => {
    const plan = planBackfill(trace(true, station('a', T0, T0 + 20 * H + 2500 + 60_000), station('b', null, null)), LIMITS);
    const end = T0 + 20 * H;
    expect(plan.ranges[0].fromMs).toBe(end - 12 * H);
    expect(plan.ranges[plan.ranges.length - 1].toMs).toBe(end);
    expect(plan.resumeAfterMs).toBe(end - 5000);
  });

  it('leaves a trace without buckets, or a live one younger than a minute, to the snapshot', () => {
    expect(planBackfill(trace(true), LIMITS)).toEqual({ ranges: [], resumeAfterMs: null });
    const young = planBackfill(trace(true, station('a', T0, T0 + 30_000)), LIMITS);
    expect(young.ranges).toEqual([]);
    expect(young.resumeAfterMs).toBeLessThan(T0);
  });
});
