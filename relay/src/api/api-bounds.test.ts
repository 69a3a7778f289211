/**
 * The edges of the REST API that an attacker (or a buggy optimizer) reaches for: a knob
 * change scheduled years ahead, a nearer change after a far one, dates that do not exist,
 * and requests the framework or Node's parser refuse before any route runs. Each gets a
 * clear error in the envelope, and nothing already accepted is lost.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveRegistry } from '../live/live-registry.ts';
import { sine } from '../audio/signals.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { call as uploadCall, createBody } from '../testing/upload-client.ts';

const BUCKET_MS = 5000;
const AHEAD_MS = 60_000; // twelve buckets
let t: TestRelay;
let live: SimulatedStation;
let streaming: Promise<void>;
let traceId = '';
let stationKey = '';
let keySeq = 0;

const iso = (ms: number): string => new Date(ms).toISOString();
const inProgress = (): number => Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${t.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${t.relay.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

const apply = (applyAt: number | string, gainDb: number) =>
  api('POST', '/api/optimizer/knobs/apply', {
    trace_id: traceId,
    station_key: stationKey,
    apply_at_bucket_ts: typeof applyAt === 'string' ? applyAt : iso(applyAt),
    idempotency_key: `bounds-${process.pid}-${keySeq++}`,
    source: 'test',
    knobs: { 'pcm.input_gain_db': gainDb },
  });

beforeAll(async () => {
  t = await startTestRelay({ maxScheduleAheadMs: AHEAD_MS, applyOncePerBucket: false, bucketGraceMs: 200 });
  live = new SimulatedStation({ url: t.wsUrl, audio: encodeAudio(sine(440, -20, 5, 16000), 16000, 'pcm16'), durationS: 60 });
  const s = await live.connect();
  [traceId, stationKey] = [s.trace_id, s.station_key];
  streaming = runStations([live]);
  await waitFor(() => (LiveRegistry.isStreaming(t.relay.registry.find(traceId, stationKey)) ? true : undefined), 5000, 'the station to stream');
}, 60_000);

afterAll(async () => {
  live?.stop();
  await streaming;
  await t?.close();
});

describe('how far ahead a knob change may be scheduled', () => {
  it('refuses a bucket past the limit (year 9999 included) with 409 naming the latest it takes, and takes the latest', async () => {
    for (const at of ['9999-12-31T23:59:55.000Z', iso(inProgress() + AHEAD_MS + 2 * BUCKET_MS)]) {
      const r = await apply(at, -40);
      expect(r.status, at).toBe(409);
      expect(r.json).toEqual({ success: false, error: { code: 'bucket_mismatch', message: expect.stringMatching(/more than 60 s ahead .* the latest is \d{4}-/) } });
    }
    const latest = /the latest is (\S+)$/.exec((await apply(iso(inProgress() + AHEAD_MS + 2 * BUCKET_MS), 1)).json.error.message)![1];
    expect((await apply(latest, -40)).status).toBe(200);
  });

  it('lets a nearer change replace the ones pending for later buckets: the latest request wins', async () => {
    const far = await apply(inProgress() + 8 * BUCKET_MS, -30);
    expect(far.status).toBe(200);
    const nearAt = inProgress() + 2 * BUCKET_MS;
    const near = await apply(nearAt, 6);
    expect(near.status).toBe(200);
    const again = await apply(nearAt, 9); // the same bucket: replaces the near one too
    expect(again.status).toBe(200);
    expect(again.json.config_version).toBeGreaterThan(near.json.config_version);
    const events = (await api('GET', `/api/optimizer/events?trace_id=${traceId}&station_key=${stationKey}`)).json.events as { id: number; config_version: number; superseded_by: number | null; knobs_effective: Record<string, number> }[];
    const byVersion = (v: number) => events.find((e) => e.config_version === v)!;
    const againEvent = byVersion(again.json.config_version);
    expect(byVersion(near.json.config_version).superseded_by).toBe(againEvent.id);
    expect(byVersion(far.json.config_version).superseded_by).toBe(byVersion(near.json.config_version).id);
    expect(againEvent.superseded_by).toBeNull();
    // The bucket gets the latest change, built on the knobs in force before it (not on the far one's -30).
    // It starts up to two buckets from now and is written after it ends, its grace and the writer's spacing.
    const bucket = await waitFor(async () => {
      const snap = await fetch(`${t.httpUrl}/api/optimizer/snapshot?trace_id=${traceId}&limit=12`, { headers: { authorization: `Bearer ${t.relay.tokens.create(['read:snapshots']).token}` } });
      const b = ((await snap.json()) as { buckets?: { bucket_ts: string; knobs_snapshot: Record<string, number>; config_version: number }[] }).buckets?.find((x) => x.bucket_ts === iso(nearAt));
      return b;
    }, 3 * BUCKET_MS + 10_000, 'the bucket of the change');
    expect(bucket.knobs_snapshot['pcm.input_gain_db']).toBe(9);
    expect(bucket.config_version).toBe(again.json.config_version);
  }, 45_000);
});

describe('dates that do not exist', () => {
  it('are refused wherever a timestamp is taken, with 400', async () => {
    const bad = ['2026-02-30T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '2026-04-31T10:00:00.000Z'];
    for (const ts of bad) {
      expect((await api('GET', `/api/optimizer/snapshot?trace_id=${traceId}&since_bucket_ts=${ts}`)).status, ts).toBe(400);
      expect((await api('GET', `/api/audio/segment?trace_id=${traceId}&station_key=${stationKey}&tap=PRE&bucket_ts=${ts}`)).status, ts).toBe(400);
      const r = await apply(ts, 1);
      expect(r.status, ts).toBe(400);
      expect(r.json.error).toEqual({ code: 'invalid_request', message: expect.stringContaining('apply_at_bucket_ts') });
      const up = await uploadCall(t.httpUrl, t.relay.adminToken, 'PUT', `/api/uploads/dates-${keySeq++}`, { ...createBody(Date.now()), started_at: ts });
      expect(up.status, ts).toBe(400);
    }
  });
});

describe('requests refused before a route runs', () => {
  /** One raw request; the whole answer. */
  function raw(text: string): Promise<{ status: number; json: any }> {
    return new Promise((resolve) => {
      const socket = net.connect(Number(new URL(t.httpUrl).port), '127.0.0.1', () => socket.write(text));
      let out = '';
      socket.on('data', (d) => (out += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0), json: JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4) || 'null') }));
    });
  }

  it('answer in the envelope: headers too large, a malformed request line, an unsupported body type, broken JSON', async () => {
    const big = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big).toEqual({ status: 431, json: { success: false, error: { code: 'headers_too_large', message: expect.any(String) } } });
    const garbage = await raw('THIS IS NOT HTTP\r\n\r\n');
    expect(garbage).toEqual({ status: 400, json: { success: false, error: { code: 'invalid_request', message: expect.any(String) } } });
    const auth = `Authorization: Bearer ${t.relay.adminToken}\r\n`;
    const xml = await raw(`POST /api/optimizer/knobs/apply HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/xml\r\nContent-Length: 3\r\nConnection: close\r\n\r\n<a>`);
    expect(xml.status).toBe(415);
    expect(xml.json).toEqual({ success: false, error: { code: 'unsupported_media_type', message: expect.stringMatching(/application\/json/) } });
    const broken = await raw(`POST /api/optimizer/knobs/apply HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{"a":`);
    expect(broken.status).toBe(400);
    expect(broken.json).toEqual({ success: false, error: { code: 'invalid_request', message: expect.any(String) } });
  });
});
