/**
 * What the transport that owns a station holds (the WebSocket ingest connection, the upload
 * runner; later RTP and WebRTC sessions): the station's packets go in through it, knob
 * changes and syncs are requests on it, and its events come out of it, typed. Owners
 * subscribe to their own handles; nothing looks a station up by number to tell it
 * something happened. mediasoup's Producer is the model: `close()`-like calls are safe
 * twice, and a handle whose worker died rejects what was pending.
 */
import type { KnobValues } from '../../../protocol/knobs.ts';
import { TypedEmitter } from '../typed-emitter.ts';
import type { IngestCounters, ScheduleRefusal, StationSpec, StationStats } from './messages.ts';

export interface StationHandleEvents {
  /** Backpressure began or ended (seed 001), at most once a second. */
  status: [state: 'backpressure' | 'ok', droppedFrames: number, queueDepth: number];
  /** A packet could not be decoded (the station goes on). */
  decodeError: [code: string, message: string];
  /** The media worker died: the station is gone, its unfinished buckets with it. */
  lost: [error: Error];
  /** The station has left its worker, every bucket finalized: its final counters. */
  closed: [counters: IngestCounters];
}

/** The pool's side of a handle: how its calls reach the station's worker. */
export interface StationPort {
  push(handle: StationHandle, timestampMs: number, sequence: number, codec: number, flags: number, arrivalMs: number, payload: Uint8Array): void;
  end(handle: StationHandle): void;
  schedule(handle: StationHandle, applyAtBucketTs: number, knobs: KnobValues, configVersion: number, eventId: number): Promise<ScheduleRefusal | null>;
  sync(handle: StationHandle): Promise<boolean>;
  stats(handle: StationHandle): StationStats | undefined;
}

export class StationHandle extends TypedEmitter<StationHandleEvents> {
  /** Set once the station has left its worker (closed or lost). */
  gone = false;
  private ended = false;

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
