/**
 * Plain RTP/UDP ingest (RFC 3550, RFC 3551; docs/RTP.md): a sender asks the relay for a
 * session, gets a UDP port for RTP (and the next one for RTCP), and streams to it. The
 * session is one station, fed in arrival order like a WebSocket station.
 *
 *   POST   /api/rtp/sessions        open: a JSON body, or an SDP offer (application/sdp)
 *   GET    /api/rtp/sessions        the open sessions, with their RTP and RTCP counters
 *   GET    /api/rtp/sessions/:id    one session
 *   DELETE /api/rtp/sessions/:id    close it (our RTCP BYE goes to the sender; the station ends)
 *
 * Every route needs a token with the `ingest` scope.
 */
import { ID_PATTERN, MAX_CALL_ID_LENGTH, MAX_LABEL_LENGTH } from './ingest.ts';
import * as T from './schema.ts';

/** What an RTP session carries; each has its RTP clock and payload type (RFC 3551 §6, RFC 7587). */
export const RTP_CODECS = ['opus', 'pcmu', 'pcma', 'g722'] as const;
export type RtpCodec = (typeof RTP_CODECS)[number];

export interface RtpCodecSpec {
  /** The rtpmap encoding name (compared without case). */
  encoding: string;
  /** Static payload type (RFC 3551 Table 4), or null for a dynamic one (96-127). */
  staticPayloadType: number | null;
  /** RTP timestamp clock, Hz. G.722's is 8000 although it codes 16 kHz audio (RFC 3551 §4.5.2). */
  clockRate: number;
  /** Channels the rtpmap names: Opus is always written opus/48000/2 (RFC 7587 §7). */
  channels: number;
  /** Rate the station decodes to, Hz. */
  sampleRate: number;
}

export const RTP_CODEC_SPECS: Readonly<Record<RtpCodec, RtpCodecSpec>> = {
  opus: { encoding: 'opus', staticPayloadType: null, clockRate: 48000, channels: 2, sampleRate: 48000 },
  pcmu: { encoding: 'PCMU', staticPayloadType: 0, clockRate: 8000, channels: 1, sampleRate: 8000 },
  pcma: { encoding: 'PCMA', staticPayloadType: 8, clockRate: 8000, channels: 1, sampleRate: 8000 },
  g722: { encoding: 'G722', staticPayloadType: 9, clockRate: 8000, channels: 1, sampleRate: 16000 },
};

export const MIN_DYNAMIC_PAYLOAD_TYPE = 96;
export const MAX_DYNAMIC_PAYLOAD_TYPE = 127;
/** Largest SDP offer taken, bytes. */
export const MAX_SDP_BYTES = 16 * 1024;

const Id = (description: string) => T.String({ pattern: ID_PATTERN.source, description });

export const RtpSessionRequest = T.Object(
  {
    codec: T.Enum([...RTP_CODECS], { description: 'what the sender puts in its RTP packets' }),
    payload_type: T.Optional(
      T.Integer({
        minimum: 0,
        maximum: 127,
        description: 'RTP payload type: 0 for pcmu, 8 for pcma, 9 for g722 (RFC 3551); 96-127 for opus, or omitted to take the first dynamic type that arrives',
      }),
    ),
    clock_rate: T.Optional(T.Integer({ description: 'RTP clock, Hz: 48000 for opus, 8000 for the others (G.722 too, RFC 3551 §4.5.2)' })),
    channels: T.Optional(T.Integer({ minimum: 1, maximum: 2, description: 'opus: 2 as rtpmap writes it (or 1); the others: 1. The station is mono' })),
    trace_id: T.Optional(Id('join this live trace; omitted: a new trace')),
    station_key: T.Optional(Id('the station key in the trace; omitted: one is made')),
    label: T.Optional(T.String({ maxLength: MAX_LABEL_LENGTH })),
    call_id: T.Optional(T.String({ pattern: '^[\\x21-\\x7e]+$', maxLength: MAX_CALL_ID_LENGTH, description: 'the sender\'s id for the call (a SIP Call-ID)' })),
  },
  { additionalProperties: false },
);
export type RtpSessionRequest = T.Static<typeof RtpSessionRequest>;

/** For an SDP offer, what the SDP does not say travels in the query string. */
export const RtpSessionQuery = T.Object({
  trace_id: T.Optional(Id('join this live trace')),
  station_key: T.Optional(Id('the station key in the trace')),
  label: T.Optional(T.String({ maxLength: MAX_LABEL_LENGTH, description: 'default: the SDP session name (s=), unless it is "-"' })),
  call_id: T.Optional(T.String({ pattern: '^[\\x21-\\x7e]+$', maxLength: MAX_CALL_ID_LENGTH, description: 'default: the offer\'s a=call-id attribute' })),
});
export type RtpSessionQuery = T.Static<typeof RtpSessionQuery>;

