/**
 * The client against a real relay: typed answers, the relay's error codes, and the retry
 * policy of seed 000 §8 (Retry-After honoured on 429, 4xx final, backoff on no answer).
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sine } from '../audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { OptimizerClient, parseRetryAfter, retryDelayMs } from './client.ts';
import { ApiRequestError, OptimizerError } from './errors.ts';

describe('retry timing', () => {
  it('backs off 250, 500, 1000 ms, or as long as Retry-After says (capped)', () => {
    expect([0, 1, 2].map((r) => retryDelayMs(r, null))).toEqual([250, 500, 1000]);
    expect(retryDelayMs(0, 3)).toBe(3000);
    expect(retryDelayMs(2, 60)).toBe(10_000);
  });
  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('4')).toBe(4);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    const now = Date.parse('2026-01-03T21:15:00Z');
    expect(parseRetryAfter('Sat, 03 Jan 2026 21:15:07 GMT', now)).toBe(7);
  });
  it('refuses a base URL that is not http(s) and an empty token', () => {
    expect(() => new OptimizerClient({ baseUrl: 'ws://127.0.0.1:1', token: 't' })).toThrow(TypeError);
    expect(() => new OptimizerClient({ baseUrl: 'http://127.0.0.1:1', token: '' })).toThrow(TypeError);
  });
});

describe('with no relay listening', () => {
  it('retries three times with backoff, then fails with code network', async () => {
    // A port that was free a moment ago: connections are refused.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const client = new OptimizerClient({ baseUrl: `http://127.0.0.1:${port}`, token: 'tw_x' });
    const t0 = Date.now();
    const err = await client.activeTraces().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OptimizerError);
    expect((err as OptimizerError).code).toBe('network');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1750);
  });

  it('gives up waiting when its signal aborts', async () => {
    const client = new OptimizerClient({ baseUrl: 'http://127.0.0.1:9', token: 'tw_x', backoffMs: 60_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await client.activeTraces(ac.signal).catch((e: unknown) => e);
    expect((err as OptimizerError).code).toBe('closed');
  });
});

describe('against a real relay', () => {
  let t: TestRelay;
  let client: OptimizerClient;
  let traceId: string;
  let station: SimulatedStation;
  let streaming: Promise<void>;

  beforeAll(async () => {
    t = await startTestRelay();
    client = new OptimizerClient({ baseUrl: `${t.httpUrl}/`, token: t.relay.adminToken as string });
    station = new SimulatedStation({ url: t.wsUrl, audio: encodeAudio(sine(1000, -20, 1, 16000), 16000, 'pcm16'), stationKey: 'tone', durationS: 60 });
    traceId = (await station.connect()).trace_id;
    streaming = runStations([station]);
  });
  afterAll(async () => {
    station?.stop();
    await streaming;
    await t?.close();
  });

  it('lists the active trace, pulls a complete bucket and reads its segments', async () => {
    const active = await waitFor(async () => (await client.activeTraces()).find((a) => a.trace_id === traceId), 5000, 'the trace');
    expect(active.stations).toEqual(['tone']);
    const entries = await waitFor(async () => {
      const e = await client.snapshot({ trace_id: traceId, limit: 1 });
      return e.length > 0 ? e : undefined;
    }, 20_000, 'a complete bucket');
    const entry = entries[0];
    expect(entry.station_key).toBe('tone');
    expect(entry.knobs_snapshot['pcm.input_gain_db']).toBe(0);
    const post = await client.segment(entry.audio.POST.endpoint);
    expect(post.sampleRate).toBe(16000);
    expect(post.samples.length).toBeGreaterThan(0);
  }, 30_000);

  it('honours Retry-After when a snapshot comes too soon, and succeeds', async () => {
    await client.snapshot({ trace_id: traceId }).catch(() => undefined); // may itself wait out the previous test's pull
    const t0 = Date.now();
    await client.snapshot({ trace_id: traceId });
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(3000);
    expect(waited).toBeLessThan(8000);
  }, 30_000);

  it('does not retry a 4xx: unknown knob, late bucket, bad token', async () => {
    const apply = (over: Record<string, unknown>) =>
      client.applyKnobs({
        trace_id: traceId,
        station_key: 'tone',
        apply_at_bucket_ts: new Date((Math.floor(Date.now() / 5000) + 1) * 5000).toISOString(),
        idempotency_key: crypto.randomUUID(),
        source: 'test',
        reason: 'client test',
        knobs: { 'pcm.input_gain_db': 1 },
        ...over,
      });
    const unknown = (await apply({ knobs: { 'pcm.volume': 1 } }).catch((e: unknown) => e)) as ApiRequestError;
    expect(unknown).toBeInstanceOf(ApiRequestError);
    expect([unknown.status, unknown.code, unknown.attempts]).toEqual([400, 'unknown_knob', 1]);
    const late = (await apply({ apply_at_bucket_ts: new Date(Math.floor(Date.now() / 5000) * 5000).toISOString() }).catch((e: unknown) => e)) as ApiRequestError;
    expect([late.status, late.code, late.attempts]).toEqual([409, 'bucket_mismatch', 1]);
    const stranger = new OptimizerClient({ baseUrl: t.httpUrl, token: 'tw_not-a-token' });
    const denied = (await stranger.activeTraces().catch((e: unknown) => e)) as ApiRequestError;
    expect([denied.status, denied.code, denied.attempts]).toEqual([401, 'unauthorized', 1]);
  });

  it('applies knobs idempotently: the same key and body give the same answer', async () => {
    const body = {
      trace_id: traceId,
      station_key: 'tone',
      apply_at_bucket_ts: new Date((Math.floor(Date.now() / 5000) + 2) * 5000).toISOString(),
      idempotency_key: crypto.randomUUID(),
      source: 'test',
      reason: 'client test',
      knobs: { 'pcm.input_gain_db': 60 },
    };
    const first = await client.applyKnobs(body);
    expect(first.effective_knobs).toEqual({ 'pcm.input_gain_db': 40 });
    expect(await client.applyKnobs(body)).toEqual(first);
    const events = await client.events(traceId, 'tone');
    expect(events.filter((e) => e.reason === 'client test')).toHaveLength(1);
  });
});
