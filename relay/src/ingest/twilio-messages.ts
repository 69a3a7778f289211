/**
 * The edge of a Twilio Media Stream (protocol/twilio.ts): each text message checked against
 * its schema (compiled once with Ajv) and turned into a typed event with numbers for
 * Twilio's decimal strings, or into one of the ingest's error codes with a message that
 * says what was wrong. Nothing past this file sees raw Twilio JSON.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { MAX_LABEL_LENGTH, type Parsed } from '../../../protocol/ingest.ts';
import {
  TWILIO_ENCODING,
  TWILIO_EVENTS,
  TWILIO_SAMPLE_RATE,
  TwilioConnected,
  TwilioDtmf,
  TwilioMark,
  TwilioMedia,
  TwilioStart,
  TwilioStop,
  isTwilioMessage,
} from '../../../protocol/twilio.ts';

export type TwilioEvent =
  | { event: 'connected' }
  | { event: 'start'; streamSid: string; callSid: string; label: string; tracks: string[] }
  | { event: 'media'; track: string; chunk: number; timestampMs: number; payload: string }
  | { event: 'mark'; name: string }
  | { event: 'dtmf' }
  | { event: 'stop' };

const ajv = new Ajv({ allErrors: false, coerceTypes: false, allowUnionTypes: true });
const check = {
  connected: ajv.compile<TwilioConnected>(TwilioConnected),
  start: ajv.compile<TwilioStart>(TwilioStart),
  media: ajv.compile<TwilioMedia>(TwilioMedia),
  mark: ajv.compile<TwilioMark>(TwilioMark),
  dtmf: ajv.compile<TwilioDtmf>(TwilioDtmf),
  stop: ajv.compile<TwilioStop>(TwilioStop),
};

const fail = (code: string, message: string, field?: string): { ok: false; code: string; field?: string; message: string } =>
  field === undefined ? { ok: false, code, message } : { ok: false, code, field, message };

/** One text message of a Twilio stream (its size is checked before, against the ingest's limit). */
export function parseTwilioMessage(text: string): Parsed<TwilioEvent> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('bad_json', 'Twilio stream messages must be JSON objects');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('bad_json', 'Twilio stream messages must be JSON objects');
  const msg = raw as Record<string, unknown>;
  switch (msg.event) {
    case 'connected':
      return check.connected(msg) ? { ok: true, value: { event: 'connected' } } : invalid('bad_message', 'connected', check.connected);
    case 'start':
      return parseStart(msg);
    case 'media':
      if (!check.media(msg)) {
        const r = invalid('bad_message', 'media', check.media);
        const missing = check.media.errors?.[0]?.keyword === 'required';
        return r.field === 'media.payload' && !missing ? { ...r, code: 'bad_base64', message: 'media.payload must be standard base64 (RFC 4648 §4) of µ-law bytes' } : r;
      }
      return {
        ok: true,
        value: { event: 'media', track: msg.media.track, chunk: Number(msg.media.chunk), timestampMs: Number(msg.media.timestamp), payload: msg.media.payload },
      };
    case 'mark':
      return check.mark(msg) ? { ok: true, value: { event: 'mark', name: msg.mark.name } } : invalid('bad_message', 'mark', check.mark);
    case 'dtmf':
      return check.dtmf(msg) ? { ok: true, value: { event: 'dtmf' } } : invalid('bad_message', 'dtmf', check.dtmf);
    case 'stop':
      return check.stop(msg) ? { ok: true, value: { event: 'stop' } } : invalid('bad_message', 'stop', check.stop);
    default:
      return fail('unknown_type', `unknown Twilio event ${JSON.stringify(msg.event ?? null)}; expected one of ${TWILIO_EVENTS.join(', ')}`, 'event');
  }
}

function parseStart(msg: Record<string, unknown>): Parsed<TwilioEvent> {
  if (!check.start(msg)) return invalid('bad_start', 'start', check.start);
  const { start } = msg;
  const format = start.mediaFormat;
  if (format.encoding !== TWILIO_ENCODING) {
    return fail('bad_start', `start.mediaFormat.encoding must be "${TWILIO_ENCODING}" (G.711 µ-law), got ${JSON.stringify(format.encoding)}`, 'start.mediaFormat.encoding');
  }
  if (format.sampleRate !== TWILIO_SAMPLE_RATE) {
    return fail('bad_start', `start.mediaFormat.sampleRate must be ${TWILIO_SAMPLE_RATE}, got ${format.sampleRate}`, 'start.mediaFormat.sampleRate');
  }
  if (format.channels !== 1) return fail('bad_start', `start.mediaFormat.channels must be 1, got ${format.channels}`, 'start.mediaFormat.channels');
  if (!start.tracks.includes('inbound')) {
    return fail('bad_start', `start.tracks must include "inbound" (the track the relay records), got ${JSON.stringify(start.tracks)}`, 'start.tracks');
  }
  const label = start.customParameters?.label ?? start.streamSid;
  if (label.length > MAX_LABEL_LENGTH) {
    return fail('bad_start', `start.customParameters.label must be at most ${MAX_LABEL_LENGTH} characters`, 'start.customParameters.label');
  }
  return { ok: true, value: { event: 'start', streamSid: start.streamSid, callSid: start.callSid, label, tracks: start.tracks } };
}

/** Ajv's first complaint, as `field` (dotted) and " .field must be ...". */
function invalid(code: string, event: string, validate: ValidateFunction): { ok: false; code: string; field?: string; message: string } {
  const e = validate.errors?.[0];
  if (e === undefined) return fail(code, 'the message is not a valid Twilio stream message');
  const missing = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : null;
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const field = missing === null ? path : path === '' ? missing : `${path}.${missing}`;
  const what = missing === null ? `${field} ${e.message ?? 'is not valid'}` : `${field} is missing`;
  return fail(code, `Twilio "${event}" message: ${what}`, field === '' ? undefined : field);
}

/** Whether a connection's first text message opens a Twilio stream (protocol/twilio.ts). */
export function opensTwilioStream(text: string): boolean {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return false;
  }
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && isTwilioMessage(raw as Record<string, unknown>);
}
