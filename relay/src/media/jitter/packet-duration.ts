/**
 * How much audio a payload holds, read from its bytes without decoding: the jitter buffer
 * places a packet by its duration before the decoder sees it (a decoder must see packets
 * in play-out order only). A payload whose duration cannot be read is one the decoder would
 * refuse too: the caller reports it as a decode error and never buffers it.
 */
import { CODEC_IDS } from '../../../../protocol/frame.ts';
import type { DecodeErrorCode } from '../codecs/decoder.ts';

/** Opus frame durations by TOC configuration, in tenths of a ms (RFC 6716 §3.1, Table 2). */
const OPUS_FRAME_TENTHS = [
  // SILK-only NB, MB, WB: 10, 20, 40, 60 ms
  100, 200, 400, 600, 100, 200, 400, 600, 100, 200, 400, 600,
  // Hybrid SWB, FB: 10, 20 ms
  100, 200, 100, 200,
  // CELT-only NB, WB, SWB, FB: 2.5, 5, 10, 20 ms
  25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200,
];

/** An Opus packet's duration from its TOC byte and frame count (RFC 6716 §3.1-3.2), ms. */
function opusDurationMs(payload: Uint8Array): number | null {
  if (payload.length < 1) return null;
  const toc = payload[0];
  const frameTenths = OPUS_FRAME_TENTHS[toc >> 3];
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code === 1 || code === 2) frames = 2;
  else {
    if (payload.length < 2) return null;
    frames = payload[1] & 0x3f;
    if (frames === 0) return null;
  }
  return (frames * frameTenths) / 10;
}

export type PacketDuration = { ok: true; durationMs: number } | { ok: false; code: DecodeErrorCode; message: string };

/**
 * The payload's duration, ms, for a station of `codecId` at `sampleRate`, or why it has
 * none. `maxMs` is the longest packet the decoder takes (120 ms: Opus's maximum).
 */
export function packetDuration(codecId: number, payload: Uint8Array, sampleRate: number, maxMs: number): PacketDuration {
  let ms: number | null;
  switch (codecId) {
    case CODEC_IDS.pcm16:
      if ((payload.length & 1) !== 0) return { ok: false, code: 'bad_payload_length', message: `pcm16 payload is ${payload.length} bytes; it must be a whole number of 2-byte samples` };
      ms = (payload.length / 2 / sampleRate) * 1000;
      break;
    case CODEC_IDS.pcmu:
    case CODEC_IDS.pcma:
      ms = (payload.length / sampleRate) * 1000;
      break;
    case CODEC_IDS.g722:
      // Two 16 kHz samples per byte at 64 kbit/s.
      ms = payload.length / 8;
      break;
    case CODEC_IDS.opus:
      ms = opusDurationMs(payload);
      if (ms === null) return { ok: false, code: payload.length === 0 ? 'bad_payload_length' : 'decode_failed', message: `Opus packet of ${payload.length} bytes has no readable frame count` };
      // Longer than 120 ms is not a valid Opus packet at all (RFC 6716 §3.2.5), as libopus says.
      if (ms > 120) return { ok: false, code: 'decode_failed', message: `Opus packet says it holds ${ms} ms; at most 120 ms is valid` };
      break;
    default:
      return { ok: false, code: 'decode_failed', message: `unknown codec id ${codecId}` };
  }
  if (ms <= 0) return { ok: false, code: 'bad_payload_length', message: 'empty payload' };
  if (ms > maxMs) return { ok: false, code: 'frame_too_long', message: `payload holds ${ms} ms of audio; at most ${maxMs} ms is taken` };
  return { ok: true, durationMs: ms };
}
