/**
 * Call quality over WebSocket ingest, on a real relay: two simulated stations stream the
 * same tone for a few seconds, one cleanly and one over a poor network (every tenth frame
 * never sent, each frame up to 100 ms late). `/api/relay/stats` reports each one's transport
 * and quality figures: about 10 % loss and more jitter for the poor one, CRITICAL against
 * GOOD by seed 004 §8.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelayStatsResponse, StationStats } from '../../../protocol/api.ts';
import { qosLevel } from '../../../protocol/qos.ts';
import { sine } from '../audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';

let t: TestRelay;

beforeAll(async () => {
  t = await startTestRelay();
});
afterAll(async () => {
  await t?.close();
});

async function stats(): Promise<RelayStatsResponse> {
  const res = await fetch(`${t.httpUrl}/api/relay/stats`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as RelayStatsResponse;
}

const level = (s: StationStats) => {
  const q = s.transport_quality!;
  return qosLevel({ latencyMs: q.latency_ms, lossPercent: q.loss_percent, jitterMs: q.jitter_ms, mos: q.mos });
};

describe('transport quality in /api/relay/stats', () => {
  it('reports ≈10 % loss and more jitter for a station on a poor network, CRITICAL against GOOD', async () => {
    const audio = encodeAudio(sine(1000, -20, 1, 48000), 48000, 'pcm16');
    const headers = { authorization: `Bearer ${t.relay.adminToken}` };
    const clean = new SimulatedStation({ url: t.wsUrl, audio, label: 'clean', durationS: 8, headers });
    const lossy = new SimulatedStation({ url: t.wsUrl, audio, label: 'lossy', durationS: 8, headers, dropEvery: 10, sendJitterMs: 100 });
    const [a, b] = await Promise.all([clean.connect(), lossy.connect()]);
    const streaming = runStations([clean, lossy]);
    // The worker reports once a second: read the figures after 5 s of audio, while both still stream.
    const s = await waitFor(async () => {
      const body = await stats();
      const c = body.stations.find((x) => x.station_key === a.station_key);
      const l = body.stations.find((x) => x.station_key === b.station_key);
      return c && l && (l.transport_quality?.loss_percent ?? null) !== null && (l.frames_received ?? 0) >= 200 ? { c, l } : undefined;
    }, 15_000, 'both stations with quality figures after 4 s');
    // The jitter estimate follows the last 16 or so packets: compare three reads a second apart.
    const jitter = { clean: [s.c.transport_quality!.jitter_ms!], lossy: [s.l.transport_quality!.jitter_ms!] };
    for (let i = 0; i < 2; i++) {
      await sleep(1000);
      const body = await stats();
      jitter.clean.push(body.stations.find((x) => x.station_key === a.station_key)!.transport_quality!.jitter_ms!);
      jitter.lossy.push(body.stations.find((x) => x.station_key === b.station_key)!.transport_quality!.jitter_ms!);
    }
    await streaming;
    const mean = (v: number[]): number => v.reduce((x, y) => x + y, 0) / v.length;
    console.log(`call quality: jitter reads clean ${jitter.clean.join(', ')} ms; lossy ${jitter.lossy.join(', ')} ms`);
    const { c, l } = s;
    console.log(`call quality: clean ${JSON.stringify(c.transport_quality)}; lossy ${JSON.stringify(l.transport_quality)}`);

    expect(c.transport).toBe('websocket');
    expect(l.transport).toBe('websocket');
    expect(lossy.framesSkipped).toBeGreaterThan(20);
    expect(c.transport_quality).toMatchObject({ window_s: 10, loss_percent: 0, latency_ms: null });
    expect(c.transport_quality!.mos).toBeCloseTo(4.14, 2);
    // Every tenth frame of the span received so far: 10 %, give or take the last group of ten.
    expect(l.transport_quality!.loss_percent).toBeGreaterThan(8.5);
    expect(l.transport_quality!.loss_percent).toBeLessThan(11.5);
    expect(l.transport_quality!.mos).toBeLessThan(3.8);
    // Uniform delays of 0-100 ms give |D| of about 33 ms on average (less, as frames keep their order); a clean sender on a loaded machine, a few ms.
    expect(mean(jitter.lossy)).toBeGreaterThan(mean(jitter.clean) + 8);
    expect(level(c)).toBe('GOOD');
    expect(level(l)).toBe('CRITICAL');
    // The relay conceals the gaps it hears of.
    expect(l.frames_concealed).toBeGreaterThan(0);

    // The jitter buffer's figures (call_quality): the clean station loses nothing and its
    // packets wait about the jitter it measures (a WebSocket station has no 20 ms floor: it
    // plays its audio as soon as it is due, within a packet of the target); the lossy one's losses are concealed where they
    // fell, one at a time (BurstR near 1), its target grows with the 100 ms of jitter, and
    // the E-model puts it below the clean one.
    console.log(`call quality: clean ${JSON.stringify(c.call_quality)}; lossy ${JSON.stringify(l.call_quality)}`);
    const cc = c.call_quality!;
    const lc = l.call_quality!;
    expect(cc).toMatchObject({ packets_lost: 0, loss_percent: 0, packets_late: 0, level: 'GOOD' });
    expect(cc.packets_received).toBe(c.frames_received);
    expect(cc.mos).toBeCloseTo(4.41, 2);
    expect(cc.jitter_buffer_delay_ms).toBeGreaterThanOrEqual(0);
    expect(cc.jitter_buffer_delay_ms).toBeLessThanOrEqual(cc.jitter_buffer_target_ms + 20);
    expect(lc.loss_percent).toBeGreaterThan(7);
    expect(lc.loss_percent).toBeLessThan(13);
    expect(lc.concealment_events).toBeGreaterThan(10);
    expect(lc.burst_r).toBeLessThan(1.3);
    expect(lc.jitter_buffer_target_ms).toBeGreaterThan(cc.jitter_buffer_target_ms);
    expect(lc.mos).toBeLessThan(cc.mos - 0.3);
    expect(lc.level).toBe('CRITICAL');
  }, 30_000);
});
