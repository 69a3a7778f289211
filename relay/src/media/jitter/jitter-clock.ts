/**
 * The clock of a live station: the adaptive jitter buffer (jitter-buffer.ts) between the
 * network and the decoder, played on the relay's wall clock. Every transport that feeds a
 * live station (WebSocket, RTP, WebRTC) pushes through it.
 *
 * - Packets go into the buffer as they arrive; once per packet period (`release` and
 *   `tick`, at the times the schedule says, several at once when the worker was late) the
 *   buffer decides what plays: a packet, decoded; or concealment of the period (a loss,
 *   with the next packet's Opus FEC when held, or a frame inserted to grow the delay),
 *   marked concealed by the decode stage. A sender whose clock runs fast or slow is
 *   followed by the buffer's accelerate and preemptive-expand decisions, never a resync.
 * - The ingress queue of seed 001 is the buffer's limit: a sender far ahead of real time
 *   fills it and loses its oldest packets, counted as `frames_dropped`, and is told so by
 *   a `status` backpressure message at most once a second.
 * - The relay is not a loudspeaker: nothing has to play when nothing is there. So a buffer
 *   that runs dry waits for the next packet instead of concealing it (over WebSocket, a
 *   TCP stream, a missing packet is always late, never lost), for as long as the late
 *   audio still lands in its place on the station's timeline (the bucket grace less the
 *   largest delay); after that the sender has paused, and play-out stops until its next
 *   packet, with nothing concealed after its audio. A hole with later packets held is a
 *   loss, concealed at once. Audio that is already due when it arrives
 *   (after such a wait, a first packet that came late, a burst held up on the way) is not
 *   held back to be trimmed one packet a second: it is played at once (decoded faster than
 *   real time) down to the target delay.
 */
import { MAX_TARGET_MS, STREAM_MIN_TARGET_MS } from './delay-estimator.ts';
import { JitterBuffer, type JitterPacket, type PullDecision } from './jitter-buffer.ts';
import { BackpressureStatus, type StatusListener } from '../backpressure-status.ts';
import type { PacketView } from '../packet-batch.ts';
import type { Clock, ReceiveCounters, StageStats } from '../stage.ts';

/**
 * A backlog of due audio larger than this is played at once (then down to the target), ms;
 * for a stream, any: its audio goes on as soon as it is due, not at the next period of a
 * schedule that late packets have pushed back (no audio is output here, so playing early
 * moves nothing but the time of processing: the sample count places it on the timeline).
 */
const BACKLOG_START_MS = 40;
const STREAM_BACKLOG_START_MS = 0;
/** A sender may run this far ahead of its first packet's timing before it counts as too fast (as the seed 001 queue allowed). */
const MAX_AHEAD_MS = 500;
/**
 * The buffer's delay decisions move the station's audio against the wall clock by up to
 * this much before they touch the audio itself, ms. A target that rises and falls with the
 * jitter then costs nothing audible; only a sender clock that drifts for long (seed 004 §7)
 * makes the buffer insert frames (concealment, which carries on from the audio before it) and
 * drop them (the next packet crossfaded from the dropped one: decode-stage.ts playAfterDrop),
 * which keeps the audio on the wall clock without a click.
 */
const MAX_TIMELINE_SLACK_MS = 100;
/** At most this many periods are caught up at once after a stalled worker; beyond, the schedule restarts now. */
const MAX_CATCH_UP = 500;

/** What the jitter clock hands its packets and decisions to (the decode stage). */
export interface JitterSink {
  /** Reads the packet's duration, ms; null when it cannot play (reported by the sink). */
  duration(p: PacketView): number | null;
  play(p: PacketView, durationMs: number): void;
  /** Plays `p` where `dropped` was taken out to shrink the delay, the splice smoothed. */
  playAfterDrop(dropped: PacketView, p: PacketView, durationMs: number): void;
  conceal(durationMs: number, next: Uint8Array | undefined, atMs: number): void;
}

export interface JitterClockOptions {
  /** The ingress queue's capacity, packets (seed 001: 48): held beyond the target delay's worth. */
  queueFrames: number;
  /** The least target delay, ms (clamped to 0-200): 20 for datagrams, 0 for a stream (delay-estimator.ts). */
  minTargetMs: number;
  /** Packets come over a reliable, ordered stream (WebSocket): due audio is played at once (default false). */
  streamed?: boolean;
  /**
   * The largest target delay, ms (clamped to minTargetMs-200): the relay's latency budget
   * for jitter. Lateness beyond it costs no audio here (a dry buffer waits), only latency
   * while it lasts, so the relay need not hold every station that far behind.
   */
  maxTargetMs: number;
  /**
   * How late audio may be behind the station's timeline before the framer moves it (the
   * bucket grace), ms: within it, packets whose time was concealed are late, not replayed.
   */
  graceMs: number;
}

