/**
 * The reference optimizer closing the loop on a real relay: three
 * stations in one trace stream for ~45 s: quiet speech (about -35 dBFS), a hot, clipping
 * source (about -8 dBFS, peaks at full scale) and one already in target (-20 dBFS). The
 * optimizer must bring the first two into target within 6 complete buckets of its start,
 * verify every change, and leave the third alone. The test measures the outcome itself,
 * from the POST segments the API serves.
 */
import type { EventsResponse } from '../../../protocol/optimizer-api.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { dbToGain, speechLike } from '../audio/signals.ts';
import { readWav } from '../audio/wav.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { alignToBucket, startTestRelay, type TestRelay } from '../testing/harness.ts';
import { OptimizerClient } from './client.ts';
import { speechLevel } from './level.ts';
import type { LogEntry } from './log.ts';
import { Optimizer } from './optimizer.ts';
import { DEFAULT_TARGETS } from './policy.ts';

const RATE = 16000;
const STREAM_S = 45;
const BUCKET_MS = 5000;

/** Speech-like audio scaled so its active speech level (level.ts) is `levelDbfs`. */
function speechAt(levelDbfs: number, seed: number): Float32Array {
  const x = speechLike(-30, 20, RATE, seed);
  const g = dbToGain(levelDbfs - (speechLevel(x, RATE).levelDbfs as number));
  return x.map((v) => v * g);
}

/** Speech driven into hard clipping until its active level, after clipping, is `levelDbfs`. */
function clippedSpeechAt(levelDbfs: number, seed: number): Float32Array {
  const x = speechAt(-30, seed);
  let drive = levelDbfs + 30;
  let y = x;
  for (let i = 0; i < 6; i++) {
    const g = dbToGain(drive);
    y = x.map((v) => Math.max(-1, Math.min(1, v * g)));
    drive += levelDbfs - (speechLevel(y, RATE).levelDbfs as number);
  }
  return y;
}

interface Measured {
  bucketMs: number;
  levelDbfs: number | null;
  peakDbfs: number | null;
  clippingRatio: number;
}

let t: TestRelay | null = null;
let optimizer: Optimizer | null = null;

afterAll(async () => {
  await optimizer?.stop();
  await t?.close();
});

