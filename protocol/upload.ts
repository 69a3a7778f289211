/**
 * Uploads of audio captured while the relay was out of reach (the PWA's offline recording).
 *
 * A capture session the relay missed, wholly or in part, is uploaded as one *upload*: a
 * recorded trace (never active, so no optimizer acts on it) with one station, whose
 * buckets and segments sit at the capture times and are read through the same snapshot
 * and segment endpoints as live ones.
 *
 * The session's packets are numbered from 0 (packet i starts `i * frame_ms` after
 * `started_at`). The client uploads the runs of packets the relay did not get live, each
 * run as one *part* `[first_index, end_index)`:
 *
 *   PUT  /api/uploads/:upload_id                  create (201) or confirm (200) the upload
 *   PUT  /api/uploads/:upload_id/packets?first_index=N   a chunk of packets N, N+1, ...
 *   POST /api/uploads/:upload_id/parts            process a run once all its packets are in
 *   GET  /api/uploads/:upload_id                  state: packets received, parts processed
 *
 * Everything is idempotent and resumable: packets are stored by index (a repeated chunk
 * changes nothing; other bytes for a stored index are a conflict), the state says which
 * indices are missing, and processing a part twice returns the first result. All routes
 * need a token with the `ingest` scope. The relay bounds what waits unprocessed (a quota
 * per upload and per token), expires uploads left untouched, and refuses audio older than
 * it keeps.
 */
import type { ErrorCode } from './errors.ts';
import { CODEC_IDS, decodeFrame, SEQUENCE_MODULUS, TIMESTAMP_MODULUS } from './frame.ts';
import { ID_PATTERN, MAX_LABEL_LENGTH, OPUS_DECODE_RATES } from './ingest.ts';
import * as T from './schema.ts';

/** Upload ids are chosen by the client (its session id); same alphabet as other ids. */
export const UPLOAD_ID_PATTERN = ID_PATTERN;
export { MAX_LABEL_LENGTH };

/** The only codec an upload carries today: what the PWA records. */
export const UPLOAD_CODECS = ['opus'] as const;
export type UploadCodec = (typeof UPLOAD_CODECS)[number];
/** Rates an Opus decoder produces (RFC 6716 §2); the PWA records at 48000. */
export const UPLOAD_SAMPLE_RATES = OPUS_DECODE_RATES;
/** Packet duration, ms: the relay's processing frame, so packet i is exactly frame i. */
export const UPLOAD_FRAME_MS = 20;
/** Highest packet index (2^31 - 1: over a year of 20 ms packets). */
export const MAX_UPLOAD_PACKET_INDEX = 2 ** 31 - 1;
/** How far `started_at` may lie in the relay's future (the device's clock may be off), ms. */
export const MAX_UPLOAD_CLOCK_AHEAD_MS = 60_000;

/**
 * Error codes of the upload routes besides the API-wide `invalid_request`, `unauthorized`
 * and `forbidden`. Their statuses and meanings are in the one error table (errors.ts).
 */
export const UPLOAD_ERROR_CODES = [
  'upload_not_found',
  'upload_conflict',
  'bad_chunk',
  'body_too_large',
  'unsupported_media_type',
  'part_overlap',
  'incomplete',
  'processing_failed',
  'upload_quota',
  'upload_expired',
  'upload_too_old',
  'chunk_conflict',
] as const satisfies readonly ErrorCode[];
export type UploadErrorCode = (typeof UPLOAD_ERROR_CODES)[number];

/** Largest chunk body accepted by `PUT .../packets`, bytes (413 beyond). */
export const MAX_UPLOAD_CHUNK_BYTES = 1024 * 1024;
/** Largest single packet (frame header + payload) in a chunk, bytes. */
export const MAX_UPLOAD_PACKET_BYTES = 4096;
/** Longest part processed in one request, packets (about 30 minutes at 20 ms). */
export const MAX_PART_PACKETS = 90_000;

export const UploadParams = T.Object({
  upload_id: T.String({
    pattern: UPLOAD_ID_PATTERN.source,
    description: 'chosen by the client (its capture session): 1-64 of letters, digits, _ . : - starting with a letter or digit',
  }),
});
export type UploadParams = T.Static<typeof UploadParams>;

/** A packet index (packet i starts `i * frame_ms` after `started_at`). */
const PacketIndex = (description: string, maximum = MAX_UPLOAD_PACKET_INDEX) => T.Integer({ minimum: 0, maximum, description });

