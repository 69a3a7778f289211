import { describe, expect, it } from 'vitest';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import { PacketReader } from './packet-reader.ts';

const opus = (seq: number, ts: number, payload = Uint8Array.of(0xf8, 1, 2)) => encodeFrame({ timestampMs: ts, sequence: seq, codec: CODEC_IDS.opus, flags: 1 }, payload);

describe('PacketReader', () => {
  it('reads the header of captured bytes: timestamp, sequence, codec, flags, payload', () => {
    // ts 0x01020304 ms, seq 0x0506, opus, VAD flag, a 3-byte packet.
    const bytes = Uint8Array.of(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x01, 0x01, 0xf8, 0xff, 0xfe);
    const r = new PacketReader().read(bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.packet).toMatchObject({ seq: 0x0506, timestampMs: 0x01020304, flags: 1 });
    expect(Array.from(r.packet.payload)).toEqual([0xf8, 0xff, 0xfe]);
  });

  it('unwraps the 16-bit sequence and the 32-bit timestamp into increasing numbers', () => {
    const reader = new PacketReader();
    const seqs: number[] = [];
    const tss: number[] = [];
    for (let n = 0; n < 6; n++) {
      const r = reader.read(opus((65533 + n) & 0xffff, (2 ** 32 - 40 + n * 20) % 2 ** 32));
      if (!r.ok) throw new Error(r.message);
      seqs.push(r.packet.seq);
      tss.push(r.packet.timestampMs);
    }
    expect(seqs).toEqual([65533, 65534, 65535, 65536, 65537, 65538]);
    expect(tss.map((t) => t - tss[0])).toEqual([0, 20, 40, 60, 80, 100]);
  });

  it('keeps a reordered packet in its place, and starts over after a reset', () => {
    const reader = new PacketReader();
    const seq = (s: number): number => {
      const r = reader.read(opus(s, s * 20));
      if (!r.ok) throw new Error(r.message);
      return r.packet.seq;
    };
    expect([seq(10), seq(12), seq(11), seq(13)]).toEqual([10, 12, 11, 13]);
    reader.reset();
    expect(seq(3)).toBe(3);
  });

  it('refuses what is not an Opus packet behind a header, with a code', () => {
    const reader = new PacketReader();
    const short = reader.read(Uint8Array.of(1, 2, 3));
    expect(!short.ok && short.code).toBe('frame_too_short');
    const pcm = reader.read(encodeFrame({ timestampMs: 0, sequence: 0, codec: CODEC_IDS.pcm16, flags: 0 }, Uint8Array.of(0, 0)));
    expect(!pcm.ok && pcm.code).toBe('not_opus');
    const empty = reader.read(opus(1, 20, new Uint8Array(0)));
    expect(!empty.ok && empty.code).toBe('empty_payload');
  });
});
