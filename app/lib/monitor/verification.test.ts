import { describe, expect, it } from 'vitest';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import type { KnobEvent, SnapshotEntry } from '$protocol/optimizer-api';
import { StationHistory } from './history';
import { verifyKnobEvent } from './verification';

const STATION = 'St_1_1111';
const T0 = Date.parse('2026-01-03T21:15:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function bucket(tsMs: number, configVersion: number, knobs: Record<string, number | boolean> = {}): SnapshotEntry {
  return {
    bucket_ts: iso(tsMs),
    bucket_ms: 5000,
    station_key: STATION,
    knobs_snapshot: { ...defaultKnobs(), ...knobs },
    metrics: { PRE: {}, POST: {} } as unknown as SnapshotEntry['metrics'],
    audio: { PRE: { endpoint: '/pre' }, POST: { endpoint: '/post' } },
    config_version: configVersion,
    last_knob_event_id: null,
  };
}

function event(over: Partial<KnobEvent> = {}): KnobEvent {
  return {
    id: 7,
    created_at: iso(T0),
    apply_at_bucket_ts: iso(T0 + 10_000),
    station_key: STATION,
    knobs_requested: { 'pcm.input_gain_db': 60 },
    knobs_effective: { 'pcm.input_gain_db': 40 },
    source: 'operator',
    reason: 'too quiet',
    config_version: 2,
    idempotency_key: 'k',
    superseded_by: null,
    ...over,
  };
}

function history(...entries: SnapshotEntry[]): StationHistory {
  const h = new StationHistory(STATION);
  for (const e of entries) h.add(e);
  return h;
}

describe('verifyKnobEvent', () => {
  it('is verified when the bucket at apply_at shows the effective values and the config version', () => {
    const h = history(bucket(T0, 1), bucket(T0 + 5000, 1), bucket(T0 + 10_000, 2, { 'pcm.input_gain_db': 40 }));
    expect(verifyKnobEvent(event(), h).state).toBe('verified');
  });

  it('is pending while the bucket is not complete, with or without earlier buckets', () => {
    expect(verifyKnobEvent(event(), history(bucket(T0, 1), bucket(T0 + 5000, 1))).state).toBe('pending');
    expect(verifyKnobEvent(event(), history()).state).toBe('pending');
    expect(verifyKnobEvent(event(), undefined).state).toBe('pending');
  });

  it('fails when the complete bucket shows other knob values, naming the knob', () => {
    const v = verifyKnobEvent(event(), history(bucket(T0 + 10_000, 2, { 'pcm.input_gain_db': 0 })));
    expect(v.state).toBe('failed');
    expect(v.detail).toContain('pcm.input_gain_db 0, expected 40');
  });

  it('fails when the bucket shows the values under another config version', () => {
    const v = verifyKnobEvent(event(), history(bucket(T0 + 10_000, 1, { 'pcm.input_gain_db': 40 })));
    expect(v.state).toBe('failed');
    expect(v.detail).toContain('config_version 1, expected 2');
  });

  it('compares booleans exactly', () => {
    const e = event({ knobs_requested: { 'limiter.enabled': true }, knobs_effective: { 'limiter.enabled': true } });
    expect(verifyKnobEvent(e, history(bucket(T0 + 10_000, 2, { 'limiter.enabled': true }))).state).toBe('verified');
    expect(verifyKnobEvent(e, history(bucket(T0 + 10_000, 2, { 'limiter.enabled': false }))).state).toBe('failed');
  });

  it('fails when later buckets are complete but the one at apply_at was never stored', () => {
    const v = verifyKnobEvent(event(), history(bucket(T0 + 5000, 1), bucket(T0 + 15_000, 2, { 'pcm.input_gain_db': 40 })));
    expect(v.state).toBe('failed');
    expect(v.detail).toContain('no bucket');
  });

  it('is superseded when superseded_by is set, whatever the buckets show', () => {
    const h = history(bucket(T0 + 10_000, 2, { 'pcm.input_gain_db': 40 }));
    const v = verifyKnobEvent(event({ superseded_by: 9 }), h);
    expect(v).toEqual({ state: 'superseded', detail: 'replaced by event 9' });
  });
});
