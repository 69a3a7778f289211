/**
 * Both ingest message kinds make the same packets: binary frames carry the sender's header,
 * seed 001's JSON audio gets sequence numbers and timestamps from the samples sent.
 */
import { describe, expect, it } from 'vitest';
import { CODEC_IDS, encodeFrame } from '../../../protocol/frame.ts';
import { FrameDepacketizer } from './frame-depacketizer.ts';
import { JsonAudioDepacketizer } from './json-audio-depacketizer.ts';

const b64 = (samples: number): string => Buffer.from(new Int16Array(samples).fill(7).buffer).toString('base64');

describe('FrameDepacketizer', () => {
  it('takes the header as sent, and says what is wrong with a bad frame', () => {
    const d = new FrameDepacketizer();
    const r = d.depacketize(encodeFrame({ timestampMs: 123456, sequence: 65535, codec: CODEC_IDS.opus, flags: 1 }, Uint8Array.of(0xfc, 1, 2)));
    expect(r).toEqual({ ok: true, packet: { timestampMs: 123456, sequence: 65535, codec: CODEC_IDS.opus, flags: 1, payload: Uint8Array.of(0xfc, 1, 2) } });
    expect(d.depacketize(Uint8Array.of(1, 2, 3))).toMatchObject({ ok: false, code: 'frame_too_short' });
  });
});

describe('JsonAudioDepacketizer', () => {
  it('numbers packets and stamps each with the media time of its first sample, without drift', () => {
    const d = new JsonAudioDepacketizer(44100);
    const stamps: number[] = [];
    for (let n = 0; n < 300; n++) {
      const r = d.depacketize({ type: 'audio', data: b64(441) }); // 10 ms each
      if (!r.ok) throw new Error(r.message);
      expect(r.packet).toMatchObject({ sequence: n, codec: CODEC_IDS.pcm16, flags: 0 });
      expect(r.packet.payload.length).toBe(882);
      stamps.push(r.packet.timestampMs);
    }
    expect(stamps.slice(0, 3)).toEqual([0, 10, 20]);
    expect(stamps[299]).toBe(2990);
  });

  it('wraps its sequence numbers at 2^16', () => {
    const d = new JsonAudioDepacketizer(8000);
    let last = -1;
    for (let n = 0; n < 65538; n++) {
      const r = d.depacketize({ type: 'audio', data: b64(2) });
      if (r.ok) last = r.packet.sequence;
    }
    expect(last).toBe(1);
  });
});
