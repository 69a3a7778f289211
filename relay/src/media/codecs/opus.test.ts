import { describe, expect, it } from 'vitest';
import { measureRmsDbfs, mulberry32, sine, speechLike, toInt16 } from '../../audio/signals.ts';
import { DecodeError } from './decoder.ts';
import { OpusFrameEncoder } from './opus-encoder.ts';
import { OpusFrameDecoder, opusPacketSamples48k } from './opus.ts';

const MAX_120MS_48K = 5760;

function encodeAll(x: Float32Array, opts: ConstructorParameters<typeof OpusFrameEncoder>[0]): Uint8Array[] {
  const enc = new OpusFrameEncoder(opts);
  const pcm = toInt16(x);
  const packets: Uint8Array[] = [];
  for (let i = 0; i + enc.frameSamples <= pcm.length; i += enc.frameSamples) packets.push(enc.encode(pcm.subarray(i, i + enc.frameSamples)));
  enc.close();
  return packets;
}

function decodeAll(dec: OpusFrameDecoder, packets: Uint8Array[]): Float32Array {
  const out = new Float32Array(dec.sampleRate * 0.12);
  const all = new Float32Array(packets.length * out.length);
  let n = 0;
  for (const p of packets) {
    const k = dec.decode(p, out);
    all.set(out.subarray(0, k), n);
    n += k;
  }
  return all.subarray(0, n);
}

/** Amplitude (dBFS peak) of the freqHz component of x[start, end), by correlation. */
function toneDbfs(x: Float32Array, freqHz: number, sampleRate: number, start: number, end: number): number {
  let re = 0;
  let im = 0;
  const w = (2 * Math.PI * freqHz) / sampleRate;
  for (let i = start; i < end; i++) {
    re += x[i] * Math.cos(w * i);
    im += x[i] * Math.sin(w * i);
  }
  return 20 * Math.log10((2 / (end - start)) * Math.hypot(re, im));
}

function expectDecodeError(f: () => unknown, code: DecodeError['code']): DecodeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as DecodeError).code).toBe(code);
    return e as DecodeError;
  }
  throw new Error(`expected DecodeError ${code}`);
}

// Invalid by RFC 6716 §3.4: [R2]/§3.2.5 code 3 with a frame count of 0; [R3] a code 1
// packet of even length (its two frames cannot be equal); [R4] a code 2 packet whose first
// frame length (251) runs past the packet's end.
const INVALID_PACKETS = {
  'code 3, M = 0': Uint8Array.of(0xfb, 0x00),
  'code 1, even length': Uint8Array.of(0xf9, 0x01, 0x02, 0x03),
  'code 2, length past end': Uint8Array.of(0xfa, 0xfb, 0x01, 0x02),
};

describe('OpusFrameDecoder + OpusFrameEncoder', () => {
  const sine48 = sine(1000, -12, 1, 48000);
  const packets48 = encodeAll(sine48, { sampleRate: 48000 });

  it('keeps a -12 dBFS 1 kHz sine within 0.5 dB, after the codec delay', () => {
    const dec = new OpusFrameDecoder(48000);
    const y = decodeAll(dec, packets48);
    expect(y.length).toBe(48000);
    const start = 4800; // 100 ms: well past the 6.5 ms lookahead and the encoder's start-up
    expect(Math.abs(measureRmsDbfs(y, start) - measureRmsDbfs(sine48, start))).toBeLessThan(0.5);
    expect(Math.abs(toneDbfs(y, 1000, 48000, start, y.length) - -12)).toBeLessThan(0.5);
    // The 1 kHz tone carries nearly all the energy: the rest (total mean square minus the
    // tone's A²/2) is at least 12 dB below it (measured: 16 dB, VOIP mode at 32 kbit/s).
    const totalMs = 10 ** (measureRmsDbfs(y, start) / 10);
    const toneMs = 10 ** ((toneDbfs(y, 1000, 48000, start, y.length) - 3.0103) / 10);
    expect(10 * Math.log10(totalMs - toneMs)).toBeLessThan(-15.01 - 12);
  });

  it('decodes 48 kHz packets at 16 kHz, and 16 kHz packets at 16 kHz', () => {
    const dec = new OpusFrameDecoder(16000);
    expect(dec.sampleRate).toBe(16000);
    const y = decodeAll(dec, packets48);
    expect(y.length).toBe(16000);
    expect(Math.abs(toneDbfs(y, 1000, 16000, 1600, y.length) - -12)).toBeLessThan(0.5);

    const sine16 = sine(1000, -12, 1, 16000);
    const native = decodeAll(new OpusFrameDecoder(16000), encodeAll(sine16, { sampleRate: 16000 }));
    expect(native.length).toBe(16000);
    expect(Math.abs(measureRmsDbfs(native, 1600) - measureRmsDbfs(sine16, 1600))).toBeLessThan(0.5);
  });

  it('decodes at every Opus rate, rate/50 samples per 20 ms packet', () => {
    const out = new Float32Array(MAX_120MS_48K);
    for (const rate of [8000, 12000, 16000, 24000, 48000] as const) {
      const dec = new OpusFrameDecoder(rate);
      for (const p of packets48.slice(0, 5)) expect(dec.decode(p, out)).toBe(rate / 50);
      dec.close();
    }
  });

  it('refuses rates Opus cannot decode at', () => {
    expect(() => new OpusFrameDecoder(44100 as 48000)).toThrow(TypeError);
    expect(() => new OpusFrameEncoder({ sampleRate: 44100 })).toThrow(TypeError);
  });
});

