/**
 * The one channel between the control plane (main thread) and a media worker: typed
 * messages both ways. Nothing else crosses the thread boundary.
 */
import type { CallQuality } from '../../../protocol/api.ts';
import type { KnobValues } from '../../../protocol/knobs.ts';
import type { IngestCodec } from '../../../protocol/ingest.ts';
import type { BucketMetrics, BucketQos } from '../../../protocol/metrics.ts';
import type { ChunkedSamples, WireChunks } from './sample-chunks.ts';
import type { EgressOptions } from './station-handle.ts';
import type { TransportFigures } from './transport-quality.ts';

export interface StationSpec {
  /** Pool-wide numeric id, used on the hot path instead of strings. */
  id: number;
  traceId: string;
  stationKey: string;
  codec: IngestCodec;
  sampleRate: number;
  /** Ingress queue capacity in packets (seed 001: 48). */
  queueFrames: number;
  /** How far a station's media time may run ahead of the wall clock before packets wait. */
  jitterAllowanceMs: number;
  /**
   * The packets come over a reliable, ordered stream (WebSocket over TCP), not as datagrams:
   * the jitter buffer has no 20 ms floor and plays audio as soon as it is due
   * (media/jitter/jitter-clock.ts). Default false.
   */
  streamed?: boolean;
  bucketMs: number;
  graceMs: number;
  knobs: KnobValues;
  configVersion: number;
  lastKnobEventId: number | null;
  /** Who sends the audio ("token:<id>" or "address:<ip>"); bucket records carry it to retention. */
  client: string;
  /**
   * Set for a recorded run (an upload's part, relay/src/uploads/): packets carry their
   * capture times as arrival times and are processed as they come, with no ingress queue
   * and no playout clock; buckets finalize by those capture times, not the worker's clock.
   */
  recorded?: RecordedRun;
}

export interface RecordedRun {
  /** The part's first packet index: its bucket records carry it, so a part run again replaces its own share of a bucket. */
  part: number;
}

/** Cumulative ingest counters of one station. */
export interface IngestCounters {
  frames_received: number;
  bytes_received: number;
  frames_dropped: number;
  decode_errors: number;
  frames_concealed: number;
  /** Times the station's timeline was moved forward after a stall longer than the grace. */
  resyncs: number;
  /** Frames whose bucket had already been finalized (kept out of storage). */
  late_frames: number;
  /** Packets discarded as duplicates or older than audio already played. */
  frames_out_of_order: number;
}

/** A bucket's counters: the station's, and its call quality over the bucket (live stations behind the jitter buffer). */
export type BucketIngest = IngestCounters & { qos?: BucketQos };

export interface BucketRecord {
  traceId: string;
  stationKey: string;
  bucketTs: number;
  bucketMs: number;
  sampleRate: number;
  metrics: BucketMetrics;
  knobs: KnobValues;
  configVersion: number;
  lastKnobEventId: number | null;
  ingest: BucketIngest;
  /** First sample of the bucket the station sent (earlier samples are silence). */
  sampleStart: number;
  /** Samples in each segment: from the bucket's start to the last sample received. */
  samples: number;
  /** The segments' audio, in chunks (sample-chunks.ts); samples never sent are silence. */
  pre: ChunkedSamples;
  post: ChunkedSamples;
  /** The part's first packet index for a recorded run's bucket (merged with other parts'); null for live ones. */
  recordedPart: number | null;
  /**
   * A recorded run's bucket only (null for live ones): each tap's 400 ms block powers, so
   * that a bucket another part shares can be gated over the blocks of both (recorded-merge.ts).
   */
  loudnessBlocks: LoudnessBlocks | null;
  client: string;
}

/**
 * The mean squares (K-weighted, BS.1770-4) of a tap's 400 ms gating blocks that end in a
 * bucket, oldest first: what the bucket's gated loudness is computed from.
 */
export interface LoudnessBlocks {
  PRE: Float64Array;
  POST: Float64Array;
}

/** A bucket record as it crosses from the worker: the audio as slot numbers. */
export type WireBucketRecord = Omit<BucketRecord, 'pre' | 'post'> & { pre: WireChunks; post: WireChunks };

export interface StationStats {
  id: number;
  queueDepth: number;
  counters: IngestCounters;
  configVersion: number;
  ended: boolean;
  /** Loss and jitter of the arriving packets over the recent window (transport-quality.ts); null for a recording. */
  quality: TransportFigures | null;
  /** Call-quality figures of a live station behind the jitter buffer since it started (jitter/call-quality.ts); null otherwise. */
  call: CallQuality | null;
}

