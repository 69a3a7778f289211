/**
 * The relay's REST API besides the optimizer contract (optimizer-api.ts) and uploads
 * (upload.ts): one trace's details, relay stats, and the health check.
 */
import * as T from './schema.ts';

// GET /api/traces/:trace_id ----------------------------------------------------------------

export const TraceParams = T.Object({ trace_id: T.String({ minLength: 1, description: 'e.g. trace_abc123' }) });
export type TraceParams = T.Static<typeof TraceParams>;

const BucketRange = {
  first_bucket_ts: T.Nullable(T.IsoTimestamp(), 'the first bucket stored, or null'),
  last_bucket_ts: T.Nullable(T.IsoTimestamp(), 'the last bucket stored, or null'),
  bucket_count: T.Integer({ minimum: 0, description: 'buckets stored (one per bucket and station for a trace)' }),
};

export const StationDetail = T.Object({
  station_key: T.String(),
  label: T.Nullable(T.String()),
  codec: T.String({ description: 'opus, pcm16, pcmu or pcma' }),
  sample_rate: T.Integer({ description: 'Hz' }),
  stream_id: T.String({ description: 'listen at /listen/<stream_id>' }),
  started_at: T.IsoTimestamp(),
  ended_at: T.Nullable(T.IsoTimestamp()),
  end_reason: T.Nullable(T.String(), 'why the station ended (stop, idle_timeout, uploaded, relay_restart, ...), or null'),
  live: T.Boolean({ description: 'streaming now' }),
  config_version: T.Integer({ minimum: 0 }),
  ...BucketRange,
});
export type StationDetail = T.Static<typeof StationDetail>;

export const TRACE_KINDS = ['live', 'recorded'] as const;

export const TraceDetail = T.Object({
  trace_id: T.String(),
  kind: T.Enum([...TRACE_KINDS], { description: 'live: streamed; recorded: an upload of an offline recording (never active)' }),
  active: T.Boolean({ description: 'at least one station is streaming' }),
  started_at: T.IsoTimestamp(),
  ended_at: T.Nullable(T.IsoTimestamp()),
  call_id: T.Nullable(T.String()),
  ...BucketRange,
  stations: T.Array(StationDetail),
});
export type TraceDetail = T.Static<typeof TraceDetail>;

export const TraceResponse = T.Object({ success: T.SuccessTrue, trace: TraceDetail });
export type TraceResponse = T.Static<typeof TraceResponse>;

// GET /api/relay/stats ---------------------------------------------------------------------

export const StatsQuery = T.Object(
  { reset_latency: T.Optional(T.Enum(['1'], { description: '1: restart the latency window after reading it (benchmarks measure windows)' })) },
  { additionalProperties: false },
);
export type StatsQuery = T.Static<typeof StatsQuery>;

const Count = (description?: string) => T.Integer({ minimum: 0, ...(description === undefined ? {} : { description }) });

/** Counters a station's media pipeline keeps. */
const StationCounters = {
  frames_received: Count(),
  bytes_received: Count(),
  frames_dropped: Count('dropped from a full ingress queue'),
  decode_errors: Count(),
  frames_concealed: Count('filled by packet-loss concealment'),
  resyncs: Count('times the timeline moved forward after a stall longer than the grace'),
  late_frames: Count('frames whose bucket was already finalized (kept out of storage)'),
  frames_out_of_order: Count('packets discarded as duplicates or older than audio already played'),
};

/** How a station's audio reaches the relay. */
export const STATION_TRANSPORTS = ['websocket', 'upload', 'rtp', 'webrtc'] as const;
export type StationTransport = (typeof STATION_TRANSPORTS)[number];

/**
 * Call-quality figures of a station's packets over a recent window (seed 004 §8.1;
 * protocol/qos.ts turns them into a level). Over WebSocket ingest: loss from sequence gaps
 * and RFC 3550 interarrival jitter from arrival times against the frames' media timestamps;
 * no one-way latency (no clock shared with the sender), so the MOS there counts loss only.
 */