describe('bad packets', () => {
  const speech = encodeAll(speechLike(-20, 4, 48000, 11), { sampleRate: 48000 });

  it('throws decode_failed for each invalid packet and keeps the decoder state intact', () => {
    for (const [name, bad] of Object.entries(INVALID_PACKETS)) {
      const dec = new OpusFrameDecoder(48000);
      const clean = new OpusFrameDecoder(48000);
      const a = new Float32Array(MAX_120MS_48K);
      const b = new Float32Array(MAX_120MS_48K);
      for (const p of speech.slice(0, 50)) {
        dec.decode(p, a);
        clean.decode(p, b);
      }
      const e = expectDecodeError(() => dec.decode(bad, a), 'decode_failed');
      expect(e.message, name).toMatch(/rejected by libopus/);
      // The next packets decode exactly as if the bad one never came.
      for (const p of speech.slice(50, 100)) {
        expect(dec.decode(p, a)).toBe(960);
        clean.decode(p, b);
        expect(a.subarray(0, 960)).toEqual(b.subarray(0, 960));
      }
    }
  });

  it('survives random bytes: each either decodes to its TOC-declared length or throws decode_failed', () => {
    const dec = new OpusFrameDecoder(48000);
    const out = new Float32Array(MAX_120MS_48K);
    const rand = mulberry32(2024);
    let rejected = 0;
    for (let i = 0; i < 500; i++) {
      const p = Uint8Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256));
      try {
        expect(dec.decode(p, out)).toBe(opusPacketSamples48k(p));
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        expect((e as DecodeError).code).toBe('decode_failed');
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(50); // libopus rejects a good share of random packets
    for (const p of speech.slice(0, 10)) expect(dec.decode(p, out)).toBe(960);
  });

  it('refuses an empty packet (RFC 6716 [R1]) before the library sees it', () => {
    const dec = new OpusFrameDecoder(48000);
    expectDecodeError(() => dec.decode(new Uint8Array(0), new Float32Array(960)), 'bad_payload_length');
    expect(dec.decode(speech[0], new Float32Array(960))).toBe(960);
  });

  it('refuses a packet longer than the output buffer, and a claim of more than 120 ms', () => {
    const long = encodeAll(sine(440, -20, 0.12, 48000), { sampleRate: 48000, frameMs: 60 });
    expect(long.length).toBe(2);
    const dec = new OpusFrameDecoder(48000);
    expectDecodeError(() => dec.decode(long[0], new Float32Array(2879)), 'frame_too_long');
    expect(dec.decode(long[0], new Float32Array(2880))).toBe(2880);
    // Code 3 with 7 frames of 20 ms = 140 ms.
    expectDecodeError(() => dec.decode(Uint8Array.of(0xfb, 0x07, 0, 0, 0, 0, 0, 0, 0), new Float32Array(MAX_120MS_48K)), 'decode_failed');
    const dec8k = new OpusFrameDecoder(8000);
    expectDecodeError(() => dec8k.decode(long[0], new Float32Array(479)), 'frame_too_long');
    expect(dec8k.decode(long[0], new Float32Array(480))).toBe(480);
  });

  it('refuses decode after close, and close is idempotent', () => {
    const dec = new OpusFrameDecoder(48000);
    dec.close();
    dec.close();
    expectDecodeError(() => dec.decode(speech[0], new Float32Array(960)), 'decoder_closed');
  });
});

