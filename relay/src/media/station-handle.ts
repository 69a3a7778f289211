/**
 * What the transport that owns a station holds (the WebSocket ingest connection, the upload
 * runner; later RTP and WebRTC sessions): the station's packets go in through it, knob
 * changes and syncs are requests on it, and its events come out of it, typed. Owners
 * subscribe to their own handles; nothing looks a station up by number to tell it
 * something happened. mediasoup's Producer is the model: `close()`-like calls are safe
 * twice, and a handle whose worker died rejects what was pending.
 *
 * Listener egress goes through the handle as well: `setEgress` starts, retunes or stops the
 * Opus encoder on a tap (egress.ts, in the worker), and its packets come back as `egress`
 * events on this handle, in order. A packet an earlier encoder still had in flight when
 * its tap was stopped or restarted is dropped here, so after a (re)start the first packet
 * heard is sequence 0 of the new encoder (the rules are egress-switch.ts's, which a trace
 * mix's handle follows too).
 */
import type { KnobValues } from '../../../protocol/knobs.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import type { EgressRecord } from './egress-batch.ts';
import { EgressSwitch, type EgressOptions, type EgressPacket, type EgressTap } from './egress-switch.ts';
import type { IngestCounters, ScheduleRefusal, StationSpec, StationStats } from './messages.ts';

// The egress types are egress-switch.ts's (shared with the trace mix's handle); importers of this file keep them.
export type { EgressOptions, EgressPacket, EgressTap } from './egress-switch.ts';

export interface StationHandleEvents {
  /** Backpressure began or ended (seed 001), at most once a second. */
  status: [state: 'backpressure' | 'ok', droppedFrames: number, queueDepth: number];
  /** A packet could not be decoded (the station goes on). */
  decodeError: [code: string, message: string];
  /** The media worker died: the station is gone, its unfinished buckets with it. */
  lost: [error: Error];
  /** The station has left its worker, every bucket finalized: its final counters. */
  closed: [counters: IngestCounters];
  /** One Opus packet of a tap with egress on (setEgress), in order per tap. */
  egress: [packet: EgressPacket];
}

/** The pool's side of a handle: how its calls reach the station's worker. */
export interface StationPort {
  push(handle: StationHandle, timestampMs: number, sequence: number, codec: number, flags: number, arrivalMs: number, payload: Uint8Array): void;
  end(handle: StationHandle): void;
  schedule(handle: StationHandle, applyAtBucketTs: number, knobs: KnobValues, configVersion: number, eventId: number): Promise<ScheduleRefusal | null>;
  sync(handle: StationHandle): Promise<boolean>;
  stats(handle: StationHandle): StationStats | undefined;
  setEgress(handle: StationHandle, tap: 0 | 1, options: EgressOptions | null): void;
}

export class StationHandle extends TypedEmitter<StationHandleEvents> {
  /** Set once the station has left its worker (closed or lost). */
  gone = false;
  private ended = false;
  /** Which taps have egress on, and their encoder starts, counted as the worker's station counts them (station.ts). */
  private readonly egress = new EgressSwitch();

  constructor(
    /** The pool's number for the station: how the worker's messages find this handle. */
    readonly id: number,
    readonly spec: Readonly<Omit<StationSpec, 'id'>>,
    private readonly port: StationPort,
  ) {
    super();
  }

  /** One packet for the station (batched with others per event-loop turn). */
  push(timestampMs: number, sequence: number, codec: number, flags: number, arrivalMs: number, payload: Uint8Array): void {
    if (this.ended || this.gone) return;
    this.port.push(this, timestampMs, sequence, codec, flags, arrivalMs, payload);
  }

  /** No more packets: what was accepted is processed, and buckets finalize as they complete. Safe twice. */
  end(): void {
    if (this.ended || this.gone) return;
    this.ended = true;
    this.port.end(this);
  }

  /** A full knob set from the first sample of `applyAtBucketTs`, or why not. */
  schedule(applyAtBucketTs: number, knobs: KnobValues, configVersion: number, eventId: number): Promise<ScheduleRefusal | null> {
    if (this.gone) return Promise.resolve('unknown_station');
    return this.port.schedule(this, applyAtBucketTs, knobs, configVersion, eventId);
  }

  /** Resolves once the worker has processed everything pushed before: true while the station is there. */
  sync(): Promise<boolean> {
    if (this.gone) return Promise.resolve(false);
    return this.port.sync(this);
  }

  /**
   * Listener egress on a tap: options start its Opus encoder (the packets come as `egress`
   * events) or change the running one's bitrate and complexity (the stream and its sequence
   * go on); null stops it. A start after a stop is a fresh encoder, from sequence 0, whose
   * first packets are up to `historyMs` of the tap's recent audio, flagged `history`
   * (egress.ts); a retune sends none. Safe to repeat; ignored for a recorded run (an upload has no listeners) and once the station
   * ended or is gone, but for null, which always stops the events at once. Throws
   * RangeError (TypeError for a non-number) for bad options, and for a tap that is neither
   * 'PRE' nor 'POST'.
   */
  setEgress(tap: EgressTap, options: EgressOptions | null): void {
    const reachable = !this.ended && !this.gone;
    const index = this.egress.set(tap, options, reachable && this.spec.recorded === undefined);
    if (index !== -1 && reachable) this.port.setEgress(this, index, this.egress.options(index));
  }

  /** @internal The pool: a packet of this station's egress batch; emitted if it is the running encoder's. */
  deliverEgress(r: EgressRecord): void {
    const packet = this.egress.packet(r);
    if (packet !== null) this.emit('egress', packet);
  }

  /** The station's counters as the worker last reported them (once a second). */
  stats(): StationStats | undefined {
    return this.port.stats(this);
  }

  /** @internal The pool: the station left its worker. */
  settle(event: 'closed', counters: IngestCounters): void;
  settle(event: 'lost', error: Error): void;
  settle(event: 'closed' | 'lost', arg: IngestCounters | Error): void {
    if (this.gone) return;
    this.gone = true;
    if (event === 'closed') this.emit('closed', arg as IngestCounters);
    else this.emit('lost', arg as Error);
    this.removeAllListeners();
  }
}