export class JitterClock implements Clock {
  readonly buffer: JitterBuffer<PacketView>;
  readonly counters: ReceiveCounters = { frames_received: 0, bytes_received: 0, frames_dropped: 0 };
  /** Packets decoded at once because they were already due (a late first packet, a burst held up). */
  backlogPlayed = 0;
  /** Periods the worker caught up late, and schedule restarts after a long stall. */
  catchUps = 0;
  /** Times the buffer ran dry and waited for the next packet instead of concealing it. */
  dryWaits = 0;
  /** Accelerate decisions that dropped a packet's audio, and preemptive expands that inserted a frame of concealment. */
  accelerateDropped = 0;
  expandInserted = 0;
  /** Media of those decisions taken without touching the audio: periods waited, packets played anyway, ms. */
  expandWaitedMs = 0;
  acceleratePlayedMs = 0;
  /**
   * How far the audio handed on is behind (positive) or ahead of the wall clock, ms, by the
   * buffer's decisions taken without touching the audio: a wait instead of an inserted
   * frame, a packet played instead of dropped. Within ±MAX_TIMELINE_SLACK_MS.
   */
  private timelineMs = 0;
  /** Runs of consecutive lost packets (for the E-model's BurstR). */
  lossRuns = 0;
  private lastWasLoss = false;
  /** When the last decision was handed on, ms: the time of concealment at the end. */
  private lastHandedAtMs = 0;
  /** Runs of consecutive periods of concealed audio (WebRTC's concealmentEvents). */
  concealmentEvents = 0;
  private concealing = false;
  /** When the next pull is due; NaN while the buffer waits to (re)start play-out. */
  private nextPullMs = Number.NaN;
  /** The scheduled pull the buffer found itself empty at, while it waits; NaN otherwise. */
  private dryFromMs = Number.NaN;
  private readonly patienceMs: number;
  /** Due audio beyond this is played at once, ms (BACKLOG_START_MS, or none for a stream). */
  private readonly backlogStartMs: number;
  private readonly status: BackpressureStatus;
  private ended = false;

  constructor(
    options: JitterClockOptions,
    private readonly sink: JitterSink,
    onStatus: StatusListener,
  ) {
    this.status = new BackpressureStatus(onStatus);
    if (!(Number.isInteger(options.queueFrames) && options.queueFrames >= 1)) throw new RangeError(`queueFrames must be a positive whole number, got ${options.queueFrames}`);
    // Room for the largest target delay at 20 ms packets on top of the queue.
    const limit = options.queueFrames + Math.ceil(MAX_TARGET_MS / 20);
    let capacity = 4;
    while (capacity < limit) capacity *= 2;
    const minTargetMs = Math.min(MAX_TARGET_MS, Math.max(STREAM_MIN_TARGET_MS, options.minTargetMs));
    const maxTargetMs = Math.min(MAX_TARGET_MS, Math.max(minTargetMs, options.maxTargetMs));
    // Within the grace, late audio still lands in its place on the station's timeline.
    this.patienceMs = Math.max(0, options.graceMs - MAX_TARGET_MS);
    this.backlogStartMs = options.streamed === true ? STREAM_BACKLOG_START_MS : BACKLOG_START_MS;
    this.buffer = new JitterBuffer<PacketView>({ capacity, limit, minTargetMs, maxTargetMs, keepConcealedMs: this.patienceMs });
  }

  get depth(): number {
    return this.buffer.heldPackets;
  }

  push(p: PacketView, nowMs: number): void {
    if (this.ended) return;
    this.counters.frames_received++;
    this.counters.bytes_received += p.payload.length;
    const durationMs = this.sink.duration(p);
    if (durationMs === null) return;
    // Due packets go on before the buffer counts as full: only a sender ahead of real time loses packets.
    if (this.buffer.heldPackets >= this.limit) this.release(nowMs);
    const overflowBefore = this.buffer.counters.overflow;
    const packet: JitterPacket<PacketView> = { sequence: p.sequence, timestampMs: p.timestampMs, durationMs, payload: p };
    this.buffer.push(packet, p.arrivalMs);
    const dropped = this.buffer.counters.overflow - overflowBefore;
    if (dropped > 0) {
      this.counters.frames_dropped += dropped;
      this.status.dropped(nowMs);
    }
  }

