/**
 * The station pipeline's stages (docs/ARCHITECTURE.md has the picture): each takes its
 * input, hands its output to the stage it was composed with, and describes its state as
 * JSON-ready counters. Stages allocate their buffers when composed; nothing on the
 * per-packet or per-frame path allocates, logs, or posts a message.
 *
 *   clock (jitter buffer) -> decode (+ concealment) -> framer -> PRE tap -> knob chain -> POST tap
 *                                                   |                        |
 *                                       meters, bucket audio      meters, bucket audio, latency
 */
import type { PacketView } from './packet-batch.ts';

/** What a stage says about itself: counters and state, ready for JSON. */
export type StageStats = Record<string, number | string | boolean | null>;

export interface Stage {
  stats(): StageStats;
}

/** A stage that takes packets in order of release (the decoder, behind a recording's clock or the jitter buffer's drain). */
export interface PacketStage extends Stage {
  process(packet: PacketView): void;
  /** The stage before dropped packets: the next one follows a gap that is not a loss on the network. */
  discontinuity(): void;
}

/** What a clock counts of the packets pushed into it. */
export interface ReceiveCounters {
  frames_received: number;
  bytes_received: number;
  /** Dropped by a full ingress queue (drop-oldest). */
  frames_dropped: number;
}

/**
 * Where packets enter a station, and when they go on: played out of the adaptive jitter
 * buffer on the wall clock for live audio (jitter/jitter-clock.ts; live-clock.ts's plain
 * queue on a relay that feeds live stations faster than real time), at once for a
 * recording played at its capture times (recorded-clock.ts).
 */
export interface Clock extends Stage {
  readonly counters: Readonly<ReceiveCounters>;
  push(packet: PacketView, nowMs: number): void;
  /** Lets go of the packets that are due at `nowMs`. */
  release(nowMs: number): void;
  /** The time buckets complete by: the wall clock for live audio, the latest capture time for a recording. */
  now(wallMs: number): number;
  /** Periodic work that is not per packet (status messages). */
  tick(nowMs: number): void;
  /** Nothing more will come: lets go of everything held. */
  end(): void;
  /** Packets held, waiting to be due. */
  readonly depth: number;
}

/** Takes decoded samples in order and cuts them into 20 ms frames on the bucket grid (framer.ts). */
export interface SampleSink {
  write(samples: Float32Array, length: number, arrivalMs: number, concealed: boolean): void;
}

/** One 20 ms frame on the bucket grid, as the framer hands it on; reused, valid during the call. */
export interface Frame {
  /** The frame is samples[0..length): the array may be longer (a decoder's buffer, handed on in place). */
  samples: Float32Array;
  /** Samples in this frame (a full frame, or fewer for the last one of a station). */
  length: number;
  bucketTs: number;
  /** Offset of the frame's first sample in its bucket. */
  offset: number;
  /** Arrival of the packet its last samples came from (epoch ms). */
  arrivalMs: number;
  /**
   * When the station's clock let that packet go on to the decoder (epoch ms): its arrival
   * plus the time it waited in the jitter buffer. Absent where no clock holds packets.
   */
  releasedMs?: number;
  /** Samples made by concealment rather than decoded. */
  concealed: boolean;
}

/** A stage that transforms frames in place (the knob chain). */
export interface FrameStage extends Stage {
  process(frame: Frame): void;
}

/** What hangs off a tap: sees each frame and the tap's meter values for it, and changes neither. */
export interface TapSink {
  consume(frame: Frame, meters: Float64Array): void;
}
