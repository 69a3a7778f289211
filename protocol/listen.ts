/**
 * Listening to a live station (seed 002): `GET /ws/listen?stream_id=...&tap=POST|PRE&mode=mse|packets`.
 *
 * The `stream_id` is the capability: whoever holds it may listen, and nothing else is asked
 * for. The relay answers with one `stream_metadata` text message, then binary messages:
 *
 *   mode=mse      a live WebM stream (audio/webm; codecs="opus"): the first binary message is
 *                 the init segment (EBML header and segment header), every later one a whole
 *                 cluster. A listener who joins mid-stream gets the init segment, then
 *                 the newest clusters holding the join burst (about 1 s, so that its player
 *                 can start at once), then each new one: no history beyond that.
 *   mode=packets  one Opus packet per message behind the 8-byte header of `frame.ts` (the
 *                 relay's own media timestamp and sequence number), for the low-latency player.
 *
 * `stream_end` when the station stops; `error` and then a close on failure. The listener may
 * send `pause_request` / `resume_request` (the relay stops sending, and resumes at the live
 * edge) and `client_metrics` (what the player measures).
 *
 * What a browser's SourceBuffer needs (mode=mse):
 * - The init segment once, appended before any cluster. The relay sends it again only if its
 *   bytes change (they depend only on the codec configuration, so within one stream they do
 *   not; an encoder that restarts goes on in the same WebM timeline with the same init). A
 *   new init segment may be appended as it comes, between two clusters.
 * - Whole clusters, in order. The WebM timeline starts at 0 at the stream's first packet and
 *   counts 20 ms per packet: it has no gap of its own, even where the station's audio
 *   stalled.
 * - After `resume_request`, and after the relay skipped clusters for a listener that fell
 *   behind, clusters go on from the live edge: the timeline jumps forward over what was not
 *   sent. A SourceBuffer in `segments` mode then holds a gap, which playback does not cross
 *   by itself: seek to the start of the newest buffered range, or append in `sequence` mode
 *   (which closes the gap). The SourceBuffer keeps the init segment over a pause.
 *
 * In mode=packets the same events show as a jump in the header's timestamp and sequence.
 */
import * as T from './schema.ts';

/** The listen endpoint. */
export const LISTEN_PATH = '/ws/listen';

export const LISTEN_TAPS = ['POST', 'PRE'] as const;
export type ListenTap = (typeof LISTEN_TAPS)[number];
export const LISTEN_MODES = ['mse', 'packets'] as const;
export type ListenMode = (typeof LISTEN_MODES)[number];
/**
 * mode=mse: `default` sends a joiner the newest clusters at once (the join burst, about 1 s);
 * `none` starts at the next cluster: a player reconnecting with audio still buffered asks for
 * it, so that it neither hears the burst twice nor falls a burst behind.
 */
export const LISTEN_BURSTS = ['default', 'none'] as const;
export type ListenBurst = (typeof LISTEN_BURSTS)[number];

/** The MIME type of `mode=mse`'s stream, as `MediaSource.isTypeSupported` takes it. */
export const LISTEN_MSE_MIME = 'audio/webm; codecs="opus"';
/** Egress Opus: always 48 kHz mono, 20 ms packets. */
export const LISTEN_SAMPLE_RATE = 48000;
export const LISTEN_CHANNELS = 1;
export const LISTEN_FRAME_MS = 20;

/** Close codes of the listen socket (4000-4999 are the application's, RFC 6455 §7.4.2). */
export const LISTEN_CLOSE = {
  /** The station ended (after `stream_end`). */
  normal: 1000,
  /** The relay is shutting down. */
  goingAway: 1001,
  /** A malformed query, or too many invalid or too many messages (`error` first). */
  invalid: 1008,
  /** A message over MAX_LISTEN_CLIENT_MESSAGE_BYTES (`error` first). */
  messageTooBig: 1009,
  /** A listener cap is reached: try again later. */
  tryAgainLater: 1013,
  /** The listener fell too far behind for too long. */
  tooSlow: 4008,
  /** No such stream, or it expired: says nothing about which ids exist. */
  notFound: 4404,
} as const;

export const ListenQuery = T.Object({
  stream_id: T.String({ description: 'the stream\'s capability id, as the capture page shows it' }),
  tap: T.Optional(T.Union([T.Literal('POST'), T.Literal('PRE')], { description: 'which tap to hear; default POST' })),
  mode: T.Optional(T.Union([T.Literal('mse'), T.Literal('packets')], { description: 'mse (WebM clusters, default) or packets (framed Opus packets)' })),
  burst: T.Optional(T.Union([T.Literal('default'), T.Literal('none')], { description: 'mse: default (the newest second of clusters at once) or none (from the next cluster: a reconnecting player)' })),
});
export type ListenQuery = T.Static<typeof ListenQuery>;