export const TransportQuality = T.Object({
  window_s: T.Integer({ minimum: 1, description: 'the window the loss is counted over, s' }),
  loss_percent: T.Nullable(T.Number({ minimum: 0, maximum: 100 }), 'packets lost in the window, percent; null when none was expected'),
  jitter_ms: T.Nullable(T.Number({ minimum: 0 }), 'interarrival jitter (RFC 3550 §6.4.1), ms; null before two packets'),
  latency_ms: T.Nullable(T.Number({ minimum: 0 }), 'one-way latency, ms; null where the transport cannot measure it (WebSocket)'),
  mos: T.Nullable(T.Number({ minimum: 1, maximum: 4.5 }), 'E-model MOS (seed 004 §8.1) from latency and loss; null with no loss figure'),
});
export type TransportQuality = T.Static<typeof TransportQuality>;

/**
 * Call-quality figures of a live station since it started, after WebRTC's inbound RTP
 * statistics, measured at the relay's jitter buffer: what arrived, what was lost or came too
 * late, what was concealed, the delay the buffer held, and an E-model estimate (ITU-T G.107
 * simplified, protocol/qos.ts) with the seed 004 §8.1 level. The delay in the estimate is
 * the relay's part only (the jitter buffer's mean delay): the network's is not known.
 */
export const CallQuality = T.Object({
  packets_received: Count('packets that reached the jitter buffer'),
  packets_lost: Count('packets not there at their play-out time (concealed)'),
  loss_percent: T.Nullable(T.Number({ minimum: 0, maximum: 100 }), 'lost over lost and played, percent; null before play-out'),
  jitter_ms: T.Nullable(T.Number({ minimum: 0 }), 'interarrival jitter (RFC 3550 §6.4.1), ms; null before two packets'),
  packets_late: Count('packets that came after their play-out time (discarded)'),
  packets_discarded: Count('late, duplicate and overflowed packets'),
  concealed_ms: T.Number({ minimum: 0, description: 'audio made by concealment (losses and inserted frames), ms' }),
  concealment_events: Count('runs of consecutive concealed frames'),
  inserted_ms: T.Number({ minimum: 0, description: 'frames inserted to grow the delay (preemptive expand), ms' }),
  removed_ms: T.Number({ minimum: 0, description: 'packets dropped to shrink the delay (accelerate), ms' }),
  accelerate_decisions: Count('times the buffer shrank its delay by a packet (played at once while the audio may run ahead of the wall clock, dropped after: removed_ms)'),
  expand_decisions: Count('times the buffer grew its delay by a period (waited while the audio may fall behind the wall clock, a concealed frame inserted after: inserted_ms)'),
  jitter_buffer_delay_ms: T.Nullable(T.Number(), 'mean time from arrival to play-out of the packets played, ms; null before one'),
  jitter_buffer_target_ms: T.Number({ minimum: 0, description: 'the delay the buffer aims at now, ms' }),
  burst_r: T.Number({ minimum: 0, description: 'burstiness of the loss (G.107 BurstR): 1 random, more when losses come in runs' }),
  r: T.Number({ description: 'E-model transmission rating R (G.107, simplified)' }),
  mos: T.Number({ minimum: 1, maximum: 4.5, description: 'MOS from R (G.107 Annex B)' }),
  level: T.Enum(['GOOD', 'POOR', 'CRITICAL'], { description: 'seed 004 §8.1 level of the delay, loss, jitter and MOS' }),
});
export type CallQuality = T.Static<typeof CallQuality>;

export const StationStats = T.Object({
  trace_id: T.String(),
  station_key: T.String(),
  transport: T.Enum([...STATION_TRANSPORTS], { description: 'how the audio arrives' }),
  queue_depth: Count('packets waiting in the ingress queue'),
  config_version: T.Integer({ minimum: 0 }),
  // Absent while the station's pipeline has not reported yet.
  ...T.optionalProperties(StationCounters),
  transport_quality: T.Optional(TransportQuality),
  // Live stations behind the jitter buffer only.
  call_quality: T.Optional(CallQuality),
});
export type StationStats = T.Static<typeof StationStats>;

