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
import { CODEC_IDS, decodeFrame, SEQUENCE_MODULUS, TIMESTAMP_MODULUS } from './frame.ts';
import { ID_PATTERN, MAX_LABEL_LENGTH, OPUS_DECODE_RATES } from './ingest.ts';

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
 * Error codes of the upload routes (`{success:false, error:{code, message}}`), besides the
 * API-wide `invalid_request` (400), `unauthorized` (401) and `forbidden` (403). Their
 * statuses are UPLOAD_ERROR_STATUS.
 */
export type UploadErrorCode =
  /** 404: no upload with this id (create it first). */
  | 'upload_not_found'
  /** 409: the id exists with another codec, sample_rate, frame_ms or started_at. */
  | 'upload_conflict'
  /** 400: a chunk record is malformed or not the packet its place says; nothing of the chunk was stored. */
  | 'bad_chunk'
  /** 413: a chunk over MAX_UPLOAD_CHUNK_BYTES. */
  | 'body_too_large'
  /** 409: a part overlaps a processed part with a different range. */
  | 'part_overlap'
  /** 409: packets of the part are missing (the message says how many and the first). */
  | 'incomplete'
  /** 503: the relay could not process the part now (stopping, worker lost); its packets are kept, retry. */
  | 'processing_failed'
  /**
   * 413: the chunk's new packets would take the bytes stored but not yet processed over the
   * relay's limit, per upload (TAPWIRE_UPLOAD_MAX_MB, 256 MiB by default) or summed over the
   * uploads of one token (TAPWIRE_UPLOAD_TOKEN_MAX_MB, 1024 MiB). Nothing of the chunk was
   * stored; processing parts frees their packets. Packets already stored do not count again.
   */
  | 'upload_quota'
  /**
   * 410: the upload was untouched (no create, chunk or part) for the relay's expiry
   * (TAPWIRE_UPLOAD_EXPIRY_HOURS, 72 h by default), so its unprocessed packets were deleted.
   * Processed parts stay, the state still answers (`expired_at`) and so does a part
   * already processed; what is left goes under a new upload_id.
   */
  | 'upload_expired'
  /**
   * 400: the capture (at create: `started_at`; for a part: its end) is older than the
   * relay keeps audio (TAPWIRE_SEGMENT_MAX_AGE_HOURS, 7 days by default): retention would
   * delete it at once. A refused part's packets are kept.
   */
  | 'upload_too_old'
  /**
   * 409: a chunk carries other bytes (flags or payload) for a packet index already stored;
   * the message names the first. Nothing of the chunk was stored. Indices inside processed
   * parts cannot be compared (their packets are gone once in the segments): a chunk there
   * counts as duplicates whatever it holds.
   */
  | 'chunk_conflict';

/** The HTTP status of each upload error code. */
export const UPLOAD_ERROR_STATUS: Readonly<Record<UploadErrorCode, number>> = {
  upload_not_found: 404,
  upload_conflict: 409,
  bad_chunk: 400,
  body_too_large: 413,
  part_overlap: 409,
  incomplete: 409,
  processing_failed: 503,
  upload_quota: 413,
  upload_expired: 410,
  upload_too_old: 400,
  chunk_conflict: 409,
};

/** Largest chunk body accepted by `PUT .../packets`, bytes (413 beyond). */
export const MAX_UPLOAD_CHUNK_BYTES = 1024 * 1024;
/** Largest single packet (frame header + payload) in a chunk, bytes. */
export const MAX_UPLOAD_PACKET_BYTES = 4096;
/** Longest part processed in one request, packets (about 30 minutes at 20 ms). */
export const MAX_PART_PACKETS = 90_000;

/** `PUT /api/uploads/:upload_id` body. */
export interface UploadCreateRequest {
  codec: UploadCodec;
  /** Hz; 48000 for the PWA. */
  sample_rate: number;
  channels: 1;
  /** Duration of each packet, ms. */
  frame_ms: number;
  /** Wall time (UTC ISO-8601 with ms) of the first sample of packet 0. */
  started_at: string;
  label?: string;
}

/** A processed part, as the relay reports it. */
export interface UploadPart {
  first_index: number;
  end_index: number;
  /** 20 ms frames that went through the pipeline. */
  frames: number;
  /** Buckets this part wrote or added to, oldest first. */
  bucket_ts: string[];
}

/** Body of every successful upload response (plus `success: true`). */
export interface UploadState {
  upload_id: string;
  trace_id: string;
  station_key: string;
  label: string | null;
  codec: UploadCodec;
  sample_rate: number;
  frame_ms: number;
  started_at: string;
  /** Packets stored so far (processed parts included). */
  packets_received: number;
  /** One past the highest packet index stored, or 0. */
  end_index: number;
  parts: UploadPart[];
  /** When the relay expired the upload (deleted its unprocessed packets), or null. */
  expired_at: string | null;
}

/** `PUT .../packets` response: the state plus what this chunk did. */
export interface UploadChunkResponse extends UploadState {
  accepted: number;
  duplicates: number;
}

/** `POST .../parts` body. */
export interface UploadPartRequest {
  first_index: number;
  /** Exclusive. */
  end_index: number;
}

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

/** Checks a create request's fields (started_at only for being a string: the relay parses it). */
export function validateUploadCreate(body: Record<string, unknown>): { ok: true; value: UploadCreateRequest } | { ok: false; field: string; message: string } {
  const fail = (field: string, message: string) => ({ ok: false as const, field, message });
  if (!(UPLOAD_CODECS as readonly unknown[]).includes(body.codec)) return fail('codec', `codec must be ${UPLOAD_CODECS.map((c) => `"${c}"`).join(' or ')}`);
  if (!(UPLOAD_SAMPLE_RATES as readonly unknown[]).includes(body.sample_rate)) {
    return fail('sample_rate', `sample_rate must be one of ${UPLOAD_SAMPLE_RATES.join(', ')} Hz`);
  }
  if (body.channels !== 1) return fail('channels', 'channels must be 1 (mono)');
  if (body.frame_ms !== UPLOAD_FRAME_MS) return fail('frame_ms', `frame_ms must be ${UPLOAD_FRAME_MS}`);
  if (typeof body.started_at !== 'string') return fail('started_at', 'started_at must be an ISO-8601 UTC timestamp such as 2026-01-03T21:15:00.000Z');
  if (body.label !== undefined && (typeof body.label !== 'string' || body.label.length > MAX_LABEL_LENGTH)) {
    return fail('label', `label must be a string of at most ${MAX_LABEL_LENGTH} characters`);
  }
  const value: UploadCreateRequest = { codec: body.codec as UploadCodec, sample_rate: body.sample_rate as number, channels: 1, frame_ms: UPLOAD_FRAME_MS, started_at: body.started_at };
  if (body.label !== undefined) value.label = body.label as string;
  return { ok: true, value };
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
