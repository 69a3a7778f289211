/**
 * The loop's schedule, and its halt and reset on a real relay: an operator has clamped a
 * station with a limiter at -24 dBFS, so the optimizer's +12 dB barely moves the chain's
 * gain; verification fails and the station is halted until the operator changes its knobs.
 *
 * The relay and the optimizer run on 2.5 s buckets instead of 5 s (both take the length as
 * a setting): the halt and the reset take as many buckets as on 5 s ones, in half the time.
 */
import { nextApplyBucketMs, type ActiveTracesResponse } from '../../../protocol/optimizer-api.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { dbToGain, speechLike } from '../audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { alignToBucket, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { OptimizerClient } from './client.ts';
import { speechLevel } from './level.ts';
import type { LogEntry } from './log.ts';
import { Optimizer } from './optimizer.ts';

const RATE = 16000;
/** Bucket length of this test's relay and optimizer, ms (the snapshot limit follows it). */
const BUCKET_MS = 2500;

describe('Optimizer.nextRunAt', () => {
  const opt = new Optimizer({ client: new OptimizerClient({ baseUrl: 'http://127.0.0.1:9', token: 'x' }), log: () => undefined });
  it('runs 1.3 s after each bucket ends (grace 1 s + 300 ms)', () => {
    const b = Date.parse('2026-01-03T21:15:00.000Z');
    expect(opt.nextRunAt(b)).toBe(b + 1300);
    expect(opt.nextRunAt(b + 1299)).toBe(b + 1300);
    expect(opt.nextRunAt(b + 1300)).toBe(b + 6300);
    expect(opt.nextRunAt(b + 4999)).toBe(b + 6300);
  });
  it('stops twice without harm, before it ever started', async () => {
    await opt.stop();
    await opt.stop();
  });
});

let t: TestRelay | null = null;
let optimizer: Optimizer | null = null;
afterAll(async () => {
  await optimizer?.stop();
  await t?.close();
});

describe('a failed verification', () => {
  it('halts the station, says why, and resumes after an operator changes its knobs', async () => {
    t = await startTestRelay({ bucketMs: BUCKET_MS, snapshotMinIntervalMs: BUCKET_MS });
    const token = t.relay.adminToken as string;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const x = speechLike(-30, 20, RATE, 21);
    const g = dbToGain(-35 - (speechLevel(x, RATE).levelDbfs as number));
    // Long enough for the halt, the reset and the decision after it even on a slow machine;
    // the station is stopped as soon as that decision is in.
    const station = new SimulatedStation({ url: t.wsUrl, audio: encodeAudio(x.map((v) => v * g), RATE, 'pcm16'), stationKey: 'clamped', durationS: 60 });
    const traceId = (await station.connect()).trace_id;

    /** Applies `knobs` from the next boundary at least `leadMs` away. */
    const operator = async (knobs: Record<string, unknown>, reason: string, leadMs = 0): Promise<void> => {
      const applyAt = new Date(nextApplyBucketMs(Date.now(), BUCKET_MS, leadMs)).toISOString();
      const body = { trace_id: traceId, station_key: 'clamped', apply_at_bucket_ts: applyAt, idempotency_key: crypto.randomUUID(), source: 'operator', reason, knobs };
      const res = await fetch(`${t!.httpUrl}/api/optimizer/knobs/apply`, { method: 'POST', headers, body: JSON.stringify(body) });
      expect(res.status, await res.clone().text()).toBe(200);
    };
    // The station starts half a second before a boundary and is clamped from that boundary
    // on: its first bucket is too short to act on, its second carries the clamp, and the
    // optimizer decides on the third, measured wholly under the clamp (evidence.ts).
    await alignToBucket(BUCKET_MS - 500, BUCKET_MS);
    const streaming = runStations([station]);
    await waitFor(async () => ((await fetch(`${t!.httpUrl}/api/traces/active`, { headers }).then((r) => r.json())) as ActiveTracesResponse).active.length > 0 || undefined, 400, 'the station to be live');
    await operator({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -24 }, 'clamp');

    const log: LogEntry[] = [];
    optimizer = new Optimizer({ client: new OptimizerClient({ baseUrl: t.httpUrl, token }), bucketMs: BUCKET_MS, snapshotIntervalMs: BUCKET_MS, log: (e) => log.push(e) });
    optimizer.start();
    const lines = (): string => log.map((e) => `${e.at} ${e.kind} ${e.message}`).join('\n');

    const halted = await waitFor(() => log.find((e) => e.kind === 'halted'), 35_000, 'a halt').catch((err: Error) => {
      throw new Error(`${err.message}\n${lines()}`);
    });
    expect(halted.reason, lines()).toMatch(/^did not move as intended .*chain gain .* of \+12\.0 dB/);
    expect(optimizer.describe()).toMatchObject([{ station_key: 'clamped', phase: { kind: 'halted' } }]);
    // Halted: nothing further is decided, however far out of target the station is.
    const haltedAt = log.indexOf(halted);
    // A second ahead at least: with 2.5 s buckets the next boundary is only 1.2 s after the halt.
    await operator({ 'limiter.threshold_dbfs': -1 }, 'unclamp', 1000);
    await waitFor(() => log.find((e) => e.kind === 'decision' && log.indexOf(e) > haltedAt), 25_000, 'a decision after the reset').catch((err: Error) => {
      throw new Error(`${err.message}\n${lines()}`);
    });
    await optimizer.stop();
    station.stop();
    await streaming;
    console.log(lines());

    const after = log.slice(haltedAt + 1);
    const resumed = after.findIndex((e) => e.kind === 'resumed');
    expect(resumed, lines()).toBeGreaterThanOrEqual(0);
    expect(after.slice(0, resumed).filter((e) => e.kind === 'decision'), lines()).toEqual([]);
    expect(after[resumed].message).toMatch(/from "operator"/);
    expect(log.filter((e) => e.kind === 'decision')[0].knobs).toEqual({ 'pcm.input_gain_db': 12 });
    expect(log.filter((e) => e.kind === 'error'), lines()).toEqual([]);
  }, 90_000);
});