  release(nowMs: number): void {
    if (this.ended) return;
    for (let n = 0; ; n++) {
      if (n === MAX_CATCH_UP) {
        // The worker stood still for longer than the buffer can explain: start the schedule again now.
        this.nextPullMs = nowMs;
        this.catchUps++;
        break;
      }
      // While the buffer waits to (re)start, it is asked at the time it is asked; once playing, on its schedule.
      let atMs = Number.isNaN(this.nextPullMs) ? nowMs : this.nextPullMs;
      if (atMs > nowMs) break;
      if (this.buffer.heldPackets === 0 && this.buffer.isPlaying) {
        // Dry: wait for the packet rather than conceal it, up to the patience; after that the
        // sender has paused (or stopped): play-out stops, with nothing invented after its
        // audio, and starts again with its next packet.
        if (Number.isNaN(this.dryFromMs)) this.dryFromMs = atMs;
        if (nowMs - this.dryFromMs < this.patienceMs) break;
        this.buffer.pause(this.dryFromMs);
        this.dryFromMs = Number.NaN;
        this.nextPullMs = Number.NaN;
        return;
      } else if (!Number.isNaN(this.dryFromMs)) {
        // A packet came within the wait: play on from now (the backlog the wait made is played below).
        this.dryWaits++;
        this.dryFromMs = Number.NaN;
        atMs = nowMs;
      }
      const d = this.buffer.pull(atMs);
      if (d.kind === 'wait') {
        this.dryFromMs = Number.NaN;
        this.nextPullMs = Number.NaN;
        return;
      }
      if (n === 1) this.catchUps++;
      this.nextPullMs = atMs + this.hand(d, atMs);
    }
    // Already due audio goes on at once, down to the target.
    if (this.buffer.backlogMs(nowMs, MAX_AHEAD_MS) > this.backlogStartMs) {
      while (this.buffer.nextHeld && this.buffer.backlogMs(nowMs, MAX_AHEAD_MS) > 0) {
        const d = this.buffer.pull(nowMs);
        if (d.kind === 'wait') break;
        this.backlogPlayed++;
        const ms = this.hand(d, nowMs);
        // Played ahead of the schedule: it catches up the periods waited to grow the delay.
        if (this.timelineMs > 0) this.timelineMs = Math.max(0, this.timelineMs - ms);
      }
    }
  }

  now(wallMs: number): number {
    return wallMs;
  }

  tick(nowMs: number): void {
    this.release(nowMs);
    this.status.tick(nowMs, this.counters.frames_dropped, this.buffer.heldPackets);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    // Nothing more will come: what is held plays in order at once, its gaps concealed in place.
    this.buffer.drain(
      (packet) => {
        this.concealing = false;
        this.lastWasLoss = false;
        this.sink.play(packet.payload, packet.durationMs);
      },
      (durationMs) => {
        if (!this.lastWasLoss) this.lossRuns++;
        this.lastWasLoss = true;
        if (!this.concealing) this.concealmentEvents++;
        this.concealing = true;
        this.sink.conceal(durationMs, undefined, this.lastHandedAtMs);
      },
    );
  }

  stats(): StageStats {
    return {
      ...this.counters,
      ...this.buffer.stats(),
      queue_depth: this.buffer.heldPackets,
      backlog_played: this.backlogPlayed,
      catch_ups: this.catchUps,
      dry_waits: this.dryWaits,
      loss_runs: this.lossRuns,
      accelerate_dropped: this.accelerateDropped,
      expand_inserted: this.expandInserted,
      timeline_ms: this.timelineMs,
      backpressure: this.status.backpressure,
    };
  }

  private get limit(): number {
    return this.buffer.limit;
  }

  /** Hands a decision to the sink; returns the media time it played, ms. */
  private hand(d: Exclude<PullDecision<PacketView>, { kind: 'wait' }>, atMs: number): number {
    this.lastHandedAtMs = atMs;
    if (d.kind === 'packet') {
      this.lastWasLoss = false;
      this.concealing = false;
      const skipped = d.skipped;
      if (skipped !== undefined) {
        // Accelerate: play the packet the buffer let go as well while the timeline may run
        // ahead, drop it once it may not (a sender clock running fast for good).
        if (this.timelineMs - skipped.durationMs >= -MAX_TIMELINE_SLACK_MS) {
          this.timelineMs -= skipped.durationMs;
          this.acceleratePlayedMs += skipped.durationMs;
          this.sink.play(skipped.payload, skipped.durationMs);
        } else {
          this.accelerateDropped++;
          this.sink.playAfterDrop(skipped.payload, d.packet.payload, d.packet.durationMs);
          return d.packet.durationMs;
        }
      }
      this.sink.play(d.packet.payload, d.packet.durationMs);
      return d.packet.durationMs;
    }
    if (d.reason === 'expand') {
      // Preemptive expand: let the period pass without audio while the timeline may fall
      // behind, insert a concealed frame once it may not (a sender clock running slow).
      if (this.timelineMs + d.durationMs <= MAX_TIMELINE_SLACK_MS) {
        this.timelineMs += d.durationMs;
        this.expandWaitedMs += d.durationMs;
        return d.durationMs;
      }
      this.expandInserted++;
    } else {
      if (!this.lastWasLoss) this.lossRuns++;
      this.lastWasLoss = true;
    }
    if (!this.concealing) this.concealmentEvents++;
    this.concealing = true;
    this.sink.conceal(d.durationMs, d.nextPayload?.payload, atMs);
    return d.durationMs;
  }

}