/** Relay -> listener, first message on every listen socket. */
export const StreamMetadataMessage = T.Object({
  type: T.Literal('stream_metadata'),
  codec: T.Literal('opus'),
  container: T.Union([T.Literal('webm'), T.Literal('none')], { description: 'webm for mode=mse, none for mode=packets' }),
  sampleRate: T.Literal(48000),
  channels: T.Literal(1),
  trace_id: T.String(),
  station_key: T.Nullable(T.String({ description: 'null for a trace\'s mix (every station of the call)' })),
  label: T.Nullable(T.String()),
  tap: T.Union([T.Literal('POST'), T.Literal('PRE')]),
  mode: T.Union([T.Literal('mse'), T.Literal('packets')]),
  bitrate: T.Integer({ minimum: 6000, maximum: 510000, description: 'the egress encoder\'s target, bits per second' }),
  frame_ms: T.Literal(20),
});
export type StreamMetadataMessage = T.Static<typeof StreamMetadataMessage>;

/** Relay -> listener: the station stopped; nothing more will come, and the relay closes with 1000. */
export const StreamEndMessage = T.Object({
  type: T.Literal('stream_end'),
  reason: T.Optional(T.String({ description: 'why, for people: "station stopped", "relay shutting down"' })),
});
export type StreamEndMessage = T.Static<typeof StreamEndMessage>;

/** Relay -> listener: a failure; the close of LISTEN_ERROR_CLOSE follows (none for a bad message: the socket stays). */
export const ListenErrorMessage = T.Object({
  type: T.Literal('error'),
  code: T.Optional(T.String({ description: 'a LISTEN_ERROR_CLOSE key' })),
  message: T.String(),
});
export type ListenErrorMessage = T.Static<typeof ListenErrorMessage>;

/** Every text message the relay sends on a listen socket. */
export const ListenServerMessage = T.Union([StreamMetadataMessage, StreamEndMessage, ListenErrorMessage]);
export type ListenServerMessage = T.Static<typeof ListenServerMessage>;

export const PauseRequest = T.Object({ type: T.Literal('pause_request') });
export const ResumeRequest = T.Object({ type: T.Literal('resume_request') });

/** Listener -> relay: what the player measures (every field optional; sent every few seconds and at events). */
export const ClientMetricsMessage = T.Object({
  type: T.Literal('client_metrics'),
  buffer_s: T.Optional(T.Number({ minimum: 0, maximum: 3600, description: 'audio buffered ahead of the playhead, s' })),
  latency_s: T.Optional(T.Number({ minimum: 0, maximum: 3600, description: 'how far behind live the playhead is, s' })),
  stalls: T.Optional(T.Integer({ minimum: 0, description: 'underruns since the page opened' })),
  time_to_first_audio_ms: T.Optional(T.Number({ minimum: 0, maximum: 3_600_000, description: 'from opening the stream to the first audible sample' })),
  decode_errors: T.Optional(T.Integer({ minimum: 0 })),
  concealed_frames: T.Optional(T.Integer({ minimum: 0, description: 'low-latency mode: frames the player concealed' })),
  jitter_ms: T.Optional(T.Number({ minimum: 0, maximum: 60_000, description: 'low-latency mode: measured arrival jitter' })),
  target_delay_ms: T.Optional(T.Number({ minimum: 0, maximum: 60_000, description: 'low-latency mode: the jitter buffer\'s target' })),
});
export type ClientMetricsMessage = T.Static<typeof ClientMetricsMessage>;

/** Every text message a listener may send. */
export const ListenClientMessage = T.Union([PauseRequest, ResumeRequest, ClientMetricsMessage]);
export type ListenClientMessage = T.Static<typeof ListenClientMessage>;

/** The largest text message a listener may send, bytes. */
export const MAX_LISTEN_CLIENT_MESSAGE_BYTES = 4096;

/**
 * A listener may send at most this many messages per 10 s (pause, resume and metrics every
 * few seconds need far fewer): beyond, an `error` (`too_many_messages`) and close 1008.
 */
export const MAX_LISTEN_CLIENT_MESSAGES_PER_10S = 100;
/**
 * Invalid messages (not JSON, an unknown type, fields that break the schema, binary) each
 * get an `error` and the socket stays; the one after this many on one socket closes it
 * with 1008 (`too_many_invalid`).
 */
export const MAX_LISTEN_INVALID_MESSAGES = 10;

/**
 * The `code` of every `error` the relay sends on a listen socket, with the close that
 * follows (null: the socket stays open). One table, so that clients and relay agree.
 */
export const LISTEN_ERROR_CLOSE = {
  /** The query is wrong: a missing `stream_id`, an unknown `tap` or `mode`. */
  bad_query: LISTEN_CLOSE.invalid,
  /** No stream with this id, or it expired (its station ended longer ago than the grace). */
  not_found: LISTEN_CLOSE.notFound,
  /** The stream has as many listeners as it may (TAPWIRE_MAX_LISTENERS_PER_STREAM): try again later. */
  stream_full: LISTEN_CLOSE.tryAgainLater,
  /** The listener stayed too far behind (unsent bytes over the threshold) for too long. */
  too_slow: LISTEN_CLOSE.tooSlow,
  /** A text message that is not a JSON object. */
  bad_json: null,
  /** A JSON message whose `type` is not one a listener may send. */
  unknown_type: null,
  /** A known type whose fields break its schema, or a binary message. */
  bad_message: null,
  message_too_big: LISTEN_CLOSE.messageTooBig,
  too_many_messages: LISTEN_CLOSE.invalid,
  too_many_invalid: LISTEN_CLOSE.invalid,
} as const;
export type ListenErrorCode = keyof typeof LISTEN_ERROR_CLOSE;