describe('the reference optimizer on a real relay', () => {
  it('brings a quiet and a hot station into target within 6 buckets, verifies each change and leaves an in-target station alone', async () => {
    t = await startTestRelay();
    const token = t.relay.adminToken;
    if (token === null) throw new Error('the test relay has no admin token');
    const auth = { authorization: `Bearer ${token}` };

    const sources = {
      quiet: speechAt(-35, 11),
      hot: clippedSpeechAt(-8, 12),
      steady: speechAt(-20, 13),
    };
    // Start half a second into a bucket, so the first bucket has audio and every later one is full.
    await alignToBucket(500);
    const stations: Record<keyof typeof sources, SimulatedStation> = {} as never;
    let traceId: string | undefined;
    for (const [name, audio] of Object.entries(sources) as [keyof typeof sources, Float32Array][]) {
      const st = new SimulatedStation({ url: t.wsUrl, audio: encodeAudio(audio, RATE, 'pcm16'), traceId, stationKey: name, label: name, durationS: STREAM_S });
      traceId = (await st.connect()).trace_id;
      stations[name] = st;
    }
    const streamStartedAt = Date.now();
    const streaming = runStations(Object.values(stations));

    const log: LogEntry[] = [];
    const startedAt = Date.now();
    optimizer = new Optimizer({ client: new OptimizerClient({ baseUrl: t.httpUrl, token }), log: (e) => log.push(e) });
    optimizer.start();
    await streaming;
    await optimizer.stop();
    const lines = log.map((e) => `${e.at} ${e.kind} ${e.stationKey ?? ''} ${e.message}`).join('\n');

    // The first 8 buckets with audio that completed (end + 1 s grace) after the optimizer started.
    const firstComplete = Math.max(
      (Math.floor((startedAt - BUCKET_MS - 1000) / BUCKET_MS) + 1) * BUCKET_MS,
      Math.floor(streamStartedAt / BUCKET_MS) * BUCKET_MS,
    );
    const buckets = Array.from({ length: 8 }, (_, i) => firstComplete + i * BUCKET_MS);

    async function measure(station: string, bucketMs: number): Promise<Measured> {
      const q = new URLSearchParams({ trace_id: traceId as string, station_key: station, tap: 'POST', bucket_ts: new Date(bucketMs).toISOString() });
      const res = await fetch(`${t!.httpUrl}/api/audio/segment?${q}`, { headers: auth });
      expect(res.status, `POST segment of ${station} at ${new Date(bucketMs).toISOString()}`).toBe(200);
      const wav = readWav(Buffer.from(await res.arrayBuffer()));
      const level = speechLevel(wav.samples, wav.sampleRate);
      let clipped = 0;
      for (const v of wav.samples) if (Math.abs(v) >= 32767 / 32768) clipped++;
      return { bucketMs, levelDbfs: level.levelDbfs, peakDbfs: level.peakDbfs, clippingRatio: clipped / wav.samples.length };
    }
    const ok = (m: Measured): boolean =>
      m.levelDbfs !== null &&
      Math.abs(m.levelDbfs - DEFAULT_TARGETS.levelDbfs) <= DEFAULT_TARGETS.toleranceDb &&
      (m.peakDbfs ?? -120) <= DEFAULT_TARGETS.maxPeakDbfs + 0.01 &&
      m.clippingRatio < DEFAULT_TARGETS.maxClippingRatio;
    const fmt = (m: Measured): string => `${new Date(m.bucketMs).toISOString().slice(11, 19)} level ${m.levelDbfs?.toFixed(1)} peak ${m.peakDbfs?.toFixed(1)} clip ${(m.clippingRatio * 100).toFixed(2)} %`;

    const summary: string[] = [];
    for (const name of ['quiet', 'hot', 'steady'] as const) {
      const measured = await Promise.all(buckets.map((b) => measure(name, b)));
      summary.push(`${name}: ${measured.map(fmt).join(' | ')}`);
      // In target from some bucket within the first 6 on, and staying there to the end.
      const firstIn = measured.findIndex((m, i) => measured.slice(i).every(ok));
      expect(firstIn, `${name} never settled in target:\n${summary.join('\n')}\n${lines}`).toBeGreaterThanOrEqual(0);
      expect(firstIn + 1, `${name} took too many buckets:\n${summary.join('\n')}\n${lines}`).toBeLessThanOrEqual(6);
      summary[summary.length - 1] += ` → in target from complete bucket ${firstIn + 1}`;
    }
    console.log(`${summary.join('\n')}\n${lines}`);

    // Every change was verified, none halted, and the decision's reason is the event's reason.
    const decisions = log.filter((e) => e.kind === 'decision');
    const verified = log.filter((e) => e.kind === 'verified');
    expect(log.filter((e) => e.kind === 'halted' || e.kind === 'error'), lines).toEqual([]);
    const quiet = decisions.filter((d) => d.stationKey === 'quiet');
    expect(quiet[0]?.knobs, lines).toEqual({ 'pcm.input_gain_db': 12 });
    expect(quiet.length, lines).toBeLessThanOrEqual(2);
    expect(decisions.filter((d) => d.stationKey === 'hot').length, lines).toBe(1);
    expect(decisions.filter((d) => d.stationKey === 'steady'), lines).toEqual([]);
    for (const d of decisions) {
      expect(verified.some((v) => v.stationKey === d.stationKey && v.bucketTs === d.applyAtBucketTs), `${d.stationKey} change at ${d.applyAtBucketTs} verified\n${lines}`).toBe(true);
    }

    const res = await fetch(`${t.httpUrl}/api/optimizer/events?trace_id=${traceId}`, { headers: auth });
    const { events } = (await res.json()) as EventsResponse;
    expect(events.filter((e) => e.station_key === 'steady')).toEqual([]);
    expect(events.map((e) => e.source)).toEqual(decisions.map(() => 'reference_optimizer'));
    expect(events.map((e) => e.reason).sort()).toEqual(decisions.map((d) => d.reason).sort());
    const hot = events.find((e) => e.station_key === 'hot');
    expect(hot?.knobs_effective).toMatchObject({ 'limiter.enabled': true, 'limiter.threshold_dbfs': -1 });
  }, 90_000);
});
