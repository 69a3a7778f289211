import { describe, expect, it } from 'vitest';
import { HealthTracker, parseRelayStats } from './station-health';

const station = (received: number, concealed: number, extra: Record<string, unknown> = {}) => ({
  trace_id: 'trace_a',
  station_key: 'st_1',
  transport: 'websocket',
  queue_depth: 2,
  config_version: 0,
  frames_received: received,
  bytes_received: received * 1920,
  frames_dropped: 0,
  decode_errors: 0,
  frames_concealed: concealed,
  resyncs: 0,
  late_frames: 0,
  frames_out_of_order: 0,
  ...extra,
});

const body = (stations: unknown[], listenStreams: unknown[] = []) => ({ success: true, relay: {}, pipeline_latency_ms: {}, stations, listen_streams: listenStreams });
const listen = (mse: number, packets: number) => ({ kind: 'station', trace_id: 'trace_a', station_key: 'st_1', listeners: { mse, packets } });

describe('station health from /api/relay/stats', () => {
  it('counts listeners, shares of concealed frames over the last 10 s, and the QoS level', () => {
    const h = new HealthTracker();
    const quality = { window_s: 10, loss_percent: 10, jitter_ms: 21, latency_ms: null, mos: 3.65 };
    let out = h.update(parseRelayStats(body([station(100, 0, { transport_quality: quality })], [listen(1, 2), { ...listen(5, 5), kind: 'mix', station_key: null }]))!, 0);
    expect(out['trace_a/st_1']).toMatchObject({ transport: 'websocket', queueDepth: 2, listeners: 3, concealedPercent: null, level: 'CRITICAL' });
    // 2 s later: 100 more received, 10 of them concealed.
    out = h.update(parseRelayStats(body([station(200, 10)]))!, 2000);
    expect(out['trace_a/st_1'].concealedPercent).toBeCloseTo(10, 9);
    expect(out['trace_a/st_1']).toMatchObject({ listeners: 0, quality: null, level: null, droppedPercent: 0 });
    // 12 s of clean audio later the old loss has left the window.
    for (let t = 4000; t <= 16_000; t += 2000) out = h.update(parseRelayStats(body([station(200 + t / 20, 10)]))!, t);
    expect(out['trace_a/st_1'].concealedPercent).toBe(0);
    // GOOD figures.
    out = h.update(parseRelayStats(body([station(1000, 10, { transport_quality: { ...quality, loss_percent: 0, jitter_ms: 3, mos: 4.14 } })]))!, 18_000);
    expect(out['trace_a/st_1'].level).toBe('GOOD');
    expect(out['trace_a/st_1'].jitterBuffer).toBeNull();
    // The jitter buffer's wait and target, when the relay reports them; a malformed report is left out.
    out = h.update(parseRelayStats(body([station(1100, 10, { call_quality: { jitter_buffer_delay_ms: 37.5, jitter_buffer_target_ms: 38 } })]))!, 20_000);
    expect(out['trace_a/st_1'].jitterBuffer).toEqual({ delayMs: 37.5, targetMs: 38 });
    out = h.update(parseRelayStats(body([station(1200, 10, { call_quality: { jitter_buffer_delay_ms: null, jitter_buffer_target_ms: -1 } })]))!, 22_000);
    expect(out['trace_a/st_1'].jitterBuffer).toBeNull();
  });

  it('takes a station whose pipeline has not reported yet, and refuses bodies that are not stats', () => {
    const h = new HealthTracker();
    const bare = { trace_id: 'trace_a', station_key: 'st_2', transport: 'websocket', queue_depth: 0, config_version: 0 };
    expect(h.update(parseRelayStats(body([bare]))!, 0)['trace_a/st_2']).toMatchObject({ counters: null, concealedPercent: null, level: null });
    expect(parseRelayStats({ success: false })).toBeNull();
    expect(parseRelayStats(body([{ ...bare, queue_depth: -1 }]))).toBeNull();
    expect(parseRelayStats(body([{ ...bare, frames_received: 'many' }]))).toBeNull();
    expect(parseRelayStats(body([{ ...bare, transport_quality: { window_s: 10, loss_percent: 'x' } }]))).toBeNull();
  });
});