describe('opusPacketSamples48k (RFC 6716 §3.1 TOC)', () => {
  it('reads frame sizes and counts from the TOC byte', () => {
    expect(opusPacketSamples48k(Uint8Array.of(0xf8, 0xff, 0xfe))).toBe(960); // CELT FB 20 ms, 1 frame
    expect(opusPacketSamples48k(Uint8Array.of(0 << 3))).toBe(480); // SILK NB 10 ms
    expect(opusPacketSamples48k(Uint8Array.of(3 << 3))).toBe(2880); // SILK NB 60 ms
    expect(opusPacketSamples48k(Uint8Array.of(15 << 3))).toBe(960); // Hybrid FB 20 ms
    expect(opusPacketSamples48k(Uint8Array.of(16 << 3))).toBe(120); // CELT NB 2.5 ms
    expect(opusPacketSamples48k(Uint8Array.of((31 << 3) | 1, 0))).toBe(1920); // code 1: 2 frames
    expect(opusPacketSamples48k(Uint8Array.of((31 << 3) | 2, 0))).toBe(1920); // code 2: 2 frames
    expect(opusPacketSamples48k(Uint8Array.of((31 << 3) | 3, 6))).toBe(5760); // code 3: M = 6
    expect(opusPacketSamples48k(Uint8Array.of((31 << 3) | 3))).toBe(0); // code 3 without its count byte
    expect(opusPacketSamples48k(new Uint8Array(0))).toBe(0);
  });
});

describe('OpusFrameEncoder', () => {
  it('reports the libopus lookahead (2.5 ms + 4 ms at 48 kHz)', () => {
    expect(new OpusFrameEncoder({ sampleRate: 48000 }).lookaheadSamples).toBe(312);
    expect(new OpusFrameEncoder({ sampleRate: 16000 }).lookaheadSamples).toBe(104);
  });

  it('produces packets of the chosen duration', () => {
    const x = speechLike(-20, 1.2, 16000, 4);
    for (const frameMs of [10, 20, 40, 60] as const) {
      const packets = encodeAll(x, { sampleRate: 16000, frameMs });
      expect(packets.length).toBe(1200 / frameMs);
      for (const p of packets) expect(opusPacketSamples48k(p)).toBe(frameMs * 48);
    }
  });

  it('tracks the requested bitrate', () => {
    const speech = speechLike(-20, 2, 48000, 9);
    const kbps = (bitrate: number): number => {
      const packets = encodeAll(speech, { sampleRate: 48000, bitrate, application: 'audio' });
      return (packets.reduce((s, p) => s + p.length, 0) * 8) / 2 / 1000;
    };
    const low = kbps(16000);
    const high = kbps(64000);
    expect(high / low).toBeGreaterThan(2.5);
    expect(high).toBeLessThan(64 * 1.2);
  });

  it('encodes an Int16Array view at an offset correctly (not its whole buffer)', () => {
    const x = toInt16(sine(1000, -12, 0.2, 48000));
    const padded = new Int16Array(x.length + 7);
    padded.set(x, 7);
    const enc = new OpusFrameEncoder({ sampleRate: 48000 });
    const dec = new OpusFrameDecoder(48000);
    const out = new Float32Array(960);
    const y = new Float32Array(x.length);
    for (let i = 0; i < x.length; i += 960) {
      dec.decode(enc.encode(padded.subarray(7 + i, 7 + i + 960)), out);
      y.set(out, i);
    }
    expect(Math.abs(toneDbfs(y, 1000, 48000, 4800, y.length) - -12)).toBeLessThan(0.5);
  });

  it('refuses a frame of the wrong length and encode after close', () => {
    const enc = new OpusFrameEncoder({ sampleRate: 48000 });
    expect(() => enc.encode(new Int16Array(959))).toThrow(TypeError);
    enc.close();
    enc.close();
    expect(() => enc.encode(new Int16Array(960))).toThrow(/after close/);
    expect(() => new OpusFrameEncoder({ sampleRate: 48000, bitrate: 1000 })).toThrow(TypeError);
  });
});
