/**
 * The wire contract, checked against what a real relay sends. The relay's own OpenAPI
 * document (`GET /api/openapi.json`, generated from protocol/'s schemas) must be a valid
 * OpenAPI 3.1 document; then every operation in it is called, with real stations streaming
 * and a real upload, for success and for errors, and every answer must have a status the
 * operation declares and a body its schema for that status accepts. Object schemas are
 * checked closed here (a field the relay sends must be declared), although clients are told
 * to ignore fields they do not know. The live meters (`GET /measurements` and the
 * `measurement` and `spectrum` messages of `/ws/telemetry`) are checked against the same
 * document's schemas.
 *
 * The operations are taken from the document, and the document is compared with the routes
 * the relay registers: a new route without cases here, or without schemas, fails this test.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ERROR_STATUS } from '../../../protocol/errors.ts';
import type { SnapshotEntry } from '../../../protocol/optimizer-api.ts';
import { UPLOAD_FRAME_MS } from '../../../protocol/upload.ts';
import { measureRmsDbfs, sine } from '../audio/signals.ts';
import { readWav } from '../audio/wav.ts';
import type { Scope } from '../auth/scopes.ts';
import { encodeAudio, runStations, SimulatedStation } from '../sim/simulator.ts';
import { sleep, startTestRelay, waitFor, type TestRelay } from '../testing/harness.ts';
import { call, chunkOf, createBody, opusTone, type Res } from '../testing/upload-client.ts';

const SNAPSHOT_INTERVAL_MS = 2000;
const RATE = 48000;
const STATION = 'contract-tone';

let t: TestRelay;
let station: SimulatedStation;
let streaming: Promise<void> = Promise.resolve();
let traceId = '';
let entry: SnapshotEntry;
// The OpenAPI document, read as JSON.
let doc: any;

const token = (...scopes: Scope[]): string => t.relay.tokens.create(scopes, 'contract.test').token;
const admin = (): string => t.relay.adminToken as string;
const get = (path: string, tok: string | null = admin(), headers: Record<string, string> = {}): Promise<Res> => request('GET', path, tok, undefined, headers);

/** One call; JSON bodies as JSON, bytes as octet-stream, a string as the raw body of `headers`' type. */
async function request(method: string, path: string, tok: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  if (typeof body !== 'string' && Object.keys(headers).length === 0) return call(t.httpUrl, tok, method, path, body);
  const h: Record<string, string> = { ...headers };
  if (tok !== null) h.authorization = `Bearer ${tok}`;
  const r = await fetch(`${t.httpUrl}${path}`, { method, headers: h, body: body as string | undefined });
  const buf = Buffer.from(await r.arrayBuffer());
  const json = (r.headers.get('content-type') ?? '').includes('json') ? JSON.parse(buf.toString('utf8')) : undefined;
  return { status: r.status, headers: r.headers, body: buf, json };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const nextBucket = (ahead = 1): number => (Math.floor(Date.now() / 5000) + ahead) * 5000;

/**
 * The calls made for each operation of the document, keyed `METHOD /path` as the document
 * writes it. Each must include a success and an error answer (the health check excepted: a
 * client cannot make it fail).
 */
const CASES: Record<string, () => Promise<Res[]>> = {
  'GET /healthz': async () => [await get('/healthz', null)],

  'GET /measurements': async () => [
    await get('/measurements', null),
    await get(`/measurements?trace_id=${traceId}`, null),
    // A parameter given twice is an array, not a trace id.
    await get('/measurements?trace_id=a&trace_id=b', null),
  ],

  'GET /api/optimizer/knobs': async () => [await get('/api/optimizer/knobs'), await get('/api/optimizer/knobs', null)],

  'GET /api/traces/active': async () => [await get('/api/traces/active'), await get('/api/traces/active', token('ingest')), await get('/api/traces/active', 'tw_unknown')],

  'GET /api/optimizer/snapshot': async () => {
    const mine = token('read:snapshots');
    const ok = await get(`/api/optimizer/snapshot?trace_id=${traceId}`, mine);
    const limited = await get(`/api/optimizer/snapshot?trace_id=${traceId}`, mine);
    // Seed 000 §8's limit, as configured: the message says the interval in force.
    expect(limited.json?.error?.message).toMatch(/every 2 s/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    return [
      ok,
      limited,
      await get(`/api/optimizer/snapshot?trace_id=${traceId}&limit=100&since_bucket_ts=${iso(Date.parse(entry.bucket_ts) - 60_000)}`, token('read:snapshots')),
      await get('/api/optimizer/snapshot', token('read:snapshots')),
      await get(`/api/optimizer/snapshot?trace_id=${traceId}&limit=101`, token('read:snapshots')),
      await get('/api/optimizer/snapshot?trace_id=trace_nothere', token('read:snapshots')),
      await get(`/api/optimizer/snapshot?trace_id=${traceId}`, token('read:audio')),
    ];
  },

  'GET /api/audio/segment': async () => {
    const endpoint = entry.audio.PRE.endpoint;
    const own = await get(endpoint);
    const resampled = await get(`${endpoint}&rate=16000`);
    const header = await get(`${endpoint}&rate=16000`, admin(), { range: 'bytes=0-43' });
    const tail = await get(`${endpoint}&rate=8000`, admin(), { range: 'bytes=-100' });
    const outside = await get(`${endpoint}&rate=16000`, admin(), { range: `bytes=${resampled.body.length}-` });
    return [
      own,
      resampled,
      header,
      tail,
      outside,
      await get(`${endpoint}&rate=44100`),
      await get(endpoint.replace('tap=PRE', 'tap=MID')),
      await get(endpoint.replace(/bucket_ts=[^&]+/, 'bucket_ts=2020-01-01T00:00:00.000Z')),
      await get(endpoint.replace(/trace_id=[^&]+/, 'trace_id=trace_nothere')),
      await get(endpoint, token('read:snapshots')),
    ];
  },

  'GET /api/audio/export': async () => {
    const range = `trace_id=${traceId}&station_key=${STATION}&from=${iso(Date.parse(entry.bucket_ts) - 1000)}&to=${iso(Date.parse(entry.bucket_ts) + 5000)}`;
    return [
      await get(`/api/audio/export?${range}&tap=PRE&format=wav`),
      await get(`/api/audio/export?${range}&tap=PRE&format=ogg&bitrate=32000`),
      await get(`/api/audio/export?${range}&tap=POST&format=webm&bitrate=48000`),
      await get(`/api/audio/export?${range.replace(`station_key=${STATION}&`, '')}&tap=POST&format=webm`),
      await get(`/api/audio/export?${range}&tap=PRE&format=mp3`),
      await get(`/api/audio/export?${range}&tap=PRE&format=ogg&bitrate=1000000`),
      await get(`/api/audio/export?${range.replace(`trace_id=${traceId}`, 'trace_id=trace_nothere')}&tap=POST`),
      await get(`/api/audio/export?${range.replace(`station_key=${STATION}`, 'station_key=nobody')}&tap=POST`),
      await get(`/api/audio/export?${range}&tap=PRE`, token('read:snapshots')),
    ];
  },

  'GET /api/audio/export/sidecar': async () => {
    const range = `trace_id=${traceId}&station_key=${STATION}&from=${iso(Date.parse(entry.bucket_ts) - 1000)}&to=${iso(Date.parse(entry.bucket_ts) + 5000)}`;
    return [
      await get(`/api/audio/export/sidecar?${range}`, token('read:snapshots')),
      await get(`/api/audio/export/sidecar?${range.replace(`station_key=${STATION}&`, '')}`, token('read:snapshots')),
      await get(`/api/audio/export/sidecar?${range.replace(/from=[^&]+/, 'from=soon')}`),
      await get(`/api/audio/export/sidecar?${range.replace(`station_key=${STATION}`, 'station_key=nobody')}`),
      await get(`/api/audio/export/sidecar?${range}`, null),
    ];
  },

  'POST /api/optimizer/knobs/apply': async () => {
    const body = {
      trace_id: traceId,
      station_key: STATION,
      apply_at_bucket_ts: iso(nextBucket(2)),
      idempotency_key: `contract-${Date.now()}`,
      source: 'contract.test',
      reason: 'a change to verify',
      knobs: { 'pcm.input_gain_db': -3, 'limiter.enabled': true },
    };
    const tok = token('write:knobs');
    const post = (b: unknown, headers: Record<string, string> = {}): Promise<Res> =>
      typeof b === 'string' ? request('POST', '/api/optimizer/knobs/apply', tok, b, headers) : request('POST', '/api/optimizer/knobs/apply', tok, b);
    return [
      await post({ ...body, idempotency_key: `${body.idempotency_key}-unknown`, knobs: { 'eq.bass_db': 3 } }),
      await post({ ...body, idempotency_key: `${body.idempotency_key}-late`, apply_at_bucket_ts: iso(nextBucket(0) - 5000) }),
      await post({ ...body, idempotency_key: `${body.idempotency_key}-nowhere`, trace_id: 'trace_nothere' }),
      await post({ ...body, knobs: { 'pcm.input_gain_db': '6' } }),
      await post('<knobs/>', { 'content-type': 'application/xml' }),
      await post(body),
      await post(body), // the same key and body: the first answer again
      await post({ ...body, idempotency_key: `${body.idempotency_key}-again`, apply_at_bucket_ts: iso(nextBucket(3)) }), // one per station per bucket
      await post({ ...body, reason: 'another reason' }), // the same key, another body
    ];
  },

  'GET /api/optimizer/events': async () => [
    await get(`/api/optimizer/events?trace_id=${traceId}`),
    await get(`/api/optimizer/events?trace_id=${traceId}&station_key=${STATION}&after_id=0&limit=10`),
    await get('/api/optimizer/events?trace_id=trace_nothere'),
    await get(`/api/optimizer/events?trace_id=${traceId}&limit=0`),
  ],

  'GET /api/traces/{trace_id}': async () => [
    await get(`/api/traces/${traceId}`),
    await get(`/api/traces/${(await get('/api/uploads/contract-upload')).json.trace_id}`),
    await get('/api/traces/trace_nothere'),
    await get(`/api/traces/${'x'.repeat(200)}`),
  ],

  'GET /api/traces': async () => {
    const first = await get('/api/traces?limit=1');
    return [
      first,
      await get(`/api/traces?limit=1&cursor=${first.json.next_cursor}`),
      await get('/api/traces?kind=recorded&label=contract&active=false&from=2020-01-01T00:00:00.000Z&to=2100-01-01T00:00:00.000Z'),
      await get('/api/traces?limit=0'),
      await get('/api/traces?cursor=nonsense'),
      await get('/api/traces', token('ingest')),
    ];
  },

  'PUT /api/uploads/{upload_id}': async () => {
    const startedAt = Date.now() - 60_000;
    return [
      await request('PUT', '/api/uploads/contract-new', admin(), createBody(startedAt, 'new')),
      await request('PUT', '/api/uploads/contract-new', admin(), createBody(startedAt, 'new')),
      await request('PUT', '/api/uploads/contract-new', admin(), createBody(startedAt + 20, 'new')),
      await request('PUT', '/api/uploads/contract-bad', admin(), { ...createBody(startedAt), sample_rate: 44100 }),
      await request('PUT', '/api/uploads/-bad-id', admin(), createBody(startedAt)),
      await request('PUT', '/api/uploads/contract-old', admin(), createBody(Date.now() - 30 * 24 * 3600_000)),
    ];
  },

  'PUT /api/uploads/{upload_id}/packets': async () => {
    const payloads = opusTone(1000, -12, 0.2);
    return [
      await request('PUT', '/api/uploads/contract-new/packets?first_index=0', admin(), chunkOf(payloads, 0)),
      await request('PUT', '/api/uploads/contract-new/packets?first_index=0', admin(), chunkOf(payloads, 1)),
      await request('PUT', '/api/uploads/contract-new/packets?first_index=0', admin(), { packets: [] }),
      await request('PUT', '/api/uploads/contract-new/packets', admin(), chunkOf(payloads, 0)),
      await request('PUT', '/api/uploads/contract-none/packets?first_index=0', admin(), chunkOf(payloads, 0)),
      await request('PUT', '/api/uploads/contract-new/packets?first_index=0', token('read:snapshots'), chunkOf(payloads, 0)),
    ];
  },

  'POST /api/uploads/{upload_id}/parts': async () => [
    // contract-upload's part was processed in beforeAll: the same part again answers the state.
    await request('POST', '/api/uploads/contract-upload/parts', admin(), { first_index: 0, end_index: 250 }),
    await request('POST', '/api/uploads/contract-upload/parts', admin(), { first_index: 250, end_index: 300 }),
    await request('POST', '/api/uploads/contract-upload/parts', admin(), { first_index: 100, end_index: 200 }),
    await request('POST', '/api/uploads/contract-upload/parts', admin(), { first_index: 5, end_index: 5 }),
    await request('POST', '/api/uploads/contract-none/parts', admin(), { first_index: 0, end_index: 10 }),
  ],

  'GET /api/uploads/{upload_id}': async () => [await get('/api/uploads/contract-upload'), await get('/api/uploads/contract-none'), await get('/api/uploads/contract-upload', null)],

  'GET /api/relay/stats': async () => [await get('/api/relay/stats'), await get('/api/relay/stats?reset_latency=1'), await get('/api/relay/stats?reset_latency=2')],

  'GET /api/session': async () => [await get('/api/session'), await get('/api/session', token('read:snapshots')), await get('/api/session', null), await get('/api/session', 'tw_unknown')],

  'POST /api/rtp/sessions': async () => {
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=contract\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n';
    const answers = [
      await request('POST', '/api/rtp/sessions', admin(), { codec: 'pcmu', label: 'contract rtp' }),
      await request('POST', '/api/rtp/sessions?station_key=contract-sdp', admin(), sdp, { 'content-type': 'application/sdp' }),
      await request('POST', '/api/rtp/sessions', admin(), { codec: 'g722', clock_rate: 16000 }),
      await request('POST', '/api/rtp/sessions', admin(), 'v=0\r\n', { 'content-type': 'application/sdp' }),
      await request('POST', '/api/rtp/sessions', admin(), 'codec=pcmu', { 'content-type': 'text/plain' }),
      await request('POST', '/api/rtp/sessions', token('read:snapshots'), { codec: 'pcmu' }),
    ];
    for (const id of t.relay.rtp.list().map((x) => x.session_id)) t.relay.rtp.close(id, 'deleted');
    return answers;
  },

  'GET /api/rtp/sessions': async () => [await get('/api/rtp/sessions'), await get('/api/rtp/sessions', token('read:snapshots'))],

  'GET /api/rtp/sessions/{session_id}': async () => {
    const opened = await request('POST', '/api/rtp/sessions', admin(), { codec: 'opus' });
    const answers = [await get(`/api/rtp/sessions/${opened.json.session_id}`), await get('/api/rtp/sessions/rtp_nothere'), await get(`/api/rtp/sessions/${'x'.repeat(200)}`)];
    t.relay.rtp.close(opened.json.session_id, 'deleted');
    return answers;
  },

  'DELETE /api/rtp/sessions/{session_id}': async () => {
    const opened = await request('POST', '/api/rtp/sessions', admin(), { codec: 'pcma' });
    const del = (): Promise<Res> => request('DELETE', `/api/rtp/sessions/${opened.json.session_id}`, admin());
    return [await del(), await del()];
  },

  'GET /api/openapi.json': async () => [await get('/api/openapi.json', token('read:audio')), await get('/api/openapi.json', null)],
};

/** Cases whose operation has no error a client can cause. */
const NO_CLIENT_ERROR = new Set(['GET /healthz']);

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** The document's operations, as `METHOD /path`. */
function operations(): string[] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m] !== undefined).map((m) => `${m.toUpperCase()} ${path}`),
  );
}

