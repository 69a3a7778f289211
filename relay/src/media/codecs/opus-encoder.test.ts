/**
 * The egress encoder against our own libopus decoder: levels survive within 1 dB, packets
 * are the size the bitrate asks for, and what comes out is the input (a tone stays a tone,
 * speech keeps its envelope) at 48 kHz, at an Opus rate below it (16 kHz) and at a rate
 * Opus does not take (44.1 kHz, resampled).
 */
import { describe, expect, it } from 'vitest';
import { measureRmsDbfs, sine, speechLike, whiteNoise } from '../../audio/signals.ts';
import { MAX_STREAM_PACKET_BYTES, OpusStreamEncoder, type OpusStreamOptions } from './opus-encoder.ts';
import { OpusFrameDecoder } from './opus.ts';

interface Encoded {
  /** Decoded at 48 kHz: 960 samples per packet. */
  decoded: Float32Array;
  sizes: number[];
  enc: OpusStreamEncoder;
}

/** Encodes x (at `rate`) frame by frame, decoding each packet at 48 kHz as it comes. */
function roundTrip(x: Float32Array, rate: number, options: OpusStreamOptions = { bitrate: 32000, complexity: 5 }): Encoded {
  const enc = new OpusStreamEncoder(rate, options);
  const dec = new OpusFrameDecoder(48000);
  const packet = new Uint8Array(MAX_STREAM_PACKET_BYTES);
  const out = new Float32Array(5760);
  const frames = Math.floor(x.length / enc.frameSamples);
  const decoded = new Float32Array(frames * 960);
  const sizes: number[] = [];
  for (let f = 0; f < frames; f++) {
    const n = enc.encode(x.subarray(f * enc.frameSamples), enc.frameSamples, packet, 0);
    sizes.push(n);
    expect(dec.decode(packet.subarray(0, n), out)).toBe(960); // 20 ms of a 48 kHz stream, whatever the input rate
    decoded.set(out.subarray(0, 960), f * 960);
  }
  dec.close();
  return { decoded, sizes, enc };
}

/** Amplitude (dBFS peak) of the hz component of x[from, to), by correlation. */
function toneDbfs(x: Float32Array, hz: number, rate: number, from: number, to: number): number {
  let re = 0;
  let im = 0;
  const w = (2 * Math.PI * hz) / rate;
  for (let i = from; i < to; i++) {
    re += x[i] * Math.cos(w * i);
    im += x[i] * Math.sin(w * i);
  }
  return 20 * Math.log10((2 / (to - from)) * Math.hypot(re, im));
}

const kbps = (sizes: number[]): number => (sizes.reduce((a, b) => a + b, 0) * 8 * 50) / sizes.length / 1000;

