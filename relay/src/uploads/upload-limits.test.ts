/**
 * The limits on uploads (upload-limits.ts) on a real relay over HTTP: the pending-bytes
 * quotas per upload and per token, expiry of abandoned uploads, captures older than
 * retention keeps, and chunks re-sent with other bytes. Each refusal has its status and
 * stable code, stores nothing, and loses nothing accepted before it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODEC_IDS, encodeFrame, FLAG_VOICE_ACTIVITY } from '../../../protocol/frame.ts';
import { encodeChunk, UPLOAD_FRAME_MS } from '../../../protocol/upload.ts';
import { defaultConfig } from '../config.ts';
import { sleep, startTestRelay, type TestRelay } from '../testing/harness.ts';
import { chunkOf, createBody, opusTone, uploadClient, type Res } from '../testing/upload-client.ts';
import { bucketStartMs } from '../time/bucket-clock.ts';

const packets = opusTone(1000, -12, 2); // 100 packets of 64-113 bytes
/** Payload bytes of packets [a, b): what the quotas count. */
const bytes = (a: number, b: number): number => packets.slice(a, b).reduce((n, p) => n + p.length, 0);
const startedAt = bucketStartMs(Date.now() - 60_000, 5000) + 1000;

function expectError(res: Res, status: number, code: string, message?: RegExp): void {
  expect(res.status, JSON.stringify(res.json)).toBe(status);
  expect(res.json).toEqual({ success: false, error: { code, message: expect.any(String) } });
  if (message) expect(res.json.error.message).toMatch(message);
}

function expectOk(res: Res, status = 200): any {
  expect(res.status, JSON.stringify(res.json)).toBe(status);
  return res.json;
}

/** The relay's own accounting of an upload, read from its store. */
function stored(t: TestRelay, uploadId: string): { pending_bytes: number; touched_at: number; expired_at: number | null; packets: number } {
  return t.relay.store.db
    .prepare('SELECT pending_bytes, touched_at, expired_at, (SELECT COUNT(*) FROM upload_packets p WHERE p.upload_id = u.upload_id) AS packets FROM uploads u WHERE upload_id = ?')
    .get(uploadId) as { pending_bytes: number; touched_at: number; expired_at: number | null; packets: number };
}

/** A chunk of packets `first, first + 1, ...` with the given payloads and flags. */
function chunkWith(first: number, payloads: readonly Uint8Array[], flags: (index: number) => number = () => 0): Uint8Array {
  return encodeChunk(payloads.map((p, k) => encodeFrame({ timestampMs: (first + k) * UPLOAD_FRAME_MS, sequence: first + k, codec: CODEC_IDS.opus, flags: flags(first + k) }, p)));
}

