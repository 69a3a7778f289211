/**
 * The ingest WebSocket's JSON control messages (`GET /ws/ingest`), parsed and validated here
 * and nowhere else. Binary audio frames are in `frame.ts`.
 *
 * Client -> relay: `start`, `stop`, and seed 001's `audio` (base64 PCM16LE per source).
 * Relay -> client: `started`, `status` (backpressure), `error`, `stopped`.
 */

export const INGEST_CODECS = ['opus', 'pcm16', 'pcmu', 'pcma', 'g722'] as const;
export type IngestCodec = (typeof INGEST_CODECS)[number];

/** Sample rates the relay accepts: 20 ms must be a whole number of samples. */
export const MIN_SAMPLE_RATE = 8000;
export const MAX_SAMPLE_RATE = 48000;
/** Rates an Opus decoder can produce (RFC 6716 §2). */
export const OPUS_DECODE_RATES = [8000, 12000, 16000, 24000, 48000] as const;
export const FRAME_MS_CHOICES = [10, 20, 40, 60] as const;
/** G.722 always codes 16 kHz audio (ITU-T G.722 §1), whatever its RTP clock says (RFC 3551 §4.5.2). */
export const G722_SAMPLE_RATE = 16000;

/** Identifiers a client may choose: a trace to join, a station key, a source name. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const MAX_LABEL_LENGTH = 120;
/** Longest `call_id`, characters (SIP Call-IDs run long). */
export const MAX_CALL_ID_LENGTH = 256;

export interface StartMessage {
  type: 'start';
  codec: IngestCodec;
  sample_rate: number;
  channels: 1;
  frame_ms: number;
  trace_id?: string;
  station_key?: string;
  label?: string;
  /**
   * The sender's own id for the call this station is part of (a SIP Call-ID, Twilio's
   * callSid): it becomes the trace's `call_id` (seed 000 §5.1) when the trace has none.
   */
  call_id?: string;
}

export interface StopMessage {
  type: 'stop';
}

/** Seed 001: one chunk of base64 PCM16LE audio for a named source. */
export interface AudioMessage {
  type: 'audio';
  data: string;
  source?: string;
}

export type IngestClientMessage = StartMessage | StopMessage | AudioMessage;

export interface StartedMessage {
  type: 'started';
  trace_id: string;
  station_key: string;
  /** Listen to this station at /listen/<stream_id> (a capability: share it with listeners). */
  stream_id: string;
  /** Listen to the whole call (every station of the trace, mixed) at /listen/<mix_stream_id>. */
  mix_stream_id: string;
  bucket_ms: number;
  /** Present when the station was created for a seed 001 `source`. */
  source?: string;
}

export interface StatusMessage {
  type: 'status';
  state: 'backpressure' | 'ok';
  station_key: string;
  dropped_frames: number;
  queue_depth: number;
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
  /** The offending field of a `start`, when there is one. */
  field?: string;
  station_key?: string;
  /** Errors of the same code not reported since the last one (rate limit). */
  suppressed?: number;
}

export interface StoppedMessage {
  type: 'stopped';
  trace_id: string;
  station_keys: string[];
  /** Twilio Media Streams: messages counted and not used (outbound media, marks, DTMF). */
  ignored?: Record<string, number>;
}

export type IngestServerMessage = StartedMessage | StatusMessage | ErrorMessage | StoppedMessage;

export type Parsed<T> = { ok: true; value: T } | { ok: false; code: string; field?: string; message: string };

function fail(code: string, message: string, field?: string): { ok: false; code: string; field?: string; message: string } {
  return field === undefined ? { ok: false, code, message } : { ok: false, code, field, message };
}