/** A copy of a schema whose objects allow only the properties they declare (where they say nothing else). */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'enum' || k === 'const' || k === 'examples' ? v : closed(v);
  if (out.properties !== undefined && out.additionalProperties === undefined && out.patternProperties === undefined) out.additionalProperties = false;
  return out;
}

const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
ajv.addKeyword('example'); // an OpenAPI annotation, not JSON Schema's
const validators = new Map<unknown, ValidateFunction>();

function validator(schema: unknown): ValidateFunction {
  let v = validators.get(schema);
  if (v === undefined) validators.set(schema, (v = ajv.compile(closed(schema) as object)));
  return v;
}

function expectValid(schema: unknown, value: unknown, what: string): void {
  const validate = validator(schema);
  expect(validate(value), `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 600)}`).toBe(true);
}

/** An answer against its operation: a declared status, and a body or file as declared. */
function checkAnswer(op: string, res: Res): void {
  const [method, path] = op.split(' ');
  const declared = doc.paths[path][method.toLowerCase()].responses[String(res.status)];
  const what = `${op} answered ${res.status} ${res.body.toString('utf8').slice(0, 200)}`;
  expect(declared, `${what}: a status the operation does not declare`).toBeDefined();
  const type = (res.headers.get('content-type') ?? '').split(';')[0];
  expect(Object.keys(declared.content ?? {}), what).toContain(type);
  if (type === 'application/json') {
    expectValid(declared.content[type].schema, res.json, what);
    if (res.status >= 400) expect(res.status, what).toBe(ERROR_STATUS[res.json.error.code as keyof typeof ERROR_STATUS]);
  }
  for (const name of Object.keys(declared.headers ?? {})) expect(res.headers.get(name), `${what}: header ${name}`).not.toBeNull();
}