export const RtpSessionParams = T.Object({ session_id: T.String({ maxLength: 64 }) });

/** The sender's clock as its RTCP sender reports tell it (RFC 3550 §6.4.1). */
export const RtpSenderClock = T.Object({
  reports: T.Integer({ minimum: 0, description: 'sender reports received' }),
  ntp_time: T.IsoTimestamp('the NTP time of the latest sender report (the sender\'s wall clock)'),
  rtp_timestamp: T.Integer({ minimum: 0, description: 'the RTP timestamp of that same instant' }),
  received_at: T.IsoTimestamp('when that report arrived, by the relay\'s clock'),
  clock_offset_ms: T.Number({ description: 'sender NTP time minus the relay\'s arrival time of the report: clock difference plus one-way delay' }),
  media_origin: T.IsoTimestamp('the sender\'s wall time of the first RTP packet\'s timestamp (media time 0 of the station), by the latest report'),
  drift_ppm: T.Nullable(T.Number(), 'RTP clock against NTP clock over the reports received, parts per million; null until two reports'),
});

export const RtpSessionStats = T.Object({
  packets_received: T.Integer({ minimum: 0, description: 'RTP packets of the locked source fed to the station' }),
  bytes_received: T.Integer({ minimum: 0, description: 'their payload bytes' }),
  packets_lost: T.Integer({ description: 'expected minus received (RFC 3550 A.3); negative with duplicates' }),
  extended_highest_seq: T.Integer({ minimum: 0 }),
  jitter_ms: T.Number({ minimum: 0, description: 'interarrival jitter (RFC 3550 A.8)' }),
  malformed: T.Integer({ minimum: 0, description: 'datagrams on the RTP port that are not RTP version 2' }),
  foreign_source: T.Integer({ minimum: 0, description: 'datagrams from an address other than the first sender\'s' }),
  foreign_ssrc: T.Integer({ minimum: 0, description: 'RTP packets with an SSRC other than the first one\'s' }),
  wrong_payload_type: T.Integer({ minimum: 0, description: 'RTP packets of another payload type' }),
  bad_sequence: T.Integer({ minimum: 0, description: 'packets dropped for a sequence number far from the stream\'s (RFC 3550 A.1)' }),
  too_long: T.Integer({ minimum: 0, description: 'G.711 and G.722 packets over 120 ms (960 bytes), dropped: the longest frame the station decodes' }),
  rtcp_received: T.Integer({ minimum: 0 }),
  rtcp_malformed: T.Integer({ minimum: 0 }),
  receiver_reports_sent: T.Integer({ minimum: 0 }),
  sender_clock: T.Nullable(RtpSenderClock, 'null until a sender report arrives'),
});
export type RtpSessionStats = T.Static<typeof RtpSessionStats>;

export const RTP_SESSION_STATES = ['waiting', 'receiving', 'closed'] as const;

export const RtpSessionInfo = T.Object({
  session_id: T.String(),
  state: T.Enum([...RTP_SESSION_STATES], { description: 'waiting for the first packet, receiving, or closed' }),
  host: T.String({ description: 'the address the relay\'s UDP ports are bound to' }),
  port: T.Integer({ description: 'send RTP here (an even port)' }),
  rtcp_port: T.Integer({ description: 'send RTCP here: port + 1' }),
  trace_id: T.String(),
  station_key: T.String(),
  stream_id: T.String({ description: 'listen to the station at /listen/<stream_id>' }),
  mix_stream_id: T.String(),
  codec: T.Enum([...RTP_CODECS]),
  payload_type: T.Nullable(T.Integer(), 'null: an Opus session that takes the first dynamic type to arrive'),
  clock_rate: T.Integer({ description: 'RTP clock, Hz' }),
  sample_rate: T.Integer({ description: 'the station\'s audio rate, Hz' }),
  ptime_ms: T.Nullable(T.Integer(), 'packet duration the offer announced (a=ptime)'),
  ssrc: T.Nullable(T.Integer(), 'the sender\'s SSRC, once its first packet arrived (others are refused)'),
  source: T.Nullable(T.String(), 'the sender\'s address:port, once its first packet arrived (others are refused)'),
  created_at: T.IsoTimestamp(),
  close_reason: T.Nullable(T.String(), 'why it closed: deleted, bye, idle, start_timeout, relay_stop'),
  stats: RtpSessionStats,
});
export type RtpSessionInfo = T.Static<typeof RtpSessionInfo>;

export const RtpSessionResponse = T.Object({ success: T.SuccessTrue, ...RtpSessionInfo.properties });
export const RtpSessionListResponse = T.Object({ success: T.SuccessTrue, sessions: T.Array(RtpSessionInfo) });
