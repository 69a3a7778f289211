/**
 * Live listening end to end (seed 002): a real relay on 127.0.0.1, real stations
 * streaming Opus from the simulator, real `ws` listeners on `/ws/listen`.
 *
 * The main relay streams `tone` (a 440 Hz sine at -12 dBFS peak, -15.01 dBFS RMS) for the
 * whole file; tests that stop a station, change its knobs or start it late have their own.
 * Its listen grace is 1.5 s and its egress linger 0.5 s, so that expiry and teardown are
 * seen within a test. Caps, the relay's shutdown and slow listeners have relays of their own
 * (listen-limits.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrame, sequenceDelta, timestampDeltaMs, CODEC_IDS } from '../../../protocol/frame.ts';
import type { RelayStatsResponse } from '../../../protocol/api.ts';
import type { StartedMessage } from '../../../protocol/ingest.ts';
import { BUCKET_MS } from '../../../protocol/metrics.ts';
import { measureRmsDbfs, sine } from '../audio/signals.ts';
import { encodeAudio, SimulatedStation, type EncodedAudio } from '../sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { skipWithout } from '../testing/tool-required.ts';
import { decodeWebm, hasFfmpeg, ListenClient } from './listen-client.ts';
import { EBML_ID, readCluster, readElements } from './webm-reader.ts';
import { streamLogId } from './listen-service.ts';
import { OPUS_PRE_SKIP_48K } from './webm-live-muxer.ts';
import { decodeFramedOpus } from '../testing/opus-packets.ts';

const RATE = 48000;
const TONE_PEAK_DBFS = -12;
const TONE_RMS_DBFS = TONE_PEAK_DBFS - 10 * Math.log10(2);
const CLUSTER_MS = 200;
const GRACE_MS = 1500;
const LINGER_MS = 500;
/** The relay's default: a joiner gets a second of clusters at once. */
const JOIN_BURST_MS = 1000;
/** 1 s of the tone: 440 whole cycles, so it loops without a click. */
const tone: EncodedAudio = encodeAudio(sine(440, TONE_PEAK_DBFS, 1, RATE), RATE, 'opus');

/** Stations streaming in real time from one timer until each is stopped or done. */
class Pump {
  private readonly stations = new Set<SimulatedStation>();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    for (const s of this.stations) if (!s.pump(now)) this.stations.delete(s);
  }, 5);

  async start(wsUrl: string, opts: { durationS?: number; label?: string; pump?: boolean } = {}): Promise<{ sim: SimulatedStation; started: StartedMessage }> {
    const sim = new SimulatedStation({ url: wsUrl, audio: tone, durationS: opts.durationS ?? 600, label: opts.label });
    const started = await sim.connect();
    if (opts.pump !== false) this.stations.add(sim);
    return { sim, started };
  }

  add(sim: SimulatedStation): void {
    this.stations.add(sim);
  }

  close(): void {
    clearInterval(this.timer);
    for (const s of this.stations) s.stop();
  }
}

let t: TestRelay;
let pump: Pump;
let main: { sim: SimulatedStation; started: StartedMessage };
const clients: ListenClient[] = [];

async function listen(query: string): Promise<ListenClient> {
  const c = await ListenClient.connect(t.httpUrl, query);
  clients.push(c);
  return c;
}

const mainQuery = (extra = ''): string => `stream_id=${main.started.stream_id}${extra}`;

