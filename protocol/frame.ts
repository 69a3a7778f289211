/**
 * The binary audio frame carried in WebSocket binary messages, ingest and egress alike
 * (seed 004 §1.4, AUDIO_PAYLOAD): an 8-byte big-endian header, then the codec payload.
 *
 *   offset 0  u32  media timestamp, ms (wraps at 2^32, about 49.7 days)
 *   offset 4  u16  sequence number   (wraps at 2^16)
 *   offset 6  u8   codec id          (CODEC_IDS)
 *   offset 7  u8   flags             (bit 0: voice activity; other bits reserved, kept as sent)
 *   offset 8  ...  payload
 *
 * Both counters wrap like RTP's (RFC 3550 §5.1): writers may pass an ever-growing count and
 * the header carries it modulo 2^32 / 2^16; readers compare with `timestampDeltaMs` and
 * `sequenceDelta`, which take the shorter way round the circle (serial number arithmetic,
 * RFC 1982).
 */

export const FRAME_HEADER_BYTES = 8;

/** Wire codec ids (seed 004 §4.1). pcm16 is signed 16-bit little-endian. */
export const CODEC_IDS = { opus: 1, pcmu: 2, pcma: 3, g722: 4, pcm16: 16 } as const;
export type CodecName = keyof typeof CODEC_IDS;
export type CodecId = (typeof CODEC_IDS)[CodecName];

const NAME_BY_ID: ReadonlyMap<number, CodecName> = new Map(
  (Object.keys(CODEC_IDS) as CodecName[]).map((name) => [CODEC_IDS[name], name]),
);

/** The codec name for a wire id, or undefined for an id this protocol does not define. */
export function codecName(id: number): CodecName | undefined {
  return NAME_BY_ID.get(id);
}

/** Flags bit 0: the sender's voice activity detector saw speech in this frame. */
export const FLAG_VOICE_ACTIVITY = 1;

export const TIMESTAMP_MODULUS = 2 ** 32;
export const SEQUENCE_MODULUS = 2 ** 16;

export interface FrameHeader {
  /** Media timestamp in ms, modulo 2^32. */
  timestampMs: number;
  /** Sequence number, modulo 2^16. */
  sequence: number;
  /** A CODEC_IDS value. */
  codec: number;
  /** Bit field; FLAG_VOICE_ACTIVITY is bit 0. */
  flags: number;
}

export type FrameErrorCode = 'frame_too_short' | 'unknown_codec';

export type DecodedFrame =
  | { ok: true; header: FrameHeader; /** A view into the input buffer, not a copy. */ payload: Uint8Array }
  | { ok: false; code: FrameErrorCode; message: string };

function checkHeader(h: FrameHeader): void {
  if (!Number.isSafeInteger(h.timestampMs)) throw new TypeError(`timestampMs must be an integer, got ${h.timestampMs}`);
  if (!Number.isSafeInteger(h.sequence)) throw new TypeError(`sequence must be an integer, got ${h.sequence}`);
  if (codecName(h.codec) === undefined) throw new TypeError(`codec must be one of ${[...NAME_BY_ID.keys()].join(', ')}, got ${h.codec}`);
  if (!Number.isInteger(h.flags) || h.flags < 0 || h.flags > 0xff) throw new TypeError(`flags must be an integer in [0, 255], got ${h.flags}`);
}

/**
 * Writes the 8-byte header at target[offset]. Timestamp and sequence are written modulo
 * 2^32 and 2^16 (negative values too, as two's complement would); the codec must be a
 * known id, so this never writes a frame that decodeFrame rejects.
 */
export function writeFrameHeader(header: FrameHeader, target: Uint8Array, offset = 0): void {
  checkHeader(header);
  if (!Number.isInteger(offset) || offset < 0 || offset + FRAME_HEADER_BYTES > target.length) {
    throw new RangeError(`a frame header needs ${FRAME_HEADER_BYTES} bytes at offset ${offset}; the target has ${target.length}`);
  }
  const ts = ((header.timestampMs % TIMESTAMP_MODULUS) + TIMESTAMP_MODULUS) % TIMESTAMP_MODULUS;
  const seq = ((header.sequence % SEQUENCE_MODULUS) + SEQUENCE_MODULUS) % SEQUENCE_MODULUS;
  target[offset] = ts >>> 24;
  target[offset + 1] = (ts >>> 16) & 0xff;
  target[offset + 2] = (ts >>> 8) & 0xff;
  target[offset + 3] = ts & 0xff;
  target[offset + 4] = seq >>> 8;
  target[offset + 5] = seq & 0xff;
  target[offset + 6] = header.codec;
  target[offset + 7] = header.flags;
}

/** A new buffer holding the header followed by a copy of the payload. */
export function encodeFrame(header: FrameHeader, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(header, out, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Parses a received frame. The payload is a view into `buf` (no copy): copy it before the
 * buffer is reused. An empty payload is valid here; whether it means anything is the
 * codec's business.
 */
export function decodeFrame(buf: Uint8Array): DecodedFrame {
  if (buf.length < FRAME_HEADER_BYTES) {
    return { ok: false, code: 'frame_too_short', message: `binary frame is ${buf.length} bytes; it needs at least the ${FRAME_HEADER_BYTES}-byte header` };
  }
  const codec = buf[6];
  if (codecName(codec) === undefined) {
    return { ok: false, code: 'unknown_codec', message: `codec id ${codec} is unknown; expected one of ${[...NAME_BY_ID.keys()].join(', ')}` };
  }
  const header: FrameHeader = {
    timestampMs: buf[0] * 0x1000000 + ((buf[1] << 16) | (buf[2] << 8) | buf[3]),
    sequence: (buf[4] << 8) | buf[5],
    codec,
    flags: buf[7],
  };
  return { ok: true, header, payload: buf.subarray(FRAME_HEADER_BYTES) };
}

/**
 * Signed distance from timestamp a to b in ms, the short way round the 2^32 circle:
 * timestampDeltaMs(0xffffffff, 1) === 2. Exactly half the circle counts as negative.
 */
export function timestampDeltaMs(a: number, b: number): number {
  const d = (((b - a) % TIMESTAMP_MODULUS) + TIMESTAMP_MODULUS) % TIMESTAMP_MODULUS;
  return d >= TIMESTAMP_MODULUS / 2 ? d - TIMESTAMP_MODULUS : d;
}

/** Signed distance from sequence a to b, the short way round the 2^16 circle: sequenceDelta(65535, 0) === 1. */
export function sequenceDelta(a: number, b: number): number {
  const d = (((b - a) % SEQUENCE_MODULUS) + SEQUENCE_MODULUS) % SEQUENCE_MODULUS;
  return d >= SEQUENCE_MODULUS / 2 ? d - SEQUENCE_MODULUS : d;
}
