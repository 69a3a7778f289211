import { describe, expect, it } from 'vitest';
import {
  CODEC_IDS,
  FLAG_VOICE_ACTIVITY,
  FRAME_HEADER_BYTES,
  codecName,
  decodeFrame,
  encodeFrame,
  sequenceDelta,
  timestampDeltaMs,
  writeFrameHeader,
  type FrameHeader,
} from './frame.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/), (b) => parseInt(b, 16));

// Hand-written captures: timestamp 1000 ms, sequence 42, Opus, voice active, then a 3-byte
// Opus packet (TOC 0xF8: CELT fullband 20 ms, one frame; 0xFF 0xFE is libopus's digital
// silence frame).
const CAPTURE_OPUS = hex('00 00 03 e8  00 2a  01  01  f8 ff fe');
// timestamp 0xDEADBEEF (above 2^31: must read back positive), sequence 0xFFFF, pcm16, no flags,
// two samples 0x0001 and 0x8000 (1 and -32768, little endian).
const CAPTURE_PCM16 = hex('de ad be ef  ff ff  10  00  01 00 00 80');

describe('frame header layout (seed 004 §1.4)', () => {
  it('has 8 header bytes and the agreed codec ids', () => {
    expect(FRAME_HEADER_BYTES).toBe(8);
    expect(CODEC_IDS).toEqual({ opus: 1, pcmu: 2, pcma: 3, g722: 4, pcm16: 16 });
    expect(FLAG_VOICE_ACTIVITY).toBe(1);
    expect(codecName(1)).toBe('opus');
    expect(codecName(16)).toBe('pcm16');
    expect(codecName(4)).toBe('g722');
    expect(codecName(0)).toBeUndefined();
    expect(codecName(5)).toBeUndefined();
  });

  it('decodes a captured Opus frame', () => {
    const r = decodeFrame(CAPTURE_OPUS);
    expect(r).toEqual({ ok: true, header: { timestampMs: 1000, sequence: 42, codec: CODEC_IDS.opus, flags: FLAG_VOICE_ACTIVITY }, payload: hex('f8 ff fe') });
  });

  it('decodes big-endian fields above 2^31 and 2^15 as unsigned', () => {
    const r = decodeFrame(CAPTURE_PCM16);
    if (!r.ok) throw new Error(r.message);
    expect(r.header).toEqual({ timestampMs: 0xdeadbeef, sequence: 0xffff, codec: 16, flags: 0 });
    expect([...r.payload]).toEqual([0x01, 0x00, 0x00, 0x80]);
  });

  it('encodes the captured bytes exactly', () => {
    expect(encodeFrame({ timestampMs: 1000, sequence: 42, codec: 1, flags: 1 }, hex('f8 ff fe'))).toEqual(CAPTURE_OPUS);
    expect(encodeFrame({ timestampMs: 0xdeadbeef, sequence: 0xffff, codec: 16, flags: 0 }, hex('01 00 00 80'))).toEqual(CAPTURE_PCM16);
  });

  it('agrees with Node Buffer big-endian writers', () => {
    const h: FrameHeader = { timestampMs: 3_000_000_123, sequence: 51_234, codec: CODEC_IDS.pcma, flags: 0x81 };
    const ref = Buffer.alloc(8);
    ref.writeUInt32BE(h.timestampMs, 0);
    ref.writeUInt16BE(h.sequence, 4);
    ref.writeUInt8(h.codec, 6);
    ref.writeUInt8(h.flags, 7);
    expect(Buffer.from(encodeFrame(h, new Uint8Array(0)))).toEqual(ref);
  });

  it('keeps reserved flag bits as sent', () => {
    const r = decodeFrame(hex('00 00 00 00 00 00 02 fe'));
    expect(r.ok && r.header.flags).toBe(0xfe);
    expect(r.ok && (r.header.flags & FLAG_VOICE_ACTIVITY)).toBe(0);
  });
});

describe('decodeFrame', () => {
  it('returns the payload as a view of the input, not a copy', () => {
    const buf = CAPTURE_OPUS.slice();
    const r = decodeFrame(buf);
    if (!r.ok) throw new Error(r.message);
    expect(r.payload.buffer).toBe(buf.buffer);
    expect(r.payload.byteOffset).toBe(buf.byteOffset + 8);
    buf[8] = 0x00;
    expect(r.payload[0]).toBe(0x00);
  });

  it('reads a frame that sits at an offset in a larger buffer (a pooled Node Buffer)', () => {
    const big = new Uint8Array(64);
    big.set(CAPTURE_OPUS, 13);
    const r = decodeFrame(big.subarray(13, 13 + CAPTURE_OPUS.length));
    expect(r.ok && r.header.sequence).toBe(42);
    expect(r.ok && [...r.payload]).toEqual([0xf8, 0xff, 0xfe]);
  });

  it('accepts a header with an empty payload', () => {
    const r = decodeFrame(hex('00 00 00 14 00 01 02 00'));
    expect(r.ok && r.payload.length).toBe(0);
  });

  it('rejects a frame shorter than the header', () => {
    expect(decodeFrame(new Uint8Array(0))).toMatchObject({ ok: false, code: 'frame_too_short' });
    const r = decodeFrame(CAPTURE_OPUS.subarray(0, 7));
    expect(r).toMatchObject({ ok: false, code: 'frame_too_short' });
    expect(!r.ok && r.message).toMatch(/7 bytes.*8-byte header/);
  });

  it('rejects an unknown codec id', () => {
    for (const id of [0, 5, 15, 17, 255]) {
      const r = decodeFrame(hex(`00 00 00 00 00 00 ${id.toString(16)} 00 aa`));
      expect(r).toMatchObject({ ok: false, code: 'unknown_codec' });
      expect(!r.ok && r.message).toContain(`codec id ${id}`);
    }
  });
});