export type ToWorker =
  | { type: 'add'; spec: StationSpec }
  | { type: 'packets'; buffer: ArrayBuffer; bytes: number; count: number }
  | { type: 'end'; id: number }
  | { type: 'schedule'; reqId: number; id: number; applyAtBucketTs: number; knobs: KnobValues; configVersion: number; eventId: number }
  | { type: 'flush'; reqId: number }
  /** Answered once everything posted before it has been processed (flow control of recorded runs). */
  | { type: 'sync'; reqId: number; id: number }
  /** Segment slots handed back after a bucket was written (segment-buffers.ts). */
  | { type: 'recycle'; slots: number[] }
  /** Listener egress on a tap (0 PRE, 1 POST) of a station: start or retune its encoder, or stop it (null). */
  | { type: 'egress'; id: number; tap: 0 | 1; options: EgressOptions | null }
  /**
   * Listener egress of a trace's mix on a tap (mixer.ts): start its mixer, retune it (the
   * same `generation`), start a fresh one (another generation: the handle's count of the
   * tap's starts), or stop it (null). `mixId` is a number from the pool's station numbers,
   * carried by its packets in the egress batch.
   */
  | { type: 'mix_egress'; mixId: number; traceId: string; tap: 0 | 1; generation: number; options: EgressOptions | null };

export type ScheduleRefusal = 'unknown_station' | 'station_ended' | 'bucket_started';

/** The scheduling priority a media worker asked for, and whether it got it. */
export interface WorkerPriority {
  nice: number;
  applied: boolean;
  /** Why not, when not applied. */
  reason?: string;
  /** The worker's thread id (Linux), where the priority is applied. */
  tid?: number;
}

export type FromWorker =
  | { type: 'ready'; priority: WorkerPriority }
  /** A finalized bucket; its audio is in the worker's shared slabs, named by slot. */
  | { type: 'bucket'; record: WireBucketRecord }
  /** A shared slab of segment slots, announced before any bucket uses it; and one let go of. */
  | { type: 'slab'; id: number; buffer: SharedArrayBuffer; chunkSamples: number }
  | { type: 'slab_freed'; id: number }
  | { type: 'status'; id: number; state: 'backpressure' | 'ok'; droppedFrames: number; queueDepth: number }
  | { type: 'decode_error'; id: number; code: string; message: string }
  | { type: 'closed'; id: number; counters: IngestCounters }
  | { type: 'scheduled'; reqId: number; ok: true }
  | { type: 'scheduled'; reqId: number; ok: false; refusal: ScheduleRefusal; currentBucketTs: number | null }
  | { type: 'flushed'; reqId: number }
  /** `known`: the station still exists on the worker. */
  | { type: 'synced'; reqId: number; known: boolean }
  | { type: 'stats'; stations: StationStats[]; latencyBins: Uint32Array; latencyCount: number; latencyMaxMs: number }
  /** Latest meters of every station of the worker: METER_FIELDS numbers per station (seed 003 publication). */
  | { type: 'meters'; ts: number; values: Float64Array }
  /** Band spectra of every station's taps: records of [id, tap (0 PRE, 1 POST), bands, ...dB]. */
  | { type: 'spectra'; values: Float32Array }
  /** Encoded listener audio of the worker's stations since its last flush: egress-batch.ts records (transferred). */
  | { type: 'egress'; buffer: ArrayBuffer; bytes: number; count: number };

/**
 * One tap's published meters, in this order (protocol/telemetry.ts TapMeters). In the
 * Float64Array layout, `integrated_lufs` and `range_lu` are NaN where the JSON says null.
 */
export const TAP_METER_FIELDS = ['rms_dbfs', 'peak_dbfs', 'clipping_ratio', 'momentary_lufs', 'short_term_lufs', 'integrated_lufs', 'range_lu', 'true_peak_dbtp'] as const;
const TAP = TAP_METER_FIELDS.length;

/**
 * Layout of a station's record in a `meters` message: its id, PRE and POST (TAP_METER_FIELDS
 * each), then ingest state.
 */
export const METER_OFFSET = { id: 0, pre: 1, post: 1 + TAP, queueDepth: 1 + 2 * TAP, droppedFrames: 2 + 2 * TAP, decodeErrors: 3 + 2 * TAP, configVersion: 4 + 2 * TAP, qos: 5 + 2 * TAP } as const;
/** Call quality at the end of a station's record, in this order; NaN where the JSON says null (no jitter buffer). */
export const QOS_METER_FIELDS = ['mos', 'level', 'loss_pct', 'jitter_ms', 'jb_delay_ms'] as const;
export const METER_FIELDS = 5 + 2 * TAP + QOS_METER_FIELDS.length;
