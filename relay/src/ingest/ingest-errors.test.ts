/**
 * Bad input on the ingest WebSocket, and backpressure: each gets a clear `error` or
 * `status` message and the right close code, on a real relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import type { IngestServerMessage } from '../../../protocol/ingest.ts';
import { sine } from '../audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { connectIngest, PCM16_START, type IngestClient } from '../testing/ingest-client.ts';

let t: TestRelay;

beforeAll(async () => {
  t = await startTestRelay();
});
afterAll(async () => {
  await t?.close();
});

const connect = (): Promise<IngestClient> => connectIngest(t.wsUrl);

const START = PCM16_START;

describe('a start that is missing or wrong', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['no codec', { ...START, codec: undefined }, 'codec'],
    ['an unknown codec', { ...START, codec: 'mp3' }, 'codec'],
    ['a rate out of range', { ...START, sample_rate: 96000 }, 'sample_rate'],
    ['a rate Opus cannot decode', { ...START, codec: 'opus', sample_rate: 44100 }, 'sample_rate'],
    ['two channels', { ...START, channels: 2 }, 'channels'],
    ['a bad frame_ms', { ...START, frame_ms: 25 }, 'frame_ms'],
    ['a malformed trace_id', { ...START, trace_id: 'no spaces allowed' }, 'trace_id'],
    ['an unknown trace_id', { ...START, trace_id: 'trace_doesnotexist' }, 'trace_id'],
  ];
  for (const [what, msg, field] of cases) {
    it(`${what}: error naming ${field}, then close 1008`, async () => {
      const c = await connect();
      c.ws.send(JSON.stringify(msg));
      const { code } = await c.closed;
      expect(code).toBe(1008);
      expect(c.messages).toEqual([expect.objectContaining({ type: 'error', field, code: 'bad_start' })]);
      expect((c.messages[0] as { message: string }).message.length).toBeGreaterThan(10);
    });
  }

  it('a station_key already used in the trace: 1008 naming station_key', async () => {
    const a = await connect();
    a.ws.send(JSON.stringify({ ...START, station_key: 'desk' }));
    const started = (await a.next('started')) as Extract<IngestServerMessage, { type: 'started' }>;
    const b = await connect();
    b.ws.send(JSON.stringify({ ...START, trace_id: started.trace_id, station_key: 'desk' }));
    expect((await b.closed).code).toBe(1008);
    expect(b.messages[0]).toMatchObject({ type: 'error', field: 'station_key' });
    a.ws.close();
  });
});

describe('bad messages after start are reported and the connection goes on', () => {
  it('binary before start, unknown types, bad JSON, bad base64, a second start', async () => {
    const c = await connect();
    c.ws.send(encodeFrame({ timestampMs: 0, sequence: 0, codec: CODEC_IDS.pcm16, flags: 0 }, new Uint8Array(1920)));
    await waitFor(() => c.messages.find((m) => m.type === 'error' && m.code === 'not_started'), 5000);
    c.ws.send(JSON.stringify(START));
    const started = (await c.next('started')) as Extract<IngestServerMessage, { type: 'started' }>;
    c.ws.send(JSON.stringify({ type: 'dance' }));
    c.ws.send('{not json');
    c.ws.send(JSON.stringify({ type: 'audio', data: '!!!not base64!!!' }));
    c.ws.send(JSON.stringify({ type: 'audio', data: 'AAA', source: 'x' }));
    c.ws.send(JSON.stringify(START));
    c.ws.send(new Uint8Array([0, 0, 0]));
    // A header naming codec 99 (encodeFrame refuses to build one, so by hand).
    c.ws.send(new Uint8Array([0, 0, 0, 0, 0, 0, 99, 0, 1, 2, 3, 4]));
    const codes = await waitFor(() => {
      const got = c.messages.filter((m) => m.type === 'error').map((m) => (m as { code: string }).code);
      return got.length >= 8 ? got : undefined;
    }, 5000);
    expect(codes).toEqual(['not_started', 'unknown_type', 'bad_json', 'bad_base64', 'bad_base64', 'already_started', 'frame_too_short', 'unknown_codec']);
    // Still open, and audio still flows into the station.
    c.ws.send(encodeFrame({ timestampMs: 0, sequence: 0, codec: CODEC_IDS.pcm16, flags: 0 }, new Uint8Array(1920)));
    await waitFor(() => (t.relay.store.getStation(started.trace_id, started.station_key) ? true : undefined), 5000, 'station stored');
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect(t.relay.counters.protocolErrors).toBeGreaterThanOrEqual(7);
    c.ws.send(JSON.stringify({ type: 'stop' }));
    const closed = await c.closed;
    expect(closed.code).toBe(1000);
    expect(c.messages.at(-1)).toEqual({ type: 'stopped', trace_id: started.trace_id, station_keys: [started.station_key] });
  });

  it('an odd-length PCM16 payload is a decode error for that frame only', async () => {
    const c = await connect();
    c.ws.send(JSON.stringify(START));
    await c.next('started');
    c.ws.send(encodeFrame({ timestampMs: 0, sequence: 0, codec: CODEC_IDS.pcm16, flags: 0 }, new Uint8Array(1921)));
    const err = await waitFor(() => c.messages.find((m) => m.type === 'error'), 5000);
    expect(err).toMatchObject({ type: 'error', code: 'bad_payload_length' });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it('a frame whose codec differs from the start is reported', async () => {
    const c = await connect();
    c.ws.send(JSON.stringify(START));
    await c.next('started');
    c.ws.send(encodeFrame({ timestampMs: 0, sequence: 0, codec: CODEC_IDS.pcmu, flags: 0 }, new Uint8Array(160)));
    const err = await waitFor(() => c.messages.find((m) => m.type === 'error'), 5000);
    expect(err).toMatchObject({ type: 'error', code: 'codec_mismatch' });
    c.ws.close();
  });
});

describe('joining a trace', () => {
  it('a second field tester with the trace_id becomes another station of that trace', async () => {
    const audio = encodeAudio(sine(500, -20, 1, 48000), 48000, 'opus');
    const a = new SimulatedStation({ url: t.wsUrl, audio, label: 'alice', durationS: 1 });
    const first = await a.connect();
    const b = new SimulatedStation({ url: t.wsUrl, audio, label: 'bob', traceId: first.trace_id, durationS: 1 });
    const second = await b.connect();
    expect(second.trace_id).toBe(first.trace_id);
    expect(second.station_key).not.toBe(first.station_key);
    expect(second.stream_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(second.stream_id).not.toBe(first.stream_id);
    expect(second.bucket_ms).toBe(5000);
    await runStations([a, b]);
    const stored = t.relay.store.listStations(first.trace_id);
    expect(stored.map((s) => s.label)).toEqual(['alice', 'bob']);
  });
});

describe('backpressure', () => {
  it('a sender faster than real time loses its oldest frames, is told so, then told ok', async () => {
    const audio = encodeAudio(sine(1000, -20, 2, 48000), 48000, 'pcm16');
    // 4x real time for 3 s: 12 s of audio in 3 s of wall time (the audio would last 60 s).
    const fast = new SimulatedStation({ url: t.wsUrl, audio, label: 'fast', speed: 4, durationS: 60 });
    const started = await fast.connect();
    const t0 = performance.now();
    while (performance.now() - t0 < 3000) {
      fast.pump(performance.now());
      await sleep(5);
    }
    const bp = await waitFor(() => fast.statusMessages().find((m) => m.state === 'backpressure'), 3000, 'backpressure status');
    expect(bp.station_key).toBe(started.station_key);
    expect(bp.dropped_frames).toBeGreaterThan(0);
    expect(bp.queue_depth).toBeGreaterThanOrEqual(45); // full (48), less what the playout clock took since
    // Stop sending: the queue drains at the media rate and the relay says ok.
    const ok = await waitFor(() => fast.statusMessages().find((m) => m.state === "ok"), 5000, "ok status " + JSON.stringify(fast.messages));
    expect(ok.dropped_frames).toBeGreaterThanOrEqual(bp.dropped_frames);
    // Status messages are rate-limited: at most about one per second.
    expect(fast.statusMessages().length).toBeLessThanOrEqual(8);
    // 12 s of audio offered in 3 s: about 3 s + the queue (0.96 s) + the allowance could be played.
    type Stats = { stations: { station_key: string; frames_dropped: number; frames_received: number }[] };
    const mine = await waitFor(() => {
      const s = (t.relay.stats() as Stats).stations.find((x) => x.station_key === started.station_key);
      return s && s.frames_received === fast.framesSent ? s : undefined;
    }, 5000, 'station counters');
    expect(mine.frames_dropped).toBeGreaterThan(300);
    expect(mine.frames_dropped).toBeLessThan(450);
    fast.terminate();
  });
});