describe('the pending-bytes quotas', () => {
  // An upload may hold packets 0-39; a token's uploads together 0-39 plus 0-29.
  const perUpload = bytes(0, 40);
  const perToken = bytes(0, 40) + bytes(0, 30);
  let t: TestRelay;
  let x: ReturnType<typeof uploadClient>;
  let y: ReturnType<typeof uploadClient>;

  beforeAll(async () => {
    t = await startTestRelay({ uploadMaxPendingBytes: perUpload, uploadMaxPendingBytesPerToken: perToken });
    x = uploadClient(t.httpUrl, t.relay.tokens.create(['ingest']).token);
    y = uploadClient(t.httpUrl, t.relay.tokens.create(['ingest']).token);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('refuse a chunk over either quota whole, free duplicates, and count the refusals', async () => {
    const refusedBefore = t.relay.limits.get('upload_quota');
    expectOk(await x.create('qa', createBody(startedAt)), 201);
    expect(expectOk(await x.chunk('qa', 0, chunkOf(packets.slice(0, 40), 0)))).toMatchObject({ accepted: 40, duplicates: 0 });
    expect(stored(t, 'qa').pending_bytes).toBe(perUpload);

    // One packet more is over the upload's quota: 413, nothing stored.
    expectError(await x.chunk('qa', 40, chunkOf(packets.slice(40, 41), 40)), 413, 'upload_quota', /at most [\d.]+ MiB \(TAPWIRE_UPLOAD_MAX_MB\).*nothing of it was stored.*frees/);
    // Duplicates are free, even at the quota; one new packet among them is not.
    expect(expectOk(await x.chunk('qa', 0, chunkOf(packets.slice(0, 40), 0)))).toMatchObject({ accepted: 0, duplicates: 40 });
    expectError(await x.chunk('qa', 30, chunkOf(packets.slice(30, 41), 30)), 413, 'upload_quota', /TAPWIRE_UPLOAD_MAX_MB/);
    expect(expectOk(await x.state('qa'))).toMatchObject({ packets_received: 40, end_index: 40 });
    expect(stored(t, 'qa')).toMatchObject({ pending_bytes: perUpload, packets: 40 });

    // A second upload of the same token fills the token's quota exactly, then is refused.
    expectOk(await x.create('qb', createBody(startedAt)), 201);
    expect(expectOk(await x.chunk('qb', 0, chunkOf(packets.slice(0, 30), 0)))).toMatchObject({ accepted: 30 });
    expectError(await x.chunk('qb', 30, chunkOf(packets.slice(30, 31), 30)), 413, 'upload_quota', /this token hold [\d.]+ MiB.*at most [\d.]+ MiB together \(TAPWIRE_UPLOAD_TOKEN_MAX_MB\).*nothing of it was stored/);
    expect(expectOk(await x.state('qb'))).toMatchObject({ packets_received: 30, end_index: 30 });
    expect(stored(t, 'qb')).toMatchObject({ pending_bytes: bytes(0, 30), packets: 30 });

    // Another token has its own quota.
    expectOk(await y.create('qc', createBody(startedAt)), 201);
    expect(expectOk(await y.chunk('qc', 0, chunkOf(packets.slice(0, 40), 0)))).toMatchObject({ accepted: 40 });

    expect(t.relay.limits.get('upload_quota') - refusedBefore).toBe(3);
  });

  it('free the bytes of a processed part', async () => {
    const done = expectOk(await x.part('qa', 0, 40));
    expect(done.parts).toMatchObject([{ first_index: 0, end_index: 40, frames: 40 }]);
    expect(stored(t, 'qa')).toMatchObject({ pending_bytes: 0, packets: 0 });
    // What the token's quota refused before now fits, and so does more of the processed upload.
    expect(expectOk(await x.chunk('qb', 30, chunkOf(packets.slice(30, 40), 30)))).toMatchObject({ accepted: 10, packets_received: 40 });
    expect(expectOk(await x.chunk('qa', 40, chunkOf(packets.slice(40, 60), 40)))).toMatchObject({ accepted: 20, packets_received: 60, end_index: 60 });
    expect(stored(t, 'qa').pending_bytes).toBe(bytes(40, 60));
    expect(stored(t, 'qb').pending_bytes).toBe(bytes(0, 40));
    // Packets of the processed part sent again are duplicates and cost nothing.
    expect(expectOk(await x.chunk('qa', 0, chunkOf(packets.slice(0, 40), 0)))).toMatchObject({ accepted: 0, duplicates: 40 });
    expect(stored(t, 'qa').pending_bytes).toBe(bytes(40, 60));
  });
});

describe('expiry of abandoned uploads', () => {
  const expiryMs = defaultConfig().uploadExpiryMs;
  let t: TestRelay;
  let up: ReturnType<typeof uploadClient>;

  beforeAll(async () => {
    t = await startTestRelay();
    up = uploadClient(t.httpUrl, t.relay.adminToken);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('counts from the last create, confirm, chunk or part', async () => {
    expectOk(await up.create('touchy', createBody(startedAt)), 201);
    const steps: [string, () => Promise<Res>][] = [
      ['chunk', () => up.chunk('touchy', 0, chunkOf(packets.slice(0, 10), 0))],
      ['part', () => up.part('touchy', 0, 10)],
      ['confirm', () => up.create('touchy', createBody(startedAt))],
    ];
    for (const [what, step] of steps) {
      await sleep(20);
      const before = Date.now();
      expectOk(await step());
      // Untouched since before this step, it would expire now; the step touched it.
      expect(t.relay.uploads.expireIdle(before + expiryMs - 1), what).toBe(0);
      expect(stored(t, 'touchy').touched_at, what).toBeGreaterThanOrEqual(before);
    }
    expect(t.relay.uploads.expireIdle(Date.now() + expiryMs)).toBe(1);
  });

  it('deletes unprocessed packets, keeps processed parts and their buckets, and answers 410 after', async () => {
    expectOk(await up.create('idle', createBody(startedAt)), 201);
    expect(expectOk(await up.chunk('idle', 0, chunkOf(packets.slice(0, 60), 0)))).toMatchObject({ accepted: 60 });
    const processed = expectOk(await up.part('idle', 0, 25));
    expect(processed.parts).toMatchObject([{ first_index: 0, end_index: 25, frames: 25 }]);
    const bucketTs: string = processed.parts[0].bucket_ts[0];
    expectOk(await up.create('idle2', createBody(startedAt)), 201);
    expectOk(await up.chunk('idle2', 0, chunkOf(packets.slice(0, 10), 0)));

    expect(t.relay.uploads.expireIdle(Date.now() + expiryMs - 60_000)).toBe(0);
    const nowMs = Date.now() + expiryMs + 60_000;
    expect(t.relay.uploads.expireIdle(nowMs)).toBe(2);
    expect(t.relay.uploads.expireIdle(nowMs + 1000)).toBe(0);
    expect(stored(t, 'idle')).toEqual({ pending_bytes: 0, touched_at: expect.any(Number), expired_at: nowMs, packets: 0 });
    expect(stored(t, 'idle2')).toMatchObject({ pending_bytes: 0, expired_at: nowMs, packets: 0 });

    // The state still answers: the processed part is there, the rest is gone.
    const state = expectOk(await up.state('idle'));
    expect(state).toMatchObject({ expired_at: new Date(nowMs).toISOString(), packets_received: 25, end_index: 25, parts: processed.parts });
    expect(expectOk(await up.create('idle', createBody(startedAt)))).toMatchObject({ expired_at: new Date(nowMs).toISOString() });
    // Chunks and new parts answer 410; the part already processed still answers with the state.
    const expired = /expired at .*untouched .*TAPWIRE_UPLOAD_EXPIRY_HOURS.*processed parts are kept.*new upload_id/;
    expectError(await up.chunk('idle', 25, chunkOf(packets.slice(25, 60), 25)), 410, 'upload_expired', expired);
    expectError(await up.chunk('idle', 0, chunkOf(packets.slice(0, 10), 0)), 410, 'upload_expired', expired);
    expectError(await up.part('idle', 25, 60), 410, 'upload_expired', expired);
    expect(expectOk(await up.part('idle', 0, 25)).parts).toEqual(processed.parts);
    expect(expectOk(await up.state('idle'))).toMatchObject({ packets_received: 25, parts: processed.parts });

    // The processed part's bucket and its audio are still served.
    const seg = await up.get(`/api/audio/segment?trace_id=${state.trace_id}&station_key=${state.station_key}&tap=PRE&bucket_ts=${bucketTs}`);
    expect(seg.status, seg.body.toString()).toBe(200);
    expect(seg.body.length).toBeGreaterThan(44);
  });
});

describe('captures older than retention keeps', () => {
  const maxAgeMs = 3000;
  let t: TestRelay;
  let up: ReturnType<typeof uploadClient>;

  beforeAll(async () => {
    t = await startTestRelay({ segmentMaxAgeMs: maxAgeMs });
    up = uploadClient(t.httpUrl, t.relay.adminToken);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('are refused at create, and nothing is created', async () => {
    expectError(await up.create('ancient', createBody(Date.now() - maxAgeMs - 60_000)), 400, 'upload_too_old', /started_at .* ago; the relay keeps audio for .* h \(TAPWIRE_SEGMENT_MAX_AGE_HOURS;.*delete it at once; nothing was created/);
    expectError(await up.state('ancient'), 404, 'upload_not_found');
  });

  it('are refused for a part that has aged past it, whose packets are kept', async () => {
    const start = Date.now() - maxAgeMs / 2;
    expectOk(await up.create('aging', createBody(start)), 201);
    expect(expectOk(await up.chunk('aging', 0, chunkOf(packets.slice(0, 5), 0)))).toMatchObject({ accepted: 5 });
    // The part ends 100 ms after start; wait until that is older than the limit.
    await sleep(start + 5 * UPLOAD_FRAME_MS + maxAgeMs + 100 - Date.now());
    expectError(await up.part('aging', 0, 5), 400, 'upload_too_old', /part \[0, 5\) ends at .* ago.*TAPWIRE_SEGMENT_MAX_AGE_HOURS.*its packets are kept/);
    expect(expectOk(await up.state('aging'))).toMatchObject({ packets_received: 5, end_index: 5, parts: [] });
    expect(stored(t, 'aging')).toMatchObject({ packets: 5, pending_bytes: bytes(0, 5) });
  });
});

describe('a chunk re-sent with other bytes', () => {
  let t: TestRelay;
  let up: ReturnType<typeof uploadClient>;

  beforeAll(async () => {
    t = await startTestRelay();
    up = uploadClient(t.httpUrl, t.relay.adminToken);
    expectOk(await up.create('conf', createBody(startedAt)), 201);
    expect(expectOk(await up.chunk('conf', 0, chunkOf(packets.slice(0, 20), 0)))).toMatchObject({ accepted: 20 });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('is a conflict naming the first index, and stores nothing of the chunk', async () => {
    const otherPayload = packets.slice(10, 30);
    otherPayload[15 - 10] = packets[90];
    otherPayload[17 - 10] = packets[91];
    expectError(await up.chunk('conf', 10, chunkWith(10, otherPayload)), 409, 'chunk_conflict', /packet 15 is already stored with other bytes.*nothing of this chunk was stored/);
    expectError(await up.chunk('conf', 0, chunkWith(0, packets.slice(0, 20), (i) => (i === 3 ? FLAG_VOICE_ACTIVITY : 0))), 409, 'chunk_conflict', /packet 3 /);
    // Packets 20-29 of the refused chunk were new, and were not stored either.
    expect(expectOk(await up.state('conf'))).toMatchObject({ packets_received: 20, end_index: 20 });
    expect(stored(t, 'conf')).toMatchObject({ packets: 20, pending_bytes: bytes(0, 20) });
  });

  it('is duplicates when the bytes are the same', async () => {
    expect(expectOk(await up.chunk('conf', 0, chunkOf(packets.slice(0, 20), 0)))).toMatchObject({ accepted: 0, duplicates: 20, packets_received: 20 });
    expect(expectOk(await up.chunk('conf', 10, chunkOf(packets.slice(10, 30), 10)))).toMatchObject({ accepted: 10, duplicates: 10, packets_received: 30 });
    expect(stored(t, 'conf').pending_bytes).toBe(bytes(0, 30));
  });

  it('is duplicates inside a processed part, whose packets are gone and cannot be compared', async () => {
    expect(expectOk(await up.part('conf', 0, 30)).parts).toMatchObject([{ first_index: 0, end_index: 30, frames: 30 }]);
    expect(expectOk(await up.chunk('conf', 0, chunkWith(0, packets.slice(50, 60))))).toMatchObject({ accepted: 0, duplicates: 10, packets_received: 30 });
    expect(stored(t, 'conf')).toMatchObject({ packets: 0, pending_bytes: 0 });
  });
});
