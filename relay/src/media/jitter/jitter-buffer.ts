/**
 * An adaptive jitter buffer as a pure kernel: packets go in as they arrive (`push`), and
 * once per packet period the player asks what to play (`pull`). No timers, no I/O: the
 * caller brings the clock, so the same code runs on a socket and in a simulation.
 *
 * Packets are held in a ring by extended sequence number (RFC 3550 A.1, sequence.ts), so
 * reordering is undone, duplicates are seen, and memory is fixed. The target delay comes
 * from delay-estimator.ts (NetEq's relative arrival delay and 95 % quantile, clamped to
 * 20-200 ms by seed 004 §5).
 *
 * The delay the buffer holds is measured in time, not in packets: the next frame's delay is
 * now − (its media time + the smallest transit in the estimator's window), i.e. how long
 * after the arrival of a packet without jitter it is played. That moves smoothly with clock
 * drift, where a count of buffered packets only moves by whole packets.
 *
 * Following the target takes whole frames, as NetEq's decisions do before its DSP:
 * - below the target: a concealment frame is inserted ("preemptive expand"), the next
 *   packet waits one period;
 * - above the target by more than one packet for SUSTAIN_MS: one packet is dropped
 *   ("accelerate").
 * A sender whose clock runs fast or slow (seed 004 §7) is followed by these decisions alone;
 * there is no resynchronisation. Doing the same by time-stretching (WSOLA) so that nothing
 * audible is dropped or inserted is a later refinement of the DSP, not of these decisions.
 *
 * Decisions returned by `pull` are reused objects, valid until the next call.
 */
import { timestampDeltaMs } from '../../../../protocol/frame.ts';
import { SequenceTracker, MAX_DROPOUT } from '../../rtp/sequence.ts';
import type { Stage, StageStats } from '../stage.ts';
import { DelayEstimator, MAX_TARGET_MS } from './delay-estimator.ts';

/** One packet as the buffer sees it. */
export interface JitterPacket<P = Uint8Array> {
  /** RTP-style 16-bit sequence number. */
  sequence: number;
  /** Media time of the first sample, the sender's ms (32-bit, wrapping as protocol/frame.ts). */
  timestampMs: number;
  /** Media duration of the packet, ms. */
  durationMs: number;
  payload: P;
}

export type PullDecision<P = Uint8Array> =
  | {
      kind: 'packet';
      packet: JitterPacket<P>;
      /** The packet dropped just before it to accelerate, when this pull accelerated (a player may still use it). */
      skipped: JitterPacket<P> | undefined;
    }
  | {
      kind: 'conceal';
      /** 'loss': the packet due was not there; 'expand': a frame inserted to grow the delay. */
      reason: 'loss' | 'expand';
      durationMs: number;
      /** For a loss, the packet after the missing one when held (Opus in-band FEC, RFC 6716 §2.1.7). */
      nextPayload: P | undefined;
    }
  | { kind: 'wait' };

/** A packet kept over the target by more than one packet for this long is dropped, ms. */
export const SUSTAIN_MS = 1000;
/** Default ring capacity, packets: 200 ms at 10 ms packets is 20; the rest is headroom for
 * reordering and a sender running ahead. A power of two. */
export const DEFAULT_CAPACITY = 64;
/** Packet duration assumed before the first packet says otherwise, ms. */
const DEFAULT_DURATION_MS = 20;

export interface JitterBufferOptions {
  /** Ring capacity, packets, a power of two (default 64). */
  capacity?: number;
  /** Packets held at most (default: the capacity): beyond it the oldest go, counted as overflow. */
  limit?: number;
  /** The least target delay, ms, within the estimator's 0-200 ms (default 20). */
  minTargetMs?: number;
  /** The largest target delay, ms, from minTargetMs to 200 (default 200). */
  maxTargetMs?: number;
  /**
   * After running dry and stopping, a packet whose media time was already concealed is
   * late if it arrives within this long of the stop, ms (default 0: never). A player whose
   * timeline keeps the concealed time in place (the relay's framer, within its grace) must
   * not play that time twice; after longer, the sender paused and play starts over from
   * the lowest packet held.
   */
  keepConcealedMs?: number;
}

