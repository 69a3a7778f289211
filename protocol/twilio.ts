/**
 * Twilio Media Streams, as Twilio sends them to `<Stream url="wss://…/ws/ingest?token=…">`:
 * JSON text messages tagged by `event` (not `type`), numbers sent as decimal strings. Only
 * the fields the relay uses are required; Twilio may add others and they are ignored.
 *
 *   connected  {event, protocol, version}
 *   start      {event, sequenceNumber, streamSid, start: {streamSid, accountSid, callSid,
 *               tracks, customParameters, mediaFormat: {encoding, sampleRate, channels}}}
 *   media      {event, sequenceNumber, streamSid, media: {track, chunk, timestamp, payload}}
 *              timestamp: ms since the stream started; payload: base64 µ-law (G.711)
 *   mark       {event, sequenceNumber, streamSid, mark: {name}}
 *   dtmf       {event, streamSid, dtmf: {track, digit}}
 *   stop       {event, sequenceNumber, streamSid, stop: {accountSid, callSid}}
 *
 * A connection speaks this dialect when its first text message is a Twilio `connected` or
 * `start` (isTwilioMessage); it is checked against these schemas in
 * relay/src/ingest/twilio-messages.ts.
 */
import * as T from './schema.ts';

/** The one media format a Twilio stream carries, and the only one the relay accepts. */
export const TWILIO_ENCODING = 'audio/x-mulaw';
export const TWILIO_SAMPLE_RATE = 8000;
/** Twilio sends 20 ms of audio (160 µ-law bytes) per media message. */
export const TWILIO_FRAME_MS = 20;
/** The track that becomes the station; the other is counted and ignored. */
export const TWILIO_STATION_TRACK = 'inbound';

/** A non-negative integer sent as a decimal string, at most 15 digits (exact in a double). */
const Decimal = (description: string): T.TString => T.String({ pattern: '^[0-9]{1,15}$', description });
const Sid = (description: string): T.TString => T.String({ minLength: 1, maxLength: 64, description });
const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';

export const TwilioConnected = T.Object({
  event: T.Literal('connected'),
  protocol: T.Optional(T.String({ maxLength: 64 })),
  version: T.Optional(T.String({ maxLength: 64 })),
});
export type TwilioConnected = T.Static<typeof TwilioConnected>;

export const TwilioStart = T.Object({
  event: T.Literal('start'),
  sequenceNumber: T.Optional(Decimal('the message\'s number in the stream')),
  streamSid: T.Optional(Sid('the stream\'s id')),
  start: T.Object({
    streamSid: Sid('the stream\'s id, MZ…'),
    accountSid: T.Optional(Sid('the account, AC…')),
    callSid: T.String({ pattern: '^[\\x21-\\x7e]{1,256}$', description: 'the call, CA…: becomes the trace\'s call_id' }),
    tracks: T.Array(T.String({ maxLength: 16 }), { minItems: 1, maxItems: 2, description: '"inbound", "outbound" or both' }),
    customParameters: T.Optional(T.Record(T.String(), T.String({ maxLength: 1024 }))),
    mediaFormat: T.Object({
      encoding: T.String({ maxLength: 64 }),
      sampleRate: T.Integer(),
      channels: T.Integer(),
    }),
  }),
});
export type TwilioStart = T.Static<typeof TwilioStart>;

export const TwilioMedia = T.Object({
  event: T.Literal('media'),
  sequenceNumber: Decimal('the message\'s number among all messages of the stream (every track, marks, DTMF)'),
  streamSid: T.Optional(Sid('the stream\'s id')),
  media: T.Object({
    track: T.String({ maxLength: 16 }),
    chunk: Decimal('the message\'s number in its track, from 1: a gap is a lost message'),
    timestamp: Decimal('ms since the stream started'),
    payload: T.String({ minLength: 1, pattern: BASE64_PATTERN, description: 'base64 µ-law, 8000 Hz mono' }),
  }),
});
export type TwilioMedia = T.Static<typeof TwilioMedia>;

export const TwilioMark = T.Object({
  event: T.Literal('mark'),
  mark: T.Object({ name: T.String({ maxLength: 256 }) }),
});
export type TwilioMark = T.Static<typeof TwilioMark>;

export const TwilioDtmf = T.Object({
  event: T.Literal('dtmf'),
  dtmf: T.Optional(T.Object({ track: T.Optional(T.String({ maxLength: 16 })), digit: T.Optional(T.String({ maxLength: 4 })) })),
});
export type TwilioDtmf = T.Static<typeof TwilioDtmf>;

export const TwilioStop = T.Object({
  event: T.Literal('stop'),
  stop: T.Optional(T.Object({ accountSid: T.Optional(Sid('the account')), callSid: T.Optional(T.String({ maxLength: 256 })) })),
});
export type TwilioStop = T.Static<typeof TwilioStop>;

export const TWILIO_EVENTS = ['connected', 'start', 'media', 'mark', 'dtmf', 'stop'] as const;
export type TwilioMessage = TwilioConnected | TwilioStart | TwilioMedia | TwilioMark | TwilioDtmf | TwilioStop;

/**
 * Whether a connection's first text message opens a Twilio stream: Twilio's own
 * `connected` or `start` (tagged by `event`), not Tapwire's `start` (tagged by `type`).
 */
export function isTwilioMessage(raw: Record<string, unknown>): boolean {
  return raw.type === undefined && (raw.event === 'connected' || raw.event === 'start');
}