/** `PUT /api/uploads/:upload_id` body. */
export const UploadCreateRequest = T.Object(
  {
    codec: T.Enum([...UPLOAD_CODECS]),
    // An integer with an enum (not a union of literals), so that a JSON string "48000" is refused, not matched.
    sample_rate: T.Unsafe<(typeof UPLOAD_SAMPLE_RATES)[number]>({ type: 'integer', enum: [...UPLOAD_SAMPLE_RATES], description: 'Hz; 48000 for the PWA' }),
    channels: T.Literal(1, { description: 'mono' }),
    frame_ms: T.Literal(UPLOAD_FRAME_MS, { description: 'duration of each packet, ms' }),
    started_at: T.String({ description: 'wall time (UTC ISO-8601 with ms) of the first sample of packet 0' }),
    label: T.Optional(T.String({ maxLength: MAX_LABEL_LENGTH })),
  },
  { additionalProperties: false },
);
export type UploadCreateRequest = T.Static<typeof UploadCreateRequest>;

/** A processed part, as the relay reports it. */
export const UploadPart = T.Object({
  first_index: PacketIndex('its first packet'),
  end_index: PacketIndex('one past its last packet', MAX_UPLOAD_PACKET_INDEX + 1),
  frames: T.Integer({ minimum: 0, description: '20 ms frames that went through the pipeline' }),
  bucket_ts: T.Array(T.IsoTimestamp(), { description: 'buckets this part wrote or added to, oldest first' }),
});
export type UploadPart = T.Static<typeof UploadPart>;

const UploadStateProperties = {
  upload_id: T.String(),
  trace_id: T.String({ description: 'the recorded trace the upload writes to' }),
  station_key: T.String(),
  label: T.Nullable(T.String()),
  codec: T.Enum([...UPLOAD_CODECS]),
  sample_rate: T.Integer({ description: 'Hz' }),
  frame_ms: T.Integer(),
  started_at: T.IsoTimestamp(),
  packets_received: T.Integer({ minimum: 0, description: 'packet indices the relay has, stored or processed' }),
  end_index: T.Integer({ minimum: 0, description: 'one past the highest of them, or 0' }),
  parts: T.Array(UploadPart),
  expired_at: T.Nullable(T.IsoTimestamp(), 'when the relay expired the upload (deleted its unprocessed packets), or null'),
};

/** An upload's state. */
export const UploadState = T.Object(UploadStateProperties);
export type UploadState = T.Static<typeof UploadState>;

/** The answer of create, part and state: the state. */
export const UploadStateResponse = T.Object({ success: T.SuccessTrue, ...UploadStateProperties });
export type UploadStateResponse = T.Static<typeof UploadStateResponse>;

/** `PUT .../packets` answer: the state plus what this chunk did. */
export const UploadChunkResponse = T.Object({
  ...UploadStateResponse.properties,
  accepted: T.Integer({ minimum: 0, description: 'packets of the chunk stored now' }),
  duplicates: T.Integer({ minimum: 0, description: 'packets of the chunk the relay already had' }),
});
export type UploadChunkResponse = T.Static<typeof UploadChunkResponse>;

/** `PUT .../packets` query. */
export const UploadChunkQuery = T.Object({ first_index: PacketIndex('the index of the chunk\'s first packet') }, { additionalProperties: false });
export type UploadChunkQuery = T.Static<typeof UploadChunkQuery>;

/** `POST .../parts` body. */
export const UploadPartRequest = T.Object(
  {
    first_index: PacketIndex('the part\'s first packet'),
    end_index: PacketIndex('one past its last packet', MAX_UPLOAD_PACKET_INDEX + 1),
  },
  { additionalProperties: false },
);
export type UploadPartRequest = T.Static<typeof UploadPartRequest>;

/**
 * Chunk body (`application/octet-stream`): records back to back, each a big-endian u16
 * length followed by that many bytes of a seed 004 frame (protocol/frame.ts): header
 * timestamp = the packet's capture offset in ms (modulo 2^32), sequence = its index
 * (modulo 2^16), codec = the upload's codec. Record k is packet `first_index + k`.
 */
export const CHUNK_LENGTH_BYTES = 2;