export interface JitterCounters {
  received: number;
  played: number;
  /** Never arrived by their play-out time (each one concealed). */
  lost: number;
  /** Arrived after their play-out time: discarded. */
  late: number;
  duplicates: number;
  /** Arrived after a packet with a higher sequence number. */
  reordered: number;
  /** Dropped, oldest first, when a packet did not fit in the ring. */
  overflow: number;
  /** Rejected by the RFC 3550 A.1 validation (a jump the next packet did not confirm). */
  invalid: number;
  /** Packets dropped to bring the delay down to the target. */
  accelerate: number;
  /** Concealment frames inserted to bring the delay up to the target. */
  preemptiveExpand: number;
  /** Runs of consecutive concealment frames (WebRTC's concealmentEvents), and their total. */
  concealmentEvents: number;
  concealedMs: number;
  /** The buffer ran dry for longer than the largest target and waited to refill. */
  rebuffers: number;
  /** The sender's sequence numbers restarted: the buffer started over. */
  restarts: number;
}

/** Figures named after WebRTC's RTCInboundRtpStreamStats, per packet rather than per sample. */
export interface JitterFigures {
  /** Sum over played packets of (play time − arrival), ms (jitterBufferDelay). */
  jitterBufferDelayMs: number;
  /** Packets played (jitterBufferEmittedCount). */
  jitterBufferEmittedCount: number;
  /** Sum over played packets of the target at play time, ms (jitterBufferTargetDelay). */
  jitterBufferTargetDelayMs: number;
  /** The two sums over the count: the mean wait and mean target, ms; null before a packet. */
  meanDelayMs: number | null;
  meanTargetMs: number | null;
  concealmentEvents: number;
  concealedMs: number;
  /** Media removed to follow the target down, and inserted to follow it up, ms. */
  removedMsForAcceleration: number;
  insertedMsForDeceleration: number;
  /** Late, duplicate and overflowed packets (packetsDiscarded). */
  packetsDiscarded: number;
  packetsLost: number;
}

export class JitterBuffer<P = Uint8Array> implements Stage {
  readonly counters: JitterCounters = {
    received: 0,
    played: 0,
    lost: 0,
    late: 0,
    duplicates: 0,
    reordered: 0,
    overflow: 0,
    invalid: 0,
    accelerate: 0,
    preemptiveExpand: 0,
    concealmentEvents: 0,
    concealedMs: 0,
    rebuffers: 0,
    restarts: 0,
  };
  private readonly estimator: DelayEstimator;
  /** RFC 3550 A.1 with a probation of one packet: the first packet is played, not held back. */
  private readonly tracker = new SequenceTracker(1);
  private readonly capacity: number;
  /** Packets held at most. */
  readonly limit: number;
  private readonly keepConcealedMs: number;
  /** When play-out last stopped after running dry, ms; NaN before. */
  private stoppedAtMs = Number.NaN;
  private readonly mask: number;
  /** Packets in the ring, waiting to be played. */
  private held = 0;
  private readonly slotExt: Float64Array;
  private readonly slotMediaMs: Float64Array;
  private readonly slotArrivalMs: Float64Array;
  private readonly slotPacket: (JitterPacket<P> | undefined)[];

  private anchored = false;
  private playing = false;
  /** Transit (arrival − media time) of the packet the buffer anchored on, ms. */
  private anchorTransitMs = 0;
  /** Extended sequence number and media time (unwrapped ms) of the next frame to play. */
  private nextExt = 0;
  private playheadMediaMs = 0;
  private highestExt = 0;
  /** The highest packet's timestamp, 32-bit, and its unwrapped media time and duration. */
  private refTimestampMs = 0;
  private refMediaMs = 0;
  private refDurationMs = DEFAULT_DURATION_MS;
  private lastDurationMs = DEFAULT_DURATION_MS;
  /** When the delay went over target + one packet, ms; −1 when it is not over. */
  private overSinceMs = -1;
  private concealing = false;
  /** Concealment while the buffer held nothing, ms. */
  private drySinceMs = 0;
  private lastDelayMs: number | null = null;
  private delaySumMs = 0;
  private targetSumMs = 0;
  private removedMs = 0;
  private insertedMs = 0;

