/**
 * The upload chunk format (length-prefixed seed 004 frames) and its checks, on bytes built
 * by hand and by encodeChunk.
 */
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { CODEC_IDS, encodeFrame } from './frame.ts';
import { checkChunk, decodeChunk, encodeChunk, MAX_UPLOAD_PACKET_BYTES, UploadCreateRequest } from './upload.ts';

const opusFrame = (index: number, payload = new Uint8Array([0xf8, 0xff, 0xfe]), over: { codec?: number; sequence?: number; timestampMs?: number } = {}): Uint8Array =>
  encodeFrame({ timestampMs: over.timestampMs ?? index * 20, sequence: over.sequence ?? index, codec: over.codec ?? CODEC_IDS.opus, flags: 0 }, payload);

describe('encodeChunk / decodeChunk', () => {
  it('writes each record as a big-endian u16 length and the frame', () => {
    const body = encodeChunk([new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(0x0102).fill(9)]);
    expect([...body.subarray(0, 5)]).toEqual([0, 3, 1, 2, 3]);
    expect([...body.subarray(5, 7)]).toEqual([0, 0]);
    expect([...body.subarray(7, 9)]).toEqual([1, 2]);
    expect(body.length).toBe(2 + 3 + 2 + 2 + 0x0102);
  });

  it('round-trips frames, as views into the body', () => {
    const frames = [opusFrame(0), opusFrame(1, new Uint8Array(300).fill(7)), opusFrame(2)];
    const body = encodeChunk(frames);
    const d = decodeChunk(body);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.frames.map((f) => [...f])).toEqual(frames.map((f) => [...f]));
    expect(d.frames[1].buffer).toBe(body.buffer);
  });

  it('decodes an empty body as no records', () => {
    expect(decodeChunk(new Uint8Array(0))).toEqual({ ok: true, frames: [] });
  });

  it('names the record whose length is cut or runs past the end', () => {
    const body = encodeChunk([opusFrame(0), opusFrame(1)]);
    const cutLength = body.subarray(0, 2 + 11 + 1);
    expect(decodeChunk(cutLength)).toMatchObject({ ok: false, record: 1, message: expect.stringContaining('2-byte length') });
    const cutFrame = body.subarray(0, body.length - 1);
    expect(decodeChunk(cutFrame)).toMatchObject({ ok: false, record: 1, message: expect.stringContaining('runs past the end') });
  });

  it('refuses a frame too long for a record', () => {
    expect(() => encodeChunk([new Uint8Array(0x10000)])).toThrow(RangeError);
  });
});

describe('checkChunk', () => {
  it('accepts packets whose headers match their indices, across the sequence wrap', () => {
    const first = 65534;
    const body = encodeChunk([0, 1, 2, 3].map((k) => opusFrame(first + k)));
    const c = checkChunk(body, first, 20);
    expect(c.ok).toBe(true);
    if (c.ok) expect(c.packets.map((p) => [...p.payload])).toEqual([0, 1, 2, 3].map(() => [0xf8, 0xff, 0xfe]));
  });

  it('accepts timestamps modulo 2^32', () => {
    const index = 2 ** 28; // index * 20 ms is past 2^32
    const c = checkChunk(encodeChunk([opusFrame(index, undefined, { timestampMs: (index * 20) % 2 ** 32 })]), index, 20);
    expect(c.ok).toBe(true);
  });

  it('names the first bad record and what was wrong with it', () => {
    const at = (frames: Uint8Array[]) => checkChunk(encodeChunk(frames), 100, 20);
    expect(at([opusFrame(100), opusFrame(102)])).toMatchObject({ ok: false, record: 1, message: expect.stringMatching(/record 1 \(packet 101\): sequence 102/) });
    expect(at([opusFrame(100, undefined, { codec: CODEC_IDS.pcm16 })])).toMatchObject({ ok: false, record: 0, message: expect.stringMatching(/codec id 16/) });
    expect(at([opusFrame(100), opusFrame(101, undefined, { timestampMs: 0 })])).toMatchObject({ ok: false, record: 1, message: expect.stringMatching(/timestamp 0 ms; packet 101 starts at 2020 ms/) });
    expect(at([opusFrame(100, new Uint8Array(0))])).toMatchObject({ ok: false, record: 0, message: expect.stringMatching(/empty payload/) });
    expect(at([opusFrame(100, new Uint8Array(MAX_UPLOAD_PACKET_BYTES))])).toMatchObject({ ok: false, record: 0, message: expect.stringMatching(/at most 4096/) });
    expect(at([opusFrame(100), new Uint8Array([1, 2, 3])])).toMatchObject({ ok: false, record: 1, message: expect.stringMatching(/8-byte header/) });
    expect(checkChunk(new Uint8Array(0), 0, 20)).toMatchObject({ ok: false, message: expect.stringMatching(/no records/) });
  });
});

describe('UploadCreateRequest', () => {
  // As the relay checks a JSON body: no coercion ("20" is not 20), nothing removed.
  const check = new Ajv({ coerceTypes: false, removeAdditional: false, allowUnionTypes: true }).compile(UploadCreateRequest);
  const good = { codec: 'opus', sample_rate: 48000, channels: 1, frame_ms: 20, started_at: '2026-01-03T21:15:00.000Z', label: 'Field 1' };

  it('accepts what the PWA sends', () => {
    expect(check(good), JSON.stringify(check.errors)).toBe(true);
    const { label: _label, ...unlabelled } = good;
    expect(check(unlabelled)).toBe(true);
  });

  it('refuses a wrong value of each field, naming the field', () => {
    for (const [field, value] of [
      ['codec', 'pcm16'],
      ['sample_rate', 44100],
      ['sample_rate', '48000'],
      ['channels', 2],
      ['frame_ms', 40],
      ['frame_ms', '20'],
      ['started_at', 12],
      ['label', 'x'.repeat(121)],
    ] as const) {
      expect(check({ ...good, [field]: value }), `${field}: ${JSON.stringify(value)}`).toBe(false);
      expect(check.errors?.[0]?.instancePath).toBe(`/${field}`);
    }
    expect(check({ ...good, extra: 1 })).toBe(false);
  });
});