describe('OpusStreamEncoder', () => {
  for (const rate of [48000, 16000, 44100]) {
    it(`${rate} Hz in: a 1 kHz sine at -20 dBFS comes out at its level, a clean tone, at about the bitrate`, () => {
      const { decoded, sizes, enc } = roundTrip(sine(1000, -20, 3, rate), rate);
      expect(enc.encoderRate).toBe(rate === 44100 ? 48000 : rate);
      const from = 4800; // 100 ms: past the lookahead and the encoder's start-up
      expect(Math.abs(toneDbfs(decoded, 1000, 48000, from, decoded.length) - -20)).toBeLessThan(1);
      expect(Math.abs(measureRmsDbfs(decoded, from) - -23.01)).toBeLessThan(1);
      // Tone over everything else (noise and distortion): well above what a listener would notice.
      const tonePower = 10 ** (toneDbfs(decoded, 1000, 48000, from, decoded.length) / 10) / 2;
      const total = 10 ** (measureRmsDbfs(decoded, from) / 10);
      expect(10 * Math.log10(tonePower / (total - tonePower))).toBeGreaterThan(30);
      expect(kbps(sizes)).toBeGreaterThan(32 * 0.8);
      expect(kbps(sizes)).toBeLessThan(32 * 1.2);
      enc.close();
    });

    it(`${rate} Hz in: speech-like audio keeps its level and envelope; noise fills the bitrate`, () => {
      const x = speechLike(-20, 5, rate, 3);
      const { decoded, sizes, enc } = roundTrip(x, rate);
      const n = enc.frameSamples;
      const d = enc.delaySamples48k;
      expect(Math.abs(measureRmsDbfs(decoded, d) - measureRmsDbfs(x))).toBeLessThan(1);
      // Frame by frame (the output shifted by the encoder's delay), where the input is active.
      const diffs: number[] = [];
      for (let f = 5; f < sizes.length - 1; f++) {
        const level = measureRmsDbfs(x, f * n, (f + 1) * n);
        if (level > -50) diffs.push(Math.abs(level - measureRmsDbfs(decoded, f * 960 + d, (f + 1) * 960 + d)));
      }
      expect(diffs.length).toBeGreaterThan(100);
      expect(diffs.reduce((a, b) => a + b, 0) / diffs.length).toBeLessThan(1);
      // Active speech frames near the bitrate; pauses take a few bytes (VBR).
      expect(kbps(sizes.filter((s) => s > 10))).toBeGreaterThan(32 * 0.7);
      expect(kbps(sizes.filter((s) => s > 10))).toBeLessThan(32 * 1.3);
      expect(Math.min(...sizes)).toBeLessThan(10);
      const noisy = roundTrip(whiteNoise(-20, 2, rate, 5), rate);
      expect(Math.abs(kbps(noisy.sizes) - 32)).toBeLessThan(32 * 0.15);
      expect(Math.abs(measureRmsDbfs(noisy.decoded, 4800) - -20)).toBeLessThan(1);
      enc.close();
      noisy.enc.close();
    });
  }

  it('matches the waveform of a tone at 48 kHz once shifted by its delay (312 samples, 6.5 ms)', () => {
    const x = sine(1000, -20, 2, 48000);
    const { decoded, enc } = roundTrip(x, 48000);
    expect(enc.delaySamples48k).toBe(312);
    let signal = 0;
    let error = 0;
    for (let i = 4800; i + enc.delaySamples48k < decoded.length; i++) {
      signal += x[i] * x[i];
      error += (decoded[i + enc.delaySamples48k] - x[i]) ** 2;
    }
    expect(10 * Math.log10(signal / error)).toBeGreaterThan(30);
    // 44.1 kHz adds the resampler's 24 input samples (26 at 48 kHz).
    expect(new OpusStreamEncoder(44100, { bitrate: 32000, complexity: 5 }).delaySamples48k).toBe(338);
  });

  it('spends about what the bitrate says, from 16 to 128 kbit/s, and follows a change of bitrate mid-stream', () => {
    const x = whiteNoise(-20, 2, 48000, 9);
    for (const bitrate of [16000, 64000, 128000]) {
      const { sizes } = roundTrip(x, 48000, { bitrate, complexity: 5 });
      expect(Math.abs(kbps(sizes) - bitrate / 1000)).toBeLessThan((bitrate / 1000) * 0.2);
    }
    const enc = new OpusStreamEncoder(48000, { bitrate: 64000, complexity: 10 });
    const packet = new Uint8Array(MAX_STREAM_PACKET_BYTES);
    const before: number[] = [];
    const after: number[] = [];
    for (let f = 0; f < 50; f++) before.push(enc.encode(x.subarray(f * 960), 960, packet, 0));
    enc.configure({ bitrate: 16000, complexity: 0 });
    expect(enc.current).toEqual({ bitrate: 16000, complexity: 0 });
    for (let f = 50; f < 100; f++) after.push(enc.encode(x.subarray(f * 960), 960, packet, 0));
    expect(kbps(before.slice(10))).toBeGreaterThan(50);
    expect(kbps(after.slice(10))).toBeLessThan(20);
    enc.close();
  });

  it('pads a short last frame with silence into a whole 20 ms packet, and writes at the offset asked', () => {
    const enc = new OpusStreamEncoder(44100, { bitrate: 32000, complexity: 5 });
    const dec = new OpusFrameDecoder(48000);
    const dst = new Uint8Array(100 + MAX_STREAM_PACKET_BYTES).fill(0xee);
    const n = enc.encode(sine(1000, -20, 0.01, 44100), 441, dst, 100);
    expect(n).toBeGreaterThan(0);
    expect(dst.subarray(0, 100).every((b) => b === 0xee)).toBe(true);
    expect(dec.decode(dst.subarray(100, 100 + n), new Float32Array(5760))).toBe(960);
    enc.close();
    dec.close();
  });

  it('refuses bad options and rates with a RangeError (a TypeError for a non-number) naming the value', () => {
    const ok = { bitrate: 32000, complexity: 5 };
    expect(() => new OpusStreamEncoder(48000, { ...ok, bitrate: 5999 })).toThrow(RangeError);
    expect(() => new OpusStreamEncoder(48000, { ...ok, bitrate: 5999 })).toThrow('bitrate must be an integer from 6000 to 510000 bit/s, got 5999');
    expect(() => new OpusStreamEncoder(48000, { ...ok, bitrate: 32000.5 })).toThrow(/got 32000.5/);
    expect(() => new OpusStreamEncoder(48000, { ...ok, bitrate: 600000 })).toThrow(RangeError);
    expect(() => new OpusStreamEncoder(48000, { ...ok, complexity: 11 })).toThrow('complexity must be an integer from 0 to 10, got 11');
    expect(() => new OpusStreamEncoder(48000, { ...ok, complexity: -1 })).toThrow(RangeError);
    expect(() => new OpusStreamEncoder(48000, { ...ok, complexity: '5' as unknown as number })).toThrow(TypeError);
    expect(() => new OpusStreamEncoder(11025, ok)).toThrow(/whole samples in 20 ms, got 11025/);
    expect(() => new OpusStreamEncoder(96000, ok)).toThrow(RangeError);
    expect(() => new OpusStreamEncoder(48000, ok, 'lowdelay' as 'audio')).toThrow(/application/);
    const enc = new OpusStreamEncoder(16000, ok);
    expect(() => enc.configure({ bitrate: 1000, complexity: 5 })).toThrow(/got 1000/);
    expect(() => enc.encode(new Float32Array(321), 321, new Uint8Array(2000), 0)).toThrow(/1 to 320 samples, got 321/);
    enc.close();
    enc.close(); // safe twice
    expect(() => enc.encode(new Float32Array(320), 320, new Uint8Array(2000), 0)).toThrow(/after close/);
  });
});