/** Percentiles of a latency, ms. */
const LatencySummary = T.Object({ count: Count(), p50: T.Number(), p99: T.Number(), max: T.Number() });

/** One listened-to stream (a station, or a trace's mix) while it has listeners or a running encoder. */
export const ListenStreamStats = T.Object({
  stream: T.String({ description: 'a short hash of the stream id (the id itself is a capability), as the logs name it' }),
  kind: T.Union([T.Literal('station'), T.Literal('mix')]),
  trace_id: T.String(),
  station_key: T.Nullable(T.String(), 'null for a mix'),
  listeners: T.Object({ mse: Count(), packets: Count() }, { description: 'listening now' }),
  joins: Count('listeners that joined since the stream had its first'),
  disconnects: T.Record(T.String(), Count(), { description: 'listeners gone, by reason (client_closed, too_slow, stream_ended, ...)' }),
  bytes_sent: Count('bytes of audio frames written to its listeners\' sockets, WebSocket framing included'),
  skips: Count('clusters or packets not sent to a listener that was behind'),
  client_stalls: Count('underruns its players reported'),
  client_decode_errors: Count('decode errors its players reported'),
  encoders: T.Array(T.Object({ tap: T.Union([T.Literal('POST'), T.Literal('PRE')]), packets: Count(), restarts: Count() }), { description: 'running egress encoders' }),
  ingest_to_send_ms: T.Object({ mse: LatencySummary, packets: LatencySummary }, { description: 'arrival on the relay of the audio to its bytes handed to the sockets' }),
});
export type ListenStreamStats = T.Static<typeof ListenStreamStats>;

export const RelayStats = T.Object({
  relay: T.Object({
    connections: Count('ingest connections accepted'),
    frames_received: Count(),
    bytes_received: Count(),
    decode_errors: Count(),
    protocol_errors: Count('frames or messages rejected before reaching a station'),
    frames_dropped: StationCounters.frames_dropped,
    frames_concealed: StationCounters.frames_concealed,
    late_frames: StationCounters.late_frames,
    resyncs: StationCounters.resyncs,
    frames_out_of_order: StationCounters.frames_out_of_order,
    buckets_written: Count(),
    write_backlog: Count('bucket records waiting to be written'),
    segment_bytes: Count('WAV segment bytes on disk'),
  }),
  pipeline_latency_ms: T.Object(
    { frames: Count(), p50: T.Number(), p99: T.Number(), max: T.Number() },
    { description: "per-frame pipeline latency since the last reset: from the station's clock releasing a packet (after the jitter buffer) to its POST meters" },
  ),
  stations: T.Array(StationStats),
  listen_streams: T.Array(ListenStreamStats),
});
export type RelayStats = T.Static<typeof RelayStats>;

export const RelayStatsResponse = T.Object({ success: T.SuccessTrue, ...RelayStats.properties });
export type RelayStatsResponse = T.Static<typeof RelayStatsResponse>;

// GET /healthz -----------------------------------------------------------------------------

export const HealthInfo = T.Object({
  version: T.String(),
  uptime_s: Count(),
  media_workers: Count(),
  live_stations: Count(),
});
export type HealthInfo = T.Static<typeof HealthInfo>;

export const Health = T.Object({ status: T.Literal('ok'), ...HealthInfo.properties });
export type Health = T.Static<typeof Health>;

// GET /api/openapi.json --------------------------------------------------------------------

/** The OpenAPI 3.1 document of this API (its own schema is the OpenAPI specification's). */
export const OpenApiDocument = T.Object(
  {
    openapi: T.String({ pattern: '^3\\.1\\.\\d+$' }),
    info: T.Object({ title: T.String(), version: T.String() }, { additionalProperties: true }),
    paths: T.Record(T.String(), T.Unknown()),
  },
  // Open: the rest of the document (components, security, ...) is the specification's, not ours.
  { additionalProperties: true, description: 'an OpenAPI 3.1 document' },
);
