import { describe, expect, it } from 'vitest';
import { codecName, decodeFrame } from '../../../../protocol/frame.ts';
import { mulberry32, sine, toInt16 } from '../../audio/signals.ts';
import { DecodeError, OPUS_SAMPLE_RATES, createDecoder, type DecoderCodec } from './decoder.ts';
import { OpusFrameEncoder } from './opus-encoder.ts';
import { OpusFrameDecoder } from './opus.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/), (b) => parseInt(b, 16));

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as DecodeError).code;
  }
  return 'no error';
}

describe('DecodeError', () => {
  it('is an Error with a stable code and an optional cause', () => {
    const cause = new Error('Opus(InvalidPacket)');
    const e = new DecodeError('decode_failed', 'bad packet', { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('DecodeError');
    expect(e.code).toBe('decode_failed');
    expect(e.cause).toBe(cause);
  });

  it('lists the Opus decoder rates', () => {
    expect(OPUS_SAMPLE_RATES).toEqual([8000, 12000, 16000, 24000, 48000]);
  });
});

describe('pcm16', () => {
  it('decodes signed 16-bit little endian', () => {
    const dec = createDecoder('pcm16', 16000);
    expect(dec.sampleRate).toBe(16000);
    const out = new Float32Array(8);
    expect(dec.decode(hex('01 00  00 80  ff 7f  ff ff'), out)).toBe(4);
    expect([...out.subarray(0, 4)]).toEqual([1 / 32768, -1, 32767 / 32768, -1 / 32768].map(Math.fround));
  });

  it('agrees with Buffer.readInt16LE on random bytes at an odd byte offset', () => {
    const rand = mulberry32(5);
    const bytes = Buffer.from(Uint8Array.from({ length: 2001 }, () => Math.floor(rand() * 256)));
    const payload = bytes.subarray(1); // an odd offset: no Int16Array view could be used here
    const out = new Float32Array(1000);
    expect(createDecoder('pcm16', 48000).decode(payload, out)).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(out[i]).toBe(Math.fround(payload.readInt16LE(2 * i) / 32768));
  });

  it('refuses an odd length and a payload longer than out; accepts empty', () => {
    const dec = createDecoder('pcm16', 8000);
    expect(codeOf(() => dec.decode(new Uint8Array(321), new Float32Array(960)))).toBe('bad_payload_length');
    expect(codeOf(() => dec.decode(new Uint8Array(1922), new Float32Array(960)))).toBe('frame_too_long');
    expect(dec.decode(new Uint8Array(1920), new Float32Array(960))).toBe(960);
    expect(dec.decode(new Uint8Array(0), new Float32Array(960))).toBe(0);
  });
});

describe('G.711', () => {
  it('decodes a captured mu-law frame from the wire', () => {
    // timestamp 20 ms, sequence 1, pcmu, voice active; mu-law 0xFF 0x80 0x00 = 0, +32124, -32124.
    const frame = decodeFrame(hex('00 00 00 14  00 01  02  01  ff 80 00'));
    if (!frame.ok) throw new Error(frame.message);
    const name = codecName(frame.header.codec);
    expect(name).toBe('pcmu');
    const dec = createDecoder(name as DecoderCodec, 8000);
    const out = new Float32Array(960);
    expect(dec.decode(frame.payload, out)).toBe(3);
    expect([...out.subarray(0, 3)]).toEqual([0, 32124 / 32768, -32124 / 32768].map(Math.fround));
  });

  it('decodes A-law and refuses a payload longer than out', () => {
    const dec = createDecoder('pcma', 8000);
    const out = new Float32Array(2);
    expect(dec.decode(hex('d5 aa'), out)).toBe(2);
    expect([...out]).toEqual([8 / 32768, 32256 / 32768].map(Math.fround));
    expect(codeOf(() => dec.decode(hex('d5 d5 d5'), out))).toBe('frame_too_long');
  });
});

describe('opus', () => {
  it('is an OpusFrameDecoder that decodes real packets and rejects invalid ones', () => {
    const dec = createDecoder('opus', 24000);
    expect(dec).toBeInstanceOf(OpusFrameDecoder);
    expect(dec.sampleRate).toBe(24000);
    const enc = new OpusFrameEncoder({ sampleRate: 48000 });
    const pcm = toInt16(sine(440, -20, 0.02, 48000));
    const out = new Float32Array(2880); // 120 ms at 24 kHz
    expect(dec.decode(enc.encode(pcm), out)).toBe(480);
    expect(codeOf(() => dec.decode(hex('fb 00'), out))).toBe('decode_failed');
    expect(codeOf(() => dec.decode(new Uint8Array(0), out))).toBe('bad_payload_length');
    expect(dec.decode(enc.encode(pcm), out)).toBe(480);
  });
});

describe('createDecoder', () => {
  it('refuses unknown codecs and impossible rates with a TypeError', () => {
    expect(() => createDecoder('g729' as DecoderCodec, 8000)).toThrow(TypeError);
    expect(() => createDecoder('g722', 8000)).toThrow(TypeError);
    expect(() => createDecoder('opus', 44100)).toThrow(TypeError);
    expect(() => createDecoder('pcm16', 0)).toThrow(TypeError);
    expect(() => createDecoder('pcmu', 8000.5)).toThrow(TypeError);
  });

  it('closes idempotently and refuses decode afterwards, for every codec', () => {
    for (const codec of ['opus', 'pcm16', 'pcmu', 'pcma'] as const) {
      const dec = createDecoder(codec, 16000);
      dec.close();
      dec.close();
      expect(codeOf(() => dec.decode(hex('f8 ff'), new Float32Array(1920))), codec).toBe('decoder_closed');
    }
  });
});
