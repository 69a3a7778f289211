/**
 * Bad input to the upload routes on a real relay: each gets its status and stable code, and
 * leaves what was accepted before it as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import { encodeChunk, MAX_UPLOAD_CHUNK_BYTES } from '../../../protocol/upload.ts';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';
import { call, chunkOf, createBody, opusTone, uploadClient, type Res } from '../testing/upload-client.ts';
import { bucketStartMs } from '../time/bucket-clock.ts';

let t: TestRelay;
let up: ReturnType<typeof uploadClient>;
const packets = opusTone(1000, -12, 2); // 100 packets
const startedAt = bucketStartMs(Date.now() - 300_000, 5000) + 1000;

beforeAll(async () => {
  t = await startTestRelay();
  up = uploadClient(t.httpUrl, t.relay.adminToken);
  expect((await up.create('errs', createBody(startedAt))).status).toBe(201);
  expect((await up.chunk('errs', 0, chunkOf(packets.slice(0, 40), 0))).json).toMatchObject({ accepted: 40 });
});

afterAll(async () => {
  await t?.close();
});

function expectError(res: Res, status: number, code: string, message?: RegExp): void {
  expect(res.status, JSON.stringify(res.json)).toBe(status);
  expect(res.json).toEqual({ success: false, error: { code, message: expect.any(String) } });
  if (message) expect(res.json.error.message).toMatch(message);
}

/** What was accepted before the bad input is still there, and nothing else. */
async function expectUnchanged(received = 40, endIndex = 40): Promise<void> {
  const s = await up.state('errs');
  expect(s.status).toBe(200);
  expect(s.json).toMatchObject({ packets_received: received, end_index: endIndex });
}