describe('wrap-around (timestamps modulo 2^32, sequence numbers modulo 2^16)', () => {
  const header = (timestampMs: number, sequence: number): Uint8Array => encodeFrame({ timestampMs, sequence, codec: 1, flags: 0 }, new Uint8Array(0));

  it('writes counters modulo their width', () => {
    expect(header(2 ** 32 - 1, 65535)).toEqual(hex('ff ff ff ff ff ff 01 00'));
    expect(header(2 ** 32, 65536)).toEqual(hex('00 00 00 00 00 00 01 00'));
    expect(header(2 ** 32 + 1000, 65536 + 42)).toEqual(hex('00 00 03 e8 00 2a 01 00'));
    expect(header(3 * 2 ** 32 + 7, 10 * 65536 + 7)).toEqual(hex('00 00 00 07 00 07 01 00'));
    // Negative counters wrap as two's complement would.
    expect(header(-1, -1)).toEqual(hex('ff ff ff ff ff ff 01 00'));
  });

  it('measures distances the short way round', () => {
    expect(timestampDeltaMs(0xffffffec, 0)).toBe(20); // 20 ms across the wrap
    expect(timestampDeltaMs(0, 0xffffffec)).toBe(-20);
    expect(timestampDeltaMs(1000, 1020)).toBe(20);
    expect(timestampDeltaMs(5, 5)).toBe(0);
    expect(timestampDeltaMs(0, 2 ** 31 - 1)).toBe(2 ** 31 - 1);
    expect(timestampDeltaMs(0, 2 ** 31)).toBe(-(2 ** 31)); // exactly half: counted as behind
    expect(sequenceDelta(65535, 0)).toBe(1);
    expect(sequenceDelta(0, 65535)).toBe(-1);
    expect(sequenceDelta(65530, 4)).toBe(10);
    expect(sequenceDelta(100, 90)).toBe(-10);
    expect(sequenceDelta(0, 32767)).toBe(32767);
    expect(sequenceDelta(0, 32768)).toBe(-32768);
  });

  it('a sender counting past the wrap is read back in order', () => {
    let previous: FrameHeader | null = null;
    for (let k = 0; k < 6; k++) {
      const sent = { timestampMs: 2 ** 32 - 40 + 20 * k, sequence: 65533 + k, codec: 1, flags: 0 };
      const r = decodeFrame(encodeFrame(sent, hex('f8 ff fe')));
      if (!r.ok) throw new Error(r.message);
      if (previous !== null) {
        expect(timestampDeltaMs(previous.timestampMs, r.header.timestampMs)).toBe(20);
        expect(sequenceDelta(previous.sequence, r.header.sequence)).toBe(1);
      }
      previous = r.header;
    }
    expect(previous).toMatchObject({ timestampMs: 60, sequence: 2 });
  });
});

describe('writeFrameHeader', () => {
  it('writes at an offset without touching neighbouring bytes', () => {
    const target = new Uint8Array(12).fill(0xaa);
    writeFrameHeader({ timestampMs: 1000, sequence: 42, codec: 1, flags: 1 }, target, 2);
    expect(target).toEqual(hex('aa aa 00 00 03 e8 00 2a 01 01 aa aa'));
  });

  it('refuses a target without room', () => {
    expect(() => writeFrameHeader({ timestampMs: 0, sequence: 0, codec: 1, flags: 0 }, new Uint8Array(10), 3)).toThrow(RangeError);
    expect(() => writeFrameHeader({ timestampMs: 0, sequence: 0, codec: 1, flags: 0 }, new Uint8Array(7))).toThrow(RangeError);
  });

  it('refuses headers decodeFrame would reject or that cannot be written', () => {
    const ok: FrameHeader = { timestampMs: 0, sequence: 0, codec: 1, flags: 0 };
    const target = new Uint8Array(8);
    expect(() => writeFrameHeader({ ...ok, codec: 5 }, target)).toThrow(/codec must be one of 1, 2, 3, 4, 16/);
    expect(() => writeFrameHeader({ ...ok, flags: 256 }, target)).toThrow(TypeError);
    expect(() => writeFrameHeader({ ...ok, flags: -1 }, target)).toThrow(TypeError);
    expect(() => writeFrameHeader({ ...ok, timestampMs: 1.5 }, target)).toThrow(TypeError);
    expect(() => writeFrameHeader({ ...ok, timestampMs: Number.NaN }, target)).toThrow(TypeError);
    expect(() => writeFrameHeader({ ...ok, sequence: Infinity }, target)).toThrow(TypeError);
  });
});