beforeAll(async () => {
  t = await startTestRelay({ snapshotMinIntervalMs: SNAPSHOT_INTERVAL_MS });
  station = new SimulatedStation({ url: t.wsUrl, audio: encodeAudio(sine(1000, -20, 10, RATE), RATE, 'pcm16'), stationKey: STATION, label: 'contract', durationS: 120 });
  traceId = (await station.connect()).trace_id;
  const streamStartMs = Date.now();
  streaming = runStations([station]);

  // An upload with one processed part (5 s of Opus at its capture time, a minute ago).
  const startedAt = Date.now() - 60_000;
  expect((await request('PUT', '/api/uploads/contract-upload', admin(), createBody(startedAt, 'contract upload'))).status).toBe(201);
  const payloads = opusTone(440, -12, (250 * UPLOAD_FRAME_MS) / 1000);
  expect((await request('PUT', '/api/uploads/contract-upload/packets?first_index=0', admin(), chunkOf(payloads, 0))).status).toBe(200);
  expect((await request('POST', '/api/uploads/contract-upload/parts', admin(), { first_index: 0, end_index: 250 })).status).toBe(200);

  // A complete bucket of the live station, covered whole (not its first, partial one).
  const firstWhole = (Math.floor(streamStartMs / 5000) + 1) * 5000;
  entry = await waitFor(
    async () => {
      const res = await get(`/api/optimizer/snapshot?trace_id=${traceId}&limit=100`, token('read:snapshots'));
      return (res.json?.buckets as SnapshotEntry[] | undefined)?.find((b) => Date.parse(b.bucket_ts) >= firstWhole);
    },
    20_000,
    'a whole bucket',
  );

  const res = await get('/api/openapi.json');
  expect(res.status).toBe(200);
  doc = res.json;
}, 60_000);

