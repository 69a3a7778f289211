import { describe, expect, it } from 'vitest';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import type { MetricAggregate } from '$protocol/metrics';
import type { SnapshotEntry } from '$protocol/optimizer-api';
import { StationHistory } from './history';

const STATION = 'St_1_1111';
const T0 = Date.parse('2026-01-03T21:15:00.000Z');

const agg = (max: number, count = 250): MetricAggregate => ({ count, min: max - 3, max, avg: max - 1, last: max - 2 });

function tap(lufs: number | null, peak: number, clip: number) {
  return {
    'pcm.peak_dbfs': agg(peak),
    'pcm.clipping_ratio': agg(clip),
    'loudness.integrated_lufs': { bucket: lufs, station: lufs, active_s: 5 },
  };
}

function bucket(i: number, pre = tap(-26, -20, 0), post = tap(-23, -17, 0.01)): SnapshotEntry {
  return {
    bucket_ts: new Date(T0 + i * 5000).toISOString(),
    bucket_ms: 5000,
    station_key: STATION,
    knobs_snapshot: defaultKnobs(),
    metrics: { PRE: pre, POST: post } as unknown as SnapshotEntry['metrics'],
    audio: { PRE: { endpoint: '/pre' }, POST: { endpoint: '/post' } },
    config_version: 1,
    last_knob_event_id: null,
  };
}

describe('StationHistory', () => {
  it('makes one chart point per bucket: loudness, peak max and clipping in percent, PRE and POST', () => {
    const h = new StationHistory(STATION);
    h.add(bucket(0));
    h.add(bucket(1, tap(null, -80, 0), tap(null, -80, 0)));
    const [x, preL, postL, preP, postP, preC, postC] = h.columns();
    expect(x).toEqual([T0 / 1000, T0 / 1000 + 5]);
    expect(preL).toEqual([-26, null]);
    expect(postL).toEqual([-23, null]);
    expect(preP).toEqual([-20, -80]);
    expect(postP).toEqual([-17, -80]);
    expect(preC).toEqual([0, 0]);
    expect(postC).toEqual([1, 0]);
  });

  it('ignores a bucket it has, keeps the order for one that arrives late, and answers by bucket start', () => {
    const h = new StationHistory(STATION);
    expect(h.add(bucket(2))).toBe(true);
    expect(h.add(bucket(0))).toBe(true);
    expect(h.add(bucket(2))).toBe(false);
    expect(h.columns()[0]).toEqual([T0 / 1000, T0 / 1000 + 10]);
    expect(h.latestTsMs).toBe(T0 + 10_000);
    expect(h.get(T0)?.bucket_ts).toBe(new Date(T0).toISOString());
    expect(h.get(T0 + 5000)).toBeUndefined();
  });

  it('keeps at most capacity buckets, dropping the oldest', () => {
    const h = new StationHistory(STATION, 3);
    for (let i = 0; i < 5; i++) h.add(bucket(i));
    expect(h.size).toBe(3);
    expect(h.oldestTsMs).toBe(T0 + 10_000);
    expect(h.get(T0)).toBeUndefined();
    expect(h.add(bucket(0))).toBe(false);
  });

  it('refuses another station\'s bucket and a capacity that is not a positive integer', () => {
    const h = new StationHistory('St_2_2222');
    expect(() => h.add(bucket(0))).toThrow(TypeError);
    expect(() => new StationHistory(STATION, 0)).toThrow(TypeError);
  });
});