  private readonly packetDecision: { kind: 'packet'; packet: JitterPacket<P> | undefined; skipped: JitterPacket<P> | undefined } = {
    kind: 'packet',
    packet: undefined,
    skipped: undefined,
  };
  private readonly concealDecision: { kind: 'conceal'; reason: 'loss' | 'expand'; durationMs: number; nextPayload: P | undefined } = {
    kind: 'conceal',
    reason: 'loss',
    durationMs: 0,
    nextPayload: undefined,
  };
  private readonly waitDecision = { kind: 'wait' } as const;

  constructor(options: JitterBufferOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 4 || (capacity & (capacity - 1)) !== 0) {
      throw new TypeError(`capacity must be a power of two of at least 4 packets, got ${capacity}`);
    }
    const limit = options.limit ?? capacity;
    if (!Number.isInteger(limit) || limit < 1 || limit > capacity) throw new TypeError(`limit must be a whole number of packets from 1 to the capacity ${capacity}, got ${limit}`);
    this.capacity = capacity;
    this.limit = limit;
    this.keepConcealedMs = options.keepConcealedMs ?? 0;
    this.mask = capacity - 1;
    this.estimator = new DelayEstimator(options.minTargetMs, options.maxTargetMs);
    this.slotExt = new Float64Array(capacity).fill(-1);
    this.slotMediaMs = new Float64Array(capacity);
    this.slotArrivalMs = new Float64Array(capacity);
    this.slotPacket = new Array<JitterPacket<P> | undefined>(capacity).fill(undefined);
  }

  /** The target delay now, ms. */
  get targetMs(): number {
    return this.estimator.targetMs;
  }

  /** The delay of the frame decided at the last pull, ms (see the header); null before play-out. */
  get currentDelayMs(): number | null {
    return this.lastDelayMs;
  }

  /** Media held from the next frame to the end of the newest packet, ms (holes included). */
  get bufferedMs(): number {
    if (!this.anchored || this.highestExt < this.nextExt) return 0;
    return this.refMediaMs + this.refDurationMs - this.playheadMediaMs;
  }

  get isPlaying(): boolean {
    return this.playing;
  }

  /** Packets held, waiting to be played. */
  get heldPackets(): number {
    return this.held;
  }

  /** True when the packet of the next frame is held (the next pull plays it, or drops it to accelerate). */
  get nextHeld(): boolean {
    return this.anchored && this.slotExt[this.nextExt & this.mask] === this.nextExt && this.slotPacket[this.nextExt & this.mask] !== undefined;
  }

  /**
   * How far the next frame is behind its play-out time at `nowMs`, beyond the target, ms:
   * audio that is already due (a first packet that came late, a burst held up on the way).
   * Measured against the smallest recent transit, but never one more than `maxAheadMs`
   * earlier than the first packet's: a sender running ahead of real time makes no backlog.
   */
  backlogMs(nowMs: number, maxAheadMs: number): number {
    if (!this.anchored || !this.playing) return 0;
    const reference = Math.max(this.estimator.minTransitMs, this.anchorTransitMs - maxAheadMs);
    return nowMs - (this.playheadMediaMs + reference) - this.estimator.targetMs;
  }

  /** A packet arrived at `arrivalMs` (local clock, ms). The buffer keeps a reference to it. */
  push(packet: JitterPacket<P>, arrivalMs: number): void {
    const c = this.counters;
    c.received++;
    const before = this.tracker.extendedHighestSeq;
    const verdict = this.tracker.update(packet.sequence);
    if (verdict !== 'accepted') {
      c.invalid++;
      return;
    }
    const high = this.tracker.extendedHighestSeq;
    if (this.anchored && high !== before && (high < before || high - before >= MAX_DROPOUT)) {
      c.restarts++;
      this.startOver();
    }
    const ext = high - ((high - (packet.sequence & 0xffff)) & 0xffff);

    if (!this.anchored) {
      this.anchored = true;
      this.highestExt = ext;
      this.refTimestampMs = packet.timestampMs;
      this.refMediaMs = 0;
      this.refDurationMs = packet.durationMs;
      this.nextExt = ext;
      this.playheadMediaMs = 0;
      this.anchorTransitMs = arrivalMs;
    }
    const mediaMs = this.refMediaMs + timestampDeltaMs(this.refTimestampMs, packet.timestampMs);
    const slot = ext & this.mask;
    if (this.slotExt[slot] === ext) {
      c.duplicates++;
      return;
    }
    this.estimator.observe(arrivalMs, mediaMs, packet.durationMs);

    if (!this.playing && (this.highestExt < this.nextExt || ext < this.nextExt)) {
      // Before play-out, or waiting after running dry, play starts from the lowest packet
      // held; with nothing held, from this one. Soon after a stop, a packet whose time was
      // concealed before it is late instead (keepConcealedMs).
      if (ext < this.nextExt && mediaMs < this.playheadMediaMs && arrivalMs - this.stoppedAtMs < this.keepConcealedMs) {
        c.late++;
        return;
      }
      if (this.highestExt >= this.nextExt && this.highestExt - ext >= this.capacity) {
        c.late++;
        return;
      }
      this.nextExt = ext;
      this.playheadMediaMs = mediaMs;
    } else if (ext < this.nextExt) {
      c.late++;
      return;
    }
    if (ext < this.highestExt) c.reordered++;
    if (ext > this.highestExt) {
      this.highestExt = ext;
      this.refTimestampMs = packet.timestampMs;
      this.refMediaMs = mediaMs;
      this.refDurationMs = packet.durationMs;
    }
    // Make room: the oldest frames go, counted, as if played.
    while (ext - this.nextExt >= this.capacity || (this.held >= this.limit && ext >= this.nextExt)) {
      const s = this.nextExt & this.mask;
      if (this.slotExt[s] === this.nextExt) {
        c.overflow++;
        this.skip(s);
      } else {
        this.nextExt++;
        this.playheadMediaMs += this.lastDurationMs;
      }
    }
    if (ext < this.nextExt) {
      // Making room stepped over this packet's own place (it came after newer ones): too late.
      c.late++;
      return;
    }
    this.slotExt[slot] = ext;
    this.slotPacket[slot] = packet;
    this.held++;
    this.slotMediaMs[slot] = mediaMs;
    this.slotArrivalMs[slot] = arrivalMs;
  }

  /** What to play at `nowMs` (local clock, ms), called once per packet period. */
  pull(nowMs: number): PullDecision<P> {
    if (!this.anchored) return this.waitDecision;
    const target = this.estimator.targetMs;
    const delay = nowMs - (this.playheadMediaMs + this.estimator.minTransitMs);
    if (!this.playing) {
      if (this.highestExt < this.nextExt || delay < target) return this.waitDecision;
      this.playing = true;
      this.overSinceMs = -1;
    }
    this.lastDelayMs = delay;
    if (delay < target) return this.conceal('expand', undefined, nowMs);

    const s = this.nextExt & this.mask;
    if (this.slotExt[s] !== this.nextExt) {
      const n = (this.nextExt + 1) & this.mask;
      const next = this.slotExt[n] === this.nextExt + 1 ? this.slotPacket[n]?.payload : undefined;
      return this.conceal('loss', next, nowMs);
    }

    if (delay > target + this.lastDurationMs) {
      if (this.overSinceMs < 0) this.overSinceMs = nowMs;
    } else {
      this.overSinceMs = -1;
    }
    let slot = s;
    const n = (this.nextExt + 1) & this.mask;
    this.packetDecision.skipped = undefined;
    if (this.overSinceMs >= 0 && nowMs - this.overSinceMs >= SUSTAIN_MS && this.slotExt[n] === this.nextExt + 1) {
      this.counters.accelerate++;
      this.packetDecision.skipped = this.slotPacket[s];
      this.removedMs += (this.slotPacket[s] as JitterPacket<P>).durationMs;
      this.skip(s);
      this.overSinceMs = -1;
      this.lastDelayMs = delay - (this.slotMediaMs[n] - this.slotMediaMs[s]);
      slot = n;
    }
    return this.play(slot, nowMs, target);
  }

  /** Counters and state, ready for JSON. */
  stats(): StageStats {
    return {
      ...this.counters,
      target_ms: this.targetMs,
      current_delay_ms: this.lastDelayMs,
      buffered_ms: this.bufferedMs,
      playing: this.playing,
    };
  }

  figures(): JitterFigures {
    const c = this.counters;
    return {
      jitterBufferDelayMs: this.delaySumMs,
      jitterBufferEmittedCount: c.played,
      jitterBufferTargetDelayMs: this.targetSumMs,
      meanDelayMs: c.played === 0 ? null : this.delaySumMs / c.played,
      meanTargetMs: c.played === 0 ? null : this.targetSumMs / c.played,
      concealmentEvents: c.concealmentEvents,
      concealedMs: c.concealedMs,
      removedMsForAcceleration: this.removedMs,
      insertedMsForDeceleration: this.insertedMs,
      packetsDiscarded: c.late + c.duplicates + c.overflow,
      packetsLost: c.lost,
    };
  }

  private play(slot: number, nowMs: number, target: number): PullDecision<P> {
    const packet = this.slotPacket[slot] as JitterPacket<P>;
    this.counters.played++;
    this.delaySumMs += nowMs - this.slotArrivalMs[slot];
    this.targetSumMs += target;
    this.concealing = false;
    this.drySinceMs = 0;
    this.nextExt++;
    this.playheadMediaMs = this.slotMediaMs[slot] + packet.durationMs;
    this.lastDurationMs = packet.durationMs;
    this.slotPacket[slot] = undefined;
    this.held--;
    this.packetDecision.packet = packet;
    return this.packetDecision as PullDecision<P>;
  }

  /** Steps over the held packet in `slot` (the next frame) without playing it. */
  private skip(slot: number): void {
    const packet = this.slotPacket[slot] as JitterPacket<P>;
    this.nextExt++;
    this.playheadMediaMs = this.slotMediaMs[slot] + packet.durationMs;
    this.lastDurationMs = packet.durationMs;
    this.slotPacket[slot] = undefined;
    this.held--;
  }

  /**
   * Stops play-out as running dry does, without concealing first (a player that knows the
   * sender paused): play starts again when the buffer has refilled to the target.
   */
  pause(nowMs: number): void {
    if (!this.playing) return;
    this.counters.rebuffers++;
    this.playing = false;
    this.concealing = false;
    this.drySinceMs = 0;
    this.stoppedAtMs = nowMs;
  }

  /**
   * Hands every packet held to `visit` in sequence order, without waiting for its time
   * (the stream ended: nothing more will come), and empties the buffer. A packet missing
   * between them is a loss, counted, and handed to `lost` with the duration to conceal, so
   * the audio after it stays in its place.
   */
  drain(visit: (packet: JitterPacket<P>) => void, lost?: (durationMs: number) => void): void {
    while (this.held > 0 && this.nextExt <= this.highestExt) {
      const s = this.nextExt & this.mask;
      if (this.slotExt[s] === this.nextExt && this.slotPacket[s] !== undefined) {
        const packet = this.slotPacket[s] as JitterPacket<P>;
        this.skip(s);
        visit(packet);
      } else {
        this.nextExt++;
        this.counters.lost++;
        this.counters.concealedMs += this.lastDurationMs;
        lost?.(this.lastDurationMs);
      }
    }
  }

  private conceal(reason: 'loss' | 'expand', nextPayload: P | undefined, nowMs: number): PullDecision<P> {
    const c = this.counters;
    const durationMs = this.lastDurationMs;
    if (!this.concealing) c.concealmentEvents++;
    this.concealing = true;
    c.concealedMs += durationMs;
    if (reason === 'loss') {
      c.lost++;
      this.nextExt++;
      this.playheadMediaMs += durationMs;
      if (this.highestExt < this.nextExt) {
        // Dry: after concealing as long as the largest target, wait for the buffer to refill
        // instead of counting every period of a pause as a loss.
        this.drySinceMs += durationMs;
        if (this.drySinceMs >= MAX_TARGET_MS) {
          c.rebuffers++;
          this.playing = false;
          this.stoppedAtMs = nowMs;
          this.drySinceMs = 0;
        }
      }
    } else {
      c.preemptiveExpand++;
      this.insertedMs += durationMs;
    }
    this.overSinceMs = -1;
    const d = this.concealDecision;
    d.reason = reason;
    d.durationMs = durationMs;
    d.nextPayload = nextPayload;
    return d;
  }

  /** The sender restarted its sequence numbers: nothing held can be placed against the new ones. */
  private startOver(): void {
    this.slotExt.fill(-1);
    this.slotPacket.fill(undefined);
    this.held = 0;
    this.stoppedAtMs = Number.NaN;
    this.estimator.reset();
    this.anchored = false;
    this.playing = false;
    this.concealing = false;
    this.overSinceMs = -1;
    this.drySinceMs = 0;
  }
}