/** `/metrics` as name{labels} -> value. */
async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`${t.httpUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

beforeAll(async () => {
  t = await startTestRelay({ listenClusterMs: CLUSTER_MS, listenGraceMs: GRACE_MS, listenEgressLingerMs: LINGER_MS });
  pump = new Pump();
  main = await pump.start(t.wsUrl, { label: 'tone' });
  // The station exists once its first audio arrived.
  await waitFor(() => (t.relay.registry.byStream(main.started.stream_id)?.handle ? true : undefined), 5000, 'the station to stream');
}, 60_000);

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
});

afterAll(async () => {
  pump?.close();
  await t?.close();
});

describe('GET /ws/listen, mode=mse', () => {
  it.skipIf(skipWithout('ffmpeg', hasFfmpeg))('sends stream_metadata, then the init segment, then whole consecutive clusters that decode to the tone', async () => {
    const c = await listen(mainQuery('&mode=mse'));
    await c.binaryCount(13);
    expect(c.received[0].text).toEqual({
      type: 'stream_metadata',
      codec: 'opus',
      container: 'webm',
      sampleRate: 48000,
      channels: 1,
      trace_id: main.started.trace_id,
      station_key: main.started.station_key,
      label: 'tone',
      tap: 'POST',
      mode: 'mse',
      bitrate: 32000,
      frame_ms: 20,
    });
    expect(c.texts.length).toBe(1);
    const [init, ...clusters] = c.binaries;
    expect(readElements(init).map((e) => e.id)).toEqual([EBML_ID.EBML, EBML_ID.Segment]);
    const starts = clusters.map((b) => readCluster(b).timestampMs);
    for (let i = 1; i < starts.length; i++) expect(starts[i] - starts[i - 1]).toBe(CLUSTER_MS);
    for (const b of clusters) expect(readCluster(b).blocks.length).toBe(CLUSTER_MS / 20);
    const audio = decodeWebm(Buffer.concat([init, ...clusters]));
    expect(audio.length).toBe((clusters.length * CLUSTER_MS * RATE) / 1000 - OPUS_PRE_SKIP_48K);
    expect(Math.abs(measureRmsDbfs(audio, 0.05 * RATE) - TONE_RMS_DBFS)).toBeLessThan(0.6);
  });

  it('gives two listeners byte-identical init segments and clusters, from one encoder', async () => {
    const before = t.relay.listen.egressStreamCount;
    const a = await listen(mainQuery());
    await a.binaryCount(3);
    const b = await listen(mainQuery());
    const p = await listen(mainQuery('&mode=packets'));
    await b.binaryCount(6);
    await a.binaryCount(8);
    // mse and packets listeners of one tap share its encoder.
    expect(t.relay.listen.egressStreamCount).toBe(Math.max(before, 1));
    expect(p.binaries.length).toBeGreaterThan(0);
    expect(a.binaries[0].equals(b.binaries[0])).toBe(true);
    const byStart = new Map(a.binaries.slice(1).map((x) => [readCluster(x).timestampMs, x]));
    let common = 0;
    for (const x of b.binaries.slice(1)) {
      const same = byStart.get(readCluster(x).timestampMs);
      if (same === undefined) continue;
      common++;
      expect(same.equals(x)).toBe(true);
      // Shared, not copied per listener: the same bytes, a single serialization.
    }
    expect(common).toBeGreaterThanOrEqual(4);
  });

  it('joins late with the init segment and the newest second of clusters (the join burst), no older history', async () => {
    const a = await listen(mainQuery());
    await a.binaryCount(1 + 8);
    const b = await listen(mainQuery());
    const burstClusters = JOIN_BURST_MS / CLUSTER_MS;
    const burst = (await b.binaryCount(1 + burstClusters)).slice(1, 1 + burstClusters).map((x) => readCluster(x).timestampMs);
    for (let i = 1; i < burst.length; i++) expect(burst[i] - burst[i - 1]).toBe(CLUSTER_MS);
    // The burst is the clusters A had last when B joined: a second of them, not A's first.
    const ofA = a.binaries.slice(1).map((x) => readCluster(x).timestampMs);
    expect(ofA).toContain(burst[burst.length - 1]);
    expect(burst[0]).toBeGreaterThan(ofA[0]);
  });

  it('with burst=none (a player reconnecting with audio buffered): the init segment, then the next cluster only', async () => {
    const a = await listen(mainQuery());
    await a.binaryCount(1 + 6);
    const seen = a.binaries.length;
    const b = await listen(mainQuery('&burst=none'));
    await b.binaryCount(2);
    expect(readElements(b.binaries[0]).map((e) => e.id)).toContain(EBML_ID.EBML);
    // B's first cluster is one A gets after B joined: none of the ones A already had.
    const firstOfB = readCluster(b.binaries[1]).timestampMs;
    const hadByA = a.binaries.slice(1, seen).map((x) => readCluster(x).timestampMs);
    expect(firstOfB).toBeGreaterThan(Math.max(...hadByA));
  });
});

describe('GET /ws/listen, mode=packets', () => {
  it('sends each Opus packet behind the 8-byte header: consecutive sequences, 20 ms steps, codec opus, flags 0; the tone decodes', async () => {
    const c = await listen(mainQuery('&mode=packets'));
    await c.binaryCount(60);
    expect(c.received[0].text).toMatchObject({ type: 'stream_metadata', container: 'none', mode: 'packets', tap: 'POST' });
    const frames = c.binaries.slice(0, 60);
    const headers = frames.map((f) => {
      const d = decodeFrame(f);
      if (!d.ok) throw new Error(d.message);
      return d.header;
    });
    for (const h of headers) expect([h.codec, h.flags]).toEqual([CODEC_IDS.opus, 0]);
    for (let i = 1; i < headers.length; i++) {
      expect(sequenceDelta(headers[i - 1].sequence, headers[i].sequence)).toBe(1);
      expect(timestampDeltaMs(headers[i - 1].timestampMs, headers[i].timestampMs)).toBe(20);
    }
    // The relay's media time: epoch ms modulo 2^32, close to now.
    expect(Math.abs(timestampDeltaMs(headers[59].timestampMs, Date.now() % 2 ** 32))).toBeLessThan(3000);
    const audio = decodeFramedOpus(frames);
    expect(Math.abs(measureRmsDbfs(audio, 3 * 960) - TONE_RMS_DBFS)).toBeLessThan(0.6);
  });
});

describe('taps', () => {
  it('gives PRE before the knob chain and POST after it (-12 dB of gain), each from its own encoder', async () => {
    const g = await pump.start(t.wsUrl, { label: 'gain' });
    await waitFor(() => (t.relay.registry.byStream(g.started.stream_id)?.handle ? true : undefined), 5000, 'the station to stream');
    const applyAt = Math.ceil((Date.now() + 1500) / BUCKET_MS) * BUCKET_MS;
    const r = await t.relay.scheduleKnobs({
      traceId: g.started.trace_id,
      stationKey: g.started.station_key,
      applyAtBucketTs: applyAt,
      knobs: { 'pcm.input_gain_db': -12 },
      source: 'test',
      reason: 'PRE and POST differ',
      idempotencyKey: null,
      requestHash: null,
    });
    expect(r.ok).toBe(true);
    await sleep(applyAt + 300 - Date.now());
    const before = t.relay.listen.egressStreamCount;
    const pre = await listen(`stream_id=${g.started.stream_id}&tap=PRE&mode=packets`);
    const post = await listen(`stream_id=${g.started.stream_id}&tap=POST&mode=packets`);
    await Promise.all([pre.binaryCount(40), post.binaryCount(40)]);
    expect(t.relay.listen.egressStreamCount).toBe(before + 2);
    const preDb = measureRmsDbfs(decodeFramedOpus(pre.binaries.slice(0, 40)), 3 * 960);
    const postDb = measureRmsDbfs(decodeFramedOpus(post.binaries.slice(0, 40)), 3 * 960);
    expect(Math.abs(preDb - TONE_RMS_DBFS)).toBeLessThan(0.6);
    expect(Math.abs(postDb - preDb - -12)).toBeLessThan(0.6);
    g.sim.stop();
  }, 30_000);
});

describe('pause and resume', () => {
  it('mse: nothing while paused; on resume, clusters from the live edge without the init segment again', async () => {
    const c = await listen(mainQuery());
    await c.binaryCount(3);
    c.send({ type: 'pause_request' });
    await sleep(150); // what was in flight
    const paused = c.binaries.length;
    const lastBefore = readCluster(c.binaries[paused - 1]).timestampMs;
    await sleep(1000);
    expect(c.binaries.length).toBe(paused);
    c.send({ type: 'resume_request' });
    await c.binaryCount(paused + 2);
    const next = c.binaries[paused];
    expect(readElements(next)[0].id).toBe(EBML_ID.Cluster);
    // The timeline jumps over what was not sent.
    expect(readCluster(next).timestampMs - lastBefore).toBeGreaterThanOrEqual(1000);
    expect(readCluster(c.binaries[paused + 1]).timestampMs - readCluster(next).timestampMs).toBe(CLUSTER_MS);
  });

  it('packets: nothing while paused; on resume, the live packet', async () => {
    const c = await listen(mainQuery('&mode=packets'));
    await c.binaryCount(5);
    c.send({ type: 'pause_request' });
    await sleep(100);
    const paused = c.binaries.length;
    await sleep(600);
    expect(c.binaries.length).toBe(paused);
    c.send({ type: 'resume_request' });
    await c.binaryCount(paused + 1);
    const seq = (b: Buffer): number => (decodeFrame(b) as { header: { sequence: number } }).header.sequence;
    expect(sequenceDelta(seq(c.binaries[paused - 1]), seq(c.binaries[paused]))).toBeGreaterThanOrEqual(30);
  });
});

describe('the stream id', () => {
  it('ends listeners with stream_end and 1000 when the station stops; within the grace a joiner is told the same; after it, 4404', async () => {
    const s = await pump.start(t.wsUrl, { label: 'short' });
    const id = s.started.stream_id;
    const a = await listen(`stream_id=${id}`);
    const b = await listen(`stream_id=${id}&mode=packets&tap=PRE`);
    await Promise.all([a.binaryCount(2), b.binaryCount(2)]);
    s.sim.stop();
    for (const c of [a, b]) {
      expect(await c.closed).toEqual({ code: 1000, reason: 'station stopped' });
      expect(c.texts.at(-1)).toEqual({ type: 'stream_end', reason: 'station stopped' });
    }
    const late = await listen(`stream_id=${id}`);
    expect(await late.closed).toEqual({ code: 1000, reason: 'station stopped' });
    expect(late.texts.map((m) => m.type)).toEqual(['stream_metadata', 'stream_end']);
    expect(late.binaries.length).toBe(0);

    await sleep(GRACE_MS + 100);
    const expired = await listen(`stream_id=${id}`);
    const never = await listen(`stream_id=${randomBytes(16).toString('base64url')}`);
    for (const c of [expired, never]) {
      expect((await c.closed).code).toBe(4404);
      expect(c.texts).toEqual([{ type: 'error', code: 'not_found', message: expect.any(String) }]);
    }
    // Nothing tells an expired id from one never issued.
    expect(expired.texts).toEqual(never.texts);
    expect(expired.close?.reason).toBe(never.close?.reason);
    expect(JSON.stringify(expired.texts)).not.toContain(id);
  });

  it('lets a listener wait for a station that has started but sent no audio yet', async () => {
    const s = await pump.start(t.wsUrl, { label: 'late', pump: false });
    const c = await listen(`stream_id=${s.started.stream_id}`);
    await sleep(500);
    expect(c.texts.map((m) => m.type)).toEqual(['stream_metadata']);
    expect(c.binaries.length).toBe(0);
    pump.add(s.sim);
    await c.binaryCount(3);
    expect(readElements(c.binaries[0])[0].id).toBe(EBML_ID.EBML);
    s.sim.stop();
    expect((await c.closed).code).toBe(1000);
  });
});

describe('a bad query', () => {
  it.each([
    ['tap=LEFT', /^tap must be "POST" or "PRE"/],
    ['burst=all', /^burst must be "default" or "none"/],
    ['mode=hls', /^mode must be "mse" or "packets"/],
    ['tap=PRE&tap=POST', /^tap must be/],
    ['', /^stream_id is missing/],
  ])('%s: error bad_query, then 1008', async (extra, message) => {
    const c = await listen(extra === '' ? extra : mainQuery(`&${extra}`));
    const { code } = await c.closed;
    expect(code).toBe(1008);
    expect(c.texts).toEqual([{ type: 'error', code: 'bad_query', message: expect.stringMatching(message) }]);
  });

  it('answers a plain GET with 426 upgrade_required', async () => {
    const r = await fetch(`${t.httpUrl}/ws/listen?${mainQuery()}`);
    expect(r.status).toBe(426);
    expect(await r.json()).toMatchObject({ success: false, error: { code: 'upgrade_required' } });
  });
});

describe("a listener's messages", () => {
  it('answers bad ones with an error and keeps streaming; counts the players\' stalls and decode errors', async () => {
    const m0 = await scrape();
    const c = await listen(mainQuery('&mode=packets'));
    await c.binaryCount(2);
    c.send('not json');
    c.send({ type: 'stop' } as never);
    c.send('{"type":"client_metrics","stalls":-1}');
    c.ws.send(Buffer.from([1, 2, 3]));
    c.send({ type: 'client_metrics', stalls: 2, decode_errors: 1, buffer_s: 2.5 });
    c.send({ type: 'client_metrics', stalls: 5 });
    await waitFor(() => (c.texts.filter((m) => m.type === 'error').length >= 4 ? true : undefined), 5000, 'four errors');
    expect(c.texts.filter((m) => m.type === 'error').map((m) => (m as { code: string }).code)).toEqual(['bad_json', 'unknown_type', 'bad_message', 'bad_message']);
    const n = c.binaries.length;
    await c.binaryCount(n + 5);
    expect(c.close).toBeNull();
    const m1 = await scrape();
    expect((m1.get('tapwire_listener_client_stalls_total') ?? 0) - (m0.get('tapwire_listener_client_stalls_total') ?? 0)).toBe(5);
    expect((m1.get('tapwire_listener_client_decode_errors_total') ?? 0) - (m0.get('tapwire_listener_client_decode_errors_total') ?? 0)).toBe(1);
  });

  it('closes 1008 after too many invalid messages, and 1009 for one over the size limit', async () => {
    const a = await listen(mainQuery('&mode=packets'));
    for (let i = 0; i < 11; i++) a.send('{');
    expect((await a.closed).code).toBe(1008);
    expect(a.texts.at(-1)).toMatchObject({ type: 'error', code: 'too_many_invalid' });
    const b = await listen(mainQuery('&mode=packets'));
    b.send(JSON.stringify({ type: 'client_metrics', pad: 'x'.repeat(5000) }));
    expect((await b.closed).code).toBe(1009);
    expect(b.texts.at(-1)).toMatchObject({ type: 'error', code: 'message_too_big' });
  });
});

describe('metrics', () => {
  it('count listeners by mode, bytes, joins and disconnects; the egress stops a linger after the last listener', async () => {
    await waitFor(() => (t.relay.listen.listenerCount === 0 ? true : undefined), 5000, 'no listener left');
    const m0 = await scrape();
    const a = await listen(mainQuery());
    const b = await listen(mainQuery());
    const p = await listen(mainQuery('&mode=packets'));
    await Promise.all([a.binaryCount(4), b.binaryCount(4), p.binaryCount(20)]);
    const m1 = await scrape();
    expect(m1.get('tapwire_listeners{mode="mse"}')).toBe(2);
    expect(m1.get('tapwire_listeners{mode="packets"}')).toBe(1);
    expect(m1.get('tapwire_listen_egress_streams')).toBeGreaterThanOrEqual(1);
    const received = [a, b, p].reduce((n, c) => n + c.binaries.reduce((k, x) => k + x.length, 0), 0);
    const sent = (m1.get('tapwire_listener_bytes_sent_total') ?? 0) - (m0.get('tapwire_listener_bytes_sent_total') ?? 0);
    expect(sent).toBeGreaterThanOrEqual(received);
    expect((m1.get('tapwire_listener_joins_total{mode="mse"}') ?? 0) - (m0.get('tapwire_listener_joins_total{mode="mse"}') ?? 0)).toBe(2);
    expect(m1.get('tapwire_listener_time_to_first_byte_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(m1.get('tapwire_listen_ingest_to_send_seconds_count{mode="packets"}')).toBeGreaterThan(0);
    expect(m1.get('tapwire_listen_ingest_to_send_seconds_count{mode="mse"}')).toBeGreaterThan(0);

    // The same per stream, in /api/relay/stats (named by the hash the logs use, not by its id).
    const stats = (await (await fetch(`${t.httpUrl}/api/relay/stats`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } })).json()) as RelayStatsResponse;
    const mine = stats.listen_streams.find((x) => x.stream === streamLogId(main.started.stream_id));
    expect(mine).toMatchObject({ kind: 'station', trace_id: main.started.trace_id, station_key: main.started.station_key, listeners: { mse: 2, packets: 1 } });
    expect(mine!.bytes_sent).toBeGreaterThanOrEqual(received);
    expect(mine!.encoders).toEqual([{ tap: 'POST', packets: expect.any(Number), restarts: 0 }]);
    expect(mine!.ingest_to_send_ms.packets.count).toBeGreaterThan(0);
    expect(mine!.ingest_to_send_ms.packets.p99).toBeLessThan(50);
    expect(JSON.stringify(stats)).not.toContain(main.started.stream_id);

    for (const c of [a, b, p]) c.ws.close(1000);
    await Promise.all([a.closed, b.closed, p.closed]);
    await waitFor(async () => ((await scrape()).get('tapwire_listen_egress_streams') === 0 ? true : undefined), LINGER_MS + 5000, 'the egress to stop');
    const m2 = await scrape();
    expect(m2.get('tapwire_listeners{mode="mse"}')).toBe(0);
    expect((m2.get('tapwire_listener_disconnects_total{reason="client_closed"}') ?? 0) - (m0.get('tapwire_listener_disconnects_total{reason="client_closed"}') ?? 0)).toBe(3);
    // Once nobody listens and the encoder has stopped, the stream leaves the stats.
    const after = (await (await fetch(`${t.httpUrl}/api/relay/stats`, { headers: { authorization: `Bearer ${t.relay.adminToken}` } })).json()) as RelayStatsResponse;
    expect(after.listen_streams.find((x) => x.stream === streamLogId(main.started.stream_id))).toBeUndefined();
  });
});