afterAll(async () => {
  station?.stop();
  await Promise.race([streaming, sleep(5000)]);
  await t?.close();
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (swagger-parser)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // validate() dereferences the object it is given: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeDefined();
  });

  it('holds only schemas that are valid JSON Schema 2020-12 (Ajv, strict mode)', () => {
    const schemas: unknown[] = [...Object.values(doc.components?.schemas ?? {})];
    for (const item of Object.values(doc.paths as Record<string, Record<string, any>>)) {
      for (const op of Object.values(item)) {
        for (const p of op.parameters ?? []) schemas.push(p.schema);
        for (const media of Object.values(op.requestBody?.content ?? {})) schemas.push((media as { schema: unknown }).schema);
        for (const r of Object.values(op.responses as Record<string, { content?: Record<string, { schema: unknown }> }>)) {
          for (const media of Object.values(r.content ?? {})) schemas.push(media.schema);
        }
      }
    }
    expect(schemas.length).toBeGreaterThan(50);
    for (const s of schemas) expect(() => ajv.compile(s as object), JSON.stringify(s).slice(0, 300)).not.toThrow();
  });

  it('describes every route the relay serves under /api, and the health check and live meters', () => {
    const served = t.relay.routes
      .filter((r) => !r.websocket && r.method !== 'HEAD' && (r.url.startsWith('/api/') || r.url === '/healthz' || r.url === '/measurements'))
      .map((r) => `${r.method} ${r.url.replace(/:([a-z_]+)/g, '{$1}')}`);
    expect(served.length).toBeGreaterThan(10);
    expect(operations().sort()).toEqual([...new Set(served)].sort());
  });

  it('has cases here for every operation, each with a success and an error', () => {
    expect(Object.keys(CASES).sort()).toEqual(operations().sort());
  });
});