/** Parses a text message into a typed client message (or says what was wrong). */
export function parseClientMessage(text: string): Parsed<IngestClientMessage> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('bad_json', 'text messages must be JSON objects');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail('bad_json', 'text messages must be JSON objects');
  }
  const msg = raw as Record<string, unknown>;
  switch (msg.type) {
    case 'start':
      return parseStart(msg);
    case 'stop':
      return { ok: true, value: { type: 'stop' } };
    case 'audio':
      return parseAudio(msg);
    default:
      return fail(
        'unknown_type',
        `unknown message type ${JSON.stringify(msg.type ?? null)}; expected "start", "audio" or "stop"`,
        'type',
      );
  }
}

export function parseStart(msg: Record<string, unknown>): Parsed<StartMessage> {
  const codec = msg.codec;
  if (typeof codec !== 'string' || !(INGEST_CODECS as readonly string[]).includes(codec)) {
    return fail('bad_start', `codec must be one of ${INGEST_CODECS.join(', ')}`, 'codec');
  }
  const rate = msg.sample_rate;
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE || rate % 50 !== 0) {
    return fail('bad_start', `sample_rate must be an integer from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz, a multiple of 50`, 'sample_rate');
  }
  if (codec === 'opus' && !(OPUS_DECODE_RATES as readonly number[]).includes(rate)) {
    return fail('bad_start', `opus sample_rate must be one of ${OPUS_DECODE_RATES.join(', ')}`, 'sample_rate');
  }
  if (codec === 'g722' && rate !== G722_SAMPLE_RATE) {
    return fail('bad_start', `g722 sample_rate must be ${G722_SAMPLE_RATE} (G.722 codes 16 kHz audio)`, 'sample_rate');
  }
  if (msg.channels !== 1) return fail('bad_start', 'channels must be 1 (mono)', 'channels');
  const frameMs = msg.frame_ms === undefined ? 20 : msg.frame_ms;
  if (typeof frameMs !== 'number' || !(FRAME_MS_CHOICES as readonly number[]).includes(frameMs)) {
    return fail('bad_start', `frame_ms must be one of ${FRAME_MS_CHOICES.join(', ')}`, 'frame_ms');
  }
  const out: StartMessage = { type: 'start', codec: codec as IngestCodec, sample_rate: rate, channels: 1, frame_ms: frameMs };
  for (const field of ['trace_id', 'station_key'] as const) {
    const v = msg[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || !ID_PATTERN.test(v)) {
      return fail('bad_start', `${field} must be 1-64 characters of letters, digits, _ . : - (starting with a letter or digit)`, field);
    }
    out[field] = v;
  }
  if (msg.label !== undefined && msg.label !== null) {
    if (typeof msg.label !== 'string' || msg.label.length > MAX_LABEL_LENGTH) {
      return fail('bad_start', `label must be a string of at most ${MAX_LABEL_LENGTH} characters`, 'label');
    }
    out.label = msg.label;
  }
  if (msg.call_id !== undefined && msg.call_id !== null) {
    // Printable ASCII, no spaces: what SIP Call-IDs and telephony ids are made of.
    if (typeof msg.call_id !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(msg.call_id)) {
      return fail('bad_start', `call_id must be 1-${MAX_CALL_ID_LENGTH} printable ASCII characters without spaces`, 'call_id');
    }
    out.call_id = msg.call_id;
  }
  return { ok: true, value: out };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function parseAudio(msg: Record<string, unknown>): Parsed<AudioMessage> {
  if (typeof msg.data !== 'string' || !BASE64.test(msg.data)) {
    return fail('bad_base64', 'audio.data must be standard base64 (RFC 4648 §4) of PCM16LE samples', 'data');
  }
  if (msg.source !== undefined && msg.source !== null) {
    if (typeof msg.source !== 'string' || !ID_PATTERN.test(msg.source)) {
      return fail('bad_source', 'audio.source must be 1-64 characters of letters, digits, _ . : -', 'source');
    }
    return { ok: true, value: { type: 'audio', data: msg.data, source: msg.source } };
  }
  return { ok: true, value: { type: 'audio', data: msg.data } };
}
