/**
 * Decodes a run of Opus packets back to back at 48 kHz, for tests that measure what the
 * relay's encoders sent (egress packets, a mix, a listen socket's frames). Every packet must
 * decode to `frameSamples` samples (20 ms by default): one that does not is an error.
 */
import { decodeFrame } from '../../../protocol/frame.ts';
import { OpusFrameDecoder } from '../media/codecs/opus.ts';

export function decodeOpusPackets(packets: readonly Uint8Array[], frameSamples = 960): Float32Array {
  const dec = new OpusFrameDecoder(48000);
  const out = new Float32Array(packets.length * frameSamples);
  const frame = new Float32Array(5760);
  try {
    packets.forEach((p, i) => {
      const n = dec.decode(p, frame);
      if (n !== frameSamples) throw new Error(`packet ${i} decoded to ${n} samples, not ${frameSamples}`);
      out.set(frame.subarray(0, n), i * frameSamples);
    });
  } finally {
    dec.close();
  }
  return out;
}

/** The same for `mode=packets` messages: each is the 8-byte frame header of protocol/frame.ts, then one packet. */
export function decodeFramedOpus(frames: readonly Uint8Array[]): Float32Array {
  return decodeOpusPackets(
    frames.map((f) => {
      const d = decodeFrame(f);
      if (!d.ok) throw new Error(d.message);
      return d.payload;
    }),
  );
}

/** The same for the relay's egress packets or records (their `data`). */
export function decodeEgress(packets: readonly { data: Uint8Array }[]): Float32Array {
  return decodeOpusPackets(packets.map((p) => p.data));
}