/** Builds a chunk body from frames (each already a seed 004 frame). */
export function encodeChunk(frames: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const f of frames) {
    if (f.length > 0xffff) throw new RangeError(`a frame of ${f.length} bytes does not fit a chunk record`);
    size += CHUNK_LENGTH_BYTES + f.length;
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (const f of frames) {
    out[o] = f.length >>> 8;
    out[o + 1] = f.length & 0xff;
    out.set(f, o + CHUNK_LENGTH_BYTES);
    o += CHUNK_LENGTH_BYTES + f.length;
  }
  return out;
}

export type DecodedChunk = { ok: true; frames: Uint8Array[] } | { ok: false; record: number; message: string };

/** Splits a chunk body into frames (views into `body`); says which record is malformed. */
export function decodeChunk(body: Uint8Array): DecodedChunk {
  const frames: Uint8Array[] = [];
  let o = 0;
  while (o < body.length) {
    if (o + CHUNK_LENGTH_BYTES > body.length) {
      return { ok: false, record: frames.length, message: `record ${frames.length}: the body ends inside its 2-byte length` };
    }
    const len = (body[o] << 8) | body[o + 1];
    const start = o + CHUNK_LENGTH_BYTES;
    if (start + len > body.length) {
      return { ok: false, record: frames.length, message: `record ${frames.length}: length ${len} runs past the end of the body (${body.length - start} bytes left)` };
    }
    frames.push(body.subarray(start, start + len));
    o = start + len;
  }
  return { ok: true, frames };
}

/** One packet of a checked chunk: what the relay keeps (the header is implied by its index). */
export interface ChunkPacket {
  flags: number;
  /** The codec payload, a view into the chunk body. */
  payload: Uint8Array;
}

export type CheckedChunk = { ok: true; packets: ChunkPacket[] } | { ok: false; record: number; message: string };

/**
 * Decodes a chunk for packets `firstIndex, firstIndex + 1, ...` of an upload and checks
 * every record: a seed 004 frame of at most MAX_UPLOAD_PACKET_BYTES, the upload's codec,
 * sequence = index mod 2^16, timestamp = index * frameMs mod 2^32, a non-empty payload.
 * The first bad record is reported; nothing of a bad chunk should be kept.
 */
export function checkChunk(body: Uint8Array, firstIndex: number, frameMs: number, codec: UploadCodec = 'opus'): CheckedChunk {
  const decoded = decodeChunk(body);
  if (!decoded.ok) return decoded;
  if (decoded.frames.length === 0) return { ok: false, record: 0, message: 'the chunk holds no records; send at least one packet' };
  const lastIndex = firstIndex + decoded.frames.length - 1;
  if (lastIndex > MAX_UPLOAD_PACKET_INDEX) {
    return { ok: false, record: MAX_UPLOAD_PACKET_INDEX - firstIndex + 1, message: `packet indices end at ${MAX_UPLOAD_PACKET_INDEX}; this chunk reaches ${lastIndex}` };
  }
  const codecId = CODEC_IDS[codec];
  const packets: ChunkPacket[] = [];
  for (let k = 0; k < decoded.frames.length; k++) {
    const frame = decoded.frames[k];
    const index = firstIndex + k;
    const bad = (what: string): CheckedChunk => ({ ok: false, record: k, message: `record ${k} (packet ${index}): ${what}` });
    if (frame.length > MAX_UPLOAD_PACKET_BYTES) return bad(`${frame.length} bytes; a packet is at most ${MAX_UPLOAD_PACKET_BYTES}`);
    const f = decodeFrame(frame);
    if (!f.ok) return bad(f.message);
    if (f.header.codec !== codecId) return bad(`codec id ${f.header.codec}; this upload is ${codec} (${codecId})`);
    const sequence = index % SEQUENCE_MODULUS;
    if (f.header.sequence !== sequence) return bad(`sequence ${f.header.sequence}; packet ${index} has sequence ${sequence} (its index mod 2^16)`);
    const timestampMs = (index * frameMs) % TIMESTAMP_MODULUS;
    if (f.header.timestampMs !== timestampMs) {
      return bad(`timestamp ${f.header.timestampMs} ms; packet ${index} starts at ${timestampMs} ms (index * ${frameMs} ms, mod 2^32)`);
    }
    if (f.payload.length === 0) return bad(`an empty payload; a ${codec} packet has at least one byte`);
    packets.push({ flags: f.header.flags, payload: f.payload });
  }
  return { ok: true, packets };
}
