/**
 * The clock of a live station: packets wait in a bounded ingress queue (seed 001) and go
 * on at the station's media rate. A packet is released when the audio played so far is
 * behind the wall clock plus a small jitter allowance, measured from the playout gate's
 * origin; a sender running ahead of real time fills the queue, which drops its oldest
 * packets, counts them and says so (`status` backpressure, at most once a second). Late
 * packets go on at once, so network jitter never moves a sample between buckets.
 */
import { timestampDeltaMs } from '../../../protocol/frame.ts';
import { PROCESSING_FRAME_MS } from '../time/bucket-clock.ts';
import { BackpressureStatus, type StatusListener } from './backpressure-status.ts';
import { IngressQueue } from './ingress-queue.ts';
import type { PacketView } from './packet-batch.ts';
import type { Clock, PacketStage, ReceiveCounters, StageStats } from './stage.ts';

/**
 * The playout gate follows the earliest arrival it has seen (a first packet that came late
 * must not hold every later one back), but never more than this far ahead of the first
 * packet: a sender faster than real time gains at most this much before it is limited.
 */
const MAX_GATE_ADVANCE_MS = 500;
/** A media timestamp step outside this range is a discontinuity: the gate re-anchors. */
const MAX_TIMESTAMP_STEP_MS = 2000;

export interface LiveClockOptions {
  /** Ingress queue capacity, packets (seed 001: 48). */
  queueFrames: number;
  /** How far the station's audio may be processed ahead of the wall clock, ms. */
  jitterAllowanceMs: number;
}

export class LiveClock implements Clock {
  private readonly queue: IngressQueue;
  private started = false;
  /** Playout gate: audio is released while (ms played) < now - gateOriginMs + allowance. */
  private gateOriginMs = 0;
  private gateFloorMs = 0;
  private lastTimestampMs = 0;
  private lastMediaMs = 0;
  readonly counters: ReceiveCounters = { frames_received: 0, bytes_received: 0, frames_dropped: 0 };
  private readonly status: BackpressureStatus;

  constructor(
    private readonly options: LiveClockOptions,
    private readonly next: PacketStage,
    /** Audio played so far, ms (the framer's position). */
    private readonly playedMs: () => number,
    onStatus: StatusListener,
  ) {
    this.queue = new IngressQueue(options.queueFrames);
    this.status = new BackpressureStatus(onStatus);
  }

  get depth(): number {
    return this.queue.depth;
  }

  push(p: PacketView, nowMs: number): void {
    this.counters.frames_received++;
    this.counters.bytes_received += p.payload.length;
    this.placeOnGate(p);
    // A burst of packets that are already due (held up on the way, say behind a busy event
    // loop) goes on before the queue counts as full: only a sender ahead of real time loses packets.
    if (this.queue.depth === this.queue.capacity) this.release(nowMs);
    if (this.queue.push(p) !== undefined) {
      this.counters.frames_dropped++;
      // The next packet out of the queue follows a gap we made ourselves: never conceal it.
      this.next.discontinuity();
      this.status.dropped(nowMs);
    }
  }

  release(nowMs: number): void {
    if (!this.started) return;
    const limitMs = nowMs - this.gateOriginMs + this.options.jitterAllowanceMs;
    for (let p = this.queue.peek(); p !== undefined && this.playedMs() < limitMs; p = this.queue.peek()) {
      this.queue.shift();
      this.next.process(p);
    }
  }

  now(wallMs: number): number {
    return wallMs;
  }

  tick(nowMs: number): void {
    this.release(nowMs);
    this.status.tick(nowMs, this.counters.frames_dropped, this.queue.depth);
  }

  end(): void {
    for (let p = this.queue.shift(); p !== undefined; p = this.queue.shift()) this.next.process(p);
  }

  stats(): StageStats {
    return { ...this.counters, queue_depth: this.queue.depth, backpressure: this.status.backpressure };
  }

  /**
   * Gives the packet its media time (from the header's ms timestamps, unwrapped) and moves
   * the playout gate earlier when this packet arrived earlier than the gate expected.
   */
  private placeOnGate(p: PacketView): void {
    if (!this.started) {
      this.started = true;
      this.gateOriginMs = p.arrivalMs;
      this.gateFloorMs = p.arrivalMs - MAX_GATE_ADVANCE_MS;
      p.mediaMs = 0;
    } else {
      const step = timestampDeltaMs(this.lastTimestampMs, p.timestampMs);
      // A discontinuity in the sender's clock: take this packet as the next one.
      p.mediaMs = this.lastMediaMs + (step < -MAX_TIMESTAMP_STEP_MS || step > MAX_TIMESTAMP_STEP_MS ? PROCESSING_FRAME_MS : step);
    }
    this.lastTimestampMs = p.timestampMs;
    this.lastMediaMs = p.mediaMs;
    const implied = p.arrivalMs - p.mediaMs;
    if (implied < this.gateOriginMs) this.gateOriginMs = Math.max(implied, this.gateFloorMs);
  }
}