describe('upload routes refuse bad input', () => {
  it('need a token with the ingest scope', async () => {
    const anon = uploadClient(t.httpUrl, null);
    expectError(await anon.state('errs'), 401, 'unauthorized');
    expectError(await anon.create('errs2', createBody(startedAt)), 401, 'unauthorized');
    expectError(await anon.chunk('errs', 40, chunkOf(packets.slice(40, 50), 40)), 401, 'unauthorized');
    expectError(await anon.part('errs', 0, 40), 401, 'unauthorized');
    const reader = uploadClient(t.httpUrl, t.relay.tokens.create(['read:snapshots', 'read:audio', 'write:knobs']).token);
    expectError(await reader.state('errs'), 403, 'forbidden');
    expectError(await reader.chunk('errs', 40, chunkOf(packets.slice(40, 50), 40)), 403, 'forbidden');
    expectError(await reader.part('errs', 0, 40), 403, 'forbidden');
    const ingest = uploadClient(t.httpUrl, t.relay.tokens.create(['ingest']).token);
    expect((await ingest.state('errs')).status).toBe(200);
    await expectUnchanged();
  });

  it('check the create request field by field', async () => {
    expectError(await up.create('-leading-dash', createBody(startedAt)), 400, 'invalid_request', /upload_id/);
    expectError(await up.create('x'.repeat(65), createBody(startedAt)), 400, 'invalid_request', /upload_id/);
    expectError(await up.create('new', { ...createBody(startedAt), started_at: 'yesterday' }), 400, 'invalid_request', /started_at/);
    expectError(await up.create('new', { ...createBody(startedAt), started_at: '2026-01-03T21:15:00+01:00' }), 400, 'invalid_request', /started_at/);
    expectError(await up.create('new', createBody(Date.now() + 3_600_000)), 400, 'invalid_request', /started_at.*future/);
    expectError(await up.create('new', { ...createBody(startedAt), codec: 'pcm16' }), 400, 'invalid_request', /codec/);
    expectError(await up.create('new', { ...createBody(startedAt), sample_rate: 44100 }), 400, 'invalid_request', /sample_rate/);
    expectError(await up.create('new', { ...createBody(startedAt), channels: 2 }), 400, 'invalid_request', /channels/);
    expectError(await up.create('new', { ...createBody(startedAt), frame_ms: 40 }), 400, 'invalid_request', /frame_ms/);
    expectError(await up.create('new', { ...createBody(startedAt), frame_ms: '20' }), 400, 'invalid_request', /frame_ms/);
    expectError(await up.state('new'), 404, 'upload_not_found');
    // The same id with another capture is a conflict; the upload is untouched.
    expectError(await up.create('errs', createBody(startedAt + 20)), 409, 'upload_conflict', /started_at/);
    expectError(await up.create('errs', { ...createBody(startedAt), sample_rate: 16000 }), 409, 'upload_conflict', /sample_rate/);
    await expectUnchanged();
  });

  it('answer 404 for an unknown upload on every route', async () => {
    expectError(await up.state('nothere'), 404, 'upload_not_found');
    expectError(await up.chunk('nothere', 0, chunkOf(packets.slice(0, 5), 0)), 404, 'upload_not_found');
    expectError(await up.part('nothere', 0, 5), 404, 'upload_not_found');
  });

  it('refuse a chunk with any bad record and store nothing of it', async () => {
    const good = packets.slice(40, 60).map((p, k) => encodeFrame({ timestampMs: (40 + k) * 20, sequence: 40 + k, codec: CODEC_IDS.opus, flags: 0 }, p));
    const truncated = encodeChunk(good).subarray(0, encodeChunk(good).length - 3);
    expectError(await up.chunk('errs', 40, truncated), 400, 'bad_chunk', /record 19.*runs past the end.*nothing of this chunk was stored/);
    const wrongSeq = [...good];
    wrongSeq[7] = encodeFrame({ timestampMs: 47 * 20, sequence: 99, codec: CODEC_IDS.opus, flags: 0 }, packets[47]);
    expectError(await up.chunk('errs', 40, encodeChunk(wrongSeq)), 400, 'bad_chunk', /record 7 \(packet 47\): sequence 99/);
    const wrongCodec = [...good];
    wrongCodec[19] = encodeFrame({ timestampMs: 59 * 20, sequence: 59, codec: CODEC_IDS.pcm16, flags: 0 }, packets[59]);
    expectError(await up.chunk('errs', 40, encodeChunk(wrongCodec)), 400, 'bad_chunk', /record 19 \(packet 59\): codec id 16/);
    const wrongTime = [...good];
    wrongTime[0] = encodeFrame({ timestampMs: 0, sequence: 40, codec: CODEC_IDS.opus, flags: 0 }, packets[40]);
    expectError(await up.chunk('errs', 40, encodeChunk(wrongTime)), 400, 'bad_chunk', /record 0 \(packet 40\): timestamp 0/);
    // Good records at the wrong place are wrong too.
    expectError(await up.chunk('errs', 41, encodeChunk(good)), 400, 'bad_chunk', /record 0 \(packet 41\)/);
    expectError(await up.chunk('errs', 40, new Uint8Array(0)), 400, 'bad_chunk', /no records/);
    expectError(await call(t.httpUrl, t.relay.adminToken, 'PUT', '/api/uploads/errs/packets', encodeChunk(good)), 400, 'invalid_request', /first_index/);
    expectError(await call(t.httpUrl, t.relay.adminToken, 'PUT', '/api/uploads/errs/packets?first_index=40', { packets: [] }), 415, 'unsupported_media_type', /octet-stream/);
    await expectUnchanged();
  });

  it('answer 413 to a chunk over the limit', async () => {
    const body = new Uint8Array(MAX_UPLOAD_CHUNK_BYTES + 1);
    expectError(await up.chunk('errs', 40, body), 413, 'body_too_large', new RegExp(`${MAX_UPLOAD_CHUNK_BYTES} bytes`));
    await expectUnchanged();
  });

  it('process a part only when whole, and each packet in one part only', async () => {
    expectError(await up.part('errs', 0, 100), 409, 'incomplete', /60 of the 100 packets .* missing, the first is 40/);
    expectError(await up.part('errs', 10, 10), 400, 'invalid_request', /end_index/);
    expectError(await up.part('errs', 0, 90_001), 400, 'invalid_request', /at most 90000/);
    expectError(await up.part('errs', -1, 10), 400, 'invalid_request', /first_index/);
    await expectUnchanged();

    const done = await up.part('errs', 0, 30);
    expect(done.status, JSON.stringify(done.json)).toBe(200);
    expect(done.json.parts).toMatchObject([{ first_index: 0, end_index: 30, frames: 30 }]);
    expectError(await up.part('errs', 20, 40), 409, 'part_overlap', /\[0, 30\)/);
    expectError(await up.part('errs', 0, 40), 409, 'part_overlap');
    await expectUnchanged();
    // The rest still goes through.
    expect((await up.chunk('errs', 40, chunkOf(packets.slice(40), 40))).json).toMatchObject({ accepted: 60, packets_received: 100, end_index: 100 });
    expect((await up.part('errs', 30, 100)).json.parts).toMatchObject([{ first_index: 0, end_index: 30 }, { first_index: 30, end_index: 100, frames: 70 }]);
  });

  it('serializes concurrent requests for the same part: processed once', async () => {
    expect((await up.create('concurrent', createBody(startedAt))).status).toBe(201);
    expect((await up.chunk('concurrent', 0, chunkOf(packets, 0))).json).toMatchObject({ accepted: 100 });
    const [a, b] = await Promise.all([up.part('concurrent', 0, 100), up.part('concurrent', 0, 100)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.json).toEqual(b.json);
    expect(a.json.parts).toHaveLength(1);
  });
});