describe('answers match the document', () => {
  it.each(Object.keys(CASES))('%s', async (op) => {
    const answers = await CASES[op]();
    for (const res of answers) checkAnswer(op, res);
    expect(answers.some((r) => r.status >= 200 && r.status < 300), `${op}: a success`).toBe(true);
    if (!NO_CLIENT_ERROR.has(op)) expect(answers.some((r) => r.status >= 400), `${op}: an error`).toBe(true);
  }, 30_000);
});

describe('GET /api/audio/segment?rate= (seed 000 §5.3 at 16 kHz)', () => {
  it('resamples to the rate asked, says so in X-Sample-Rate and the WAV header, keeps the level, and serves ranges of the new file', async () => {
    const endpoint = entry.audio.PRE.endpoint;
    const own = await get(endpoint);
    expect(own.headers.get('x-sample-rate')).toBe(String(RATE));
    const original = readWav(own.body);
    for (const rate of [8000, 16000, 48000]) {
      const res = await get(`${endpoint}&rate=${rate}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-sample-rate')).toBe(String(rate));
      expect(res.headers.get('content-length')).toBe(String(res.body.length));
      const wav = readWav(res.body);
      expect(wav).toMatchObject({ sampleRate: rate, channels: 1, bitsPerSample: 16 });
      expect(wav.frames).toBe(Math.round((original.frames * rate) / RATE));
      // A 1 kHz tone passes every rate unchanged in level (the edges aside).
      const edge = (x: Float32Array): [number, number] => [Math.round(x.length / 10), Math.round((x.length * 9) / 10)];
      expect(Math.abs(measureRmsDbfs(wav.samples, ...edge(wav.samples)) - measureRmsDbfs(original.samples, ...edge(original.samples)))).toBeLessThan(0.1);
      if (rate === RATE) expect(res.body.equals(own.body)).toBe(true);
    }
    const full = await get(`${endpoint}&rate=16000`);
    const header = await get(`${endpoint}&rate=16000`, admin(), { range: 'bytes=0-43' });
    expect(header.status).toBe(206);
    expect(header.headers.get('content-range')).toBe(`bytes 0-43/${full.body.length}`);
    expect(header.body.equals(full.body.subarray(0, 44))).toBe(true);
    expect(header.body.readUInt32LE(24)).toBe(16000);
    const middle = await get(`${endpoint}&rate=16000`, admin(), { range: 'bytes=1000-1999' });
    expect(middle.body.equals(full.body.subarray(1000, 2000))).toBe(true);
    const outside = await get(`${endpoint}&rate=16000`, admin(), { range: `bytes=${full.body.length}-` });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${full.body.length}`);
  });
});

describe('live meters', () => {
  it('sends measurement and spectrum messages on /ws/telemetry that match the document\'s schemas', async () => {
    const ws = new WebSocket(`${t.httpUrl.replace('http', 'ws')}/ws/telemetry?trace_id=${traceId}&spectrum=${STATION}`);
    const seen: Record<string, unknown> = {};
    try {
      await waitFor(
        () =>
          new Promise<true | undefined>((resolve) => {
            ws.once('message', (data) => {
              const msg = JSON.parse(data.toString()) as { type: string; data?: { stations: Record<string, unknown> } };
              if (msg.type !== 'measurement' || Object.keys(msg.data?.stations ?? {}).length > 0) seen[msg.type] ??= msg;
              resolve(seen.measurement !== undefined && seen.spectrum !== undefined ? true : undefined);
            });
          }),
        10_000,
        'a measurement with the station and a spectrum',
      );
    } finally {
      ws.close();
    }
    const schemas = doc.components.schemas;
    expectValid(schemas.MeasurementMessage, seen.measurement, 'measurement message');
    expectValid(schemas.SpectrumMessage, seen.spectrum, 'spectrum message');
    for (const msg of [seen.measurement, seen.spectrum]) expectValid(schemas.TelemetryMessage, msg, 'telemetry message');
    expect(Object.keys((seen.measurement as { data: { stations: object } }).data.stations)).toEqual([STATION]);
  });

  it('sends a station\'s spectra to a socket naming it as <trace_id>:<station_key>, and none to one naming another trace', async () => {
    const open = (spectrum: string) => {
      const ws = new WebSocket(`${t.httpUrl.replace('http', 'ws')}/ws/telemetry?spectrum=${encodeURIComponent(spectrum)}`);
      const spectra: { trace_id: string; station_key: string }[] = [];
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as { type: string; trace_id: string; station_key: string };
        if (msg.type === 'spectrum') spectra.push(msg);
      });
      return { ws, spectra };
    };
    const ours = open(`${traceId}:${STATION}`);
    const other = open(`tr_elsewhere:${STATION}`);
    try {
      await waitFor(async () => (ours.spectra.length >= 4 ? true : undefined), 10_000, 'four spectra for the qualified key');
      expect(ours.spectra.every((s) => s.trace_id === traceId && s.station_key === STATION)).toBe(true);
      expect(other.spectra).toEqual([]);
    } finally {
      ours.ws.close();
      other.ws.close();
    }
  });

  it('answers GET /measurements with a measurement of the streaming station', async () => {
    const res = await get(`/measurements?trace_id=${traceId}`, null);
    expectValid(doc.paths['/measurements'].get.responses['200'].content['application/json'].schema, res.json, 'GET /measurements');
    expect(Object.keys(res.json.stations)).toEqual([STATION]);
  });
});
