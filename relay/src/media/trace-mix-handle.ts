/**
 * A trace's mix as the control plane holds it (`MediaPool.mixOf(traceId)`, the same object
 * for the same trace until `close()`): the whole call, as a person on the line would hear
 * it, listened to the way one station is. `setEgress(tap, options | null)` starts, retunes
 * or stops the mix's Opus encoder on a tap, by the rules a station's handle follows
 * (egress-switch.ts: checked options, idempotent, a restart from sequence 0, an old
 * encoder's packets in flight dropped), and the packets come as `egress` events.
 *
 * The mixing runs in the media worker of the trace's stations (mixer.ts); the pool decides
 * which (pool.ts) and starts it there when the trace's first station arrives, or afresh on
 * another worker when that one died. The handle outlives the stations: while the trace has
 * none, the mix sends nothing, and it mixes again when one starts. Nothing here is per
 * packet but the `egress` event.
 */
import { TypedEmitter } from '../typed-emitter.ts';
import type { EgressRecord } from './egress-batch.ts';
import { EgressSwitch, type EgressOptions, type EgressPacket, type EgressTap } from './egress-switch.ts';

/** The pool's side of a mix handle. */
export interface MixPort {
  /** A tap's egress changed: the handle's `tapOptions` and `tapGeneration` say to what. */
  setMixEgress(handle: TraceMixHandle, tap: 0 | 1): void;
  /** The handle closed (its egress already stopped): the pool forgets it. */
  closeMix(handle: TraceMixHandle): void;
}

export interface TraceMixHandleEvents {
  /** One Opus packet of the mix on a tap with egress on (20 ms, 48 kHz mono), in order per tap. */
  egress: [packet: EgressPacket];
}

export class TraceMixHandle extends TypedEmitter<TraceMixHandleEvents> {
  private readonly egress = new EgressSwitch();
  private closed = false;

  constructor(
    /** The pool's number for the mix (from its station numbers): how the worker's egress records find this handle. */
    readonly id: number,
    readonly traceId: string,
    private readonly port: MixPort,
  ) {
    super();
  }

  /**
   * Listener egress of the mix on a tap: options start its encoder (the packets come as
   * `egress` events) or change the running one's bitrate and complexity (the stream and its
   * sequence go on); null stops it. A start after a stop is a fresh encoder, from sequence 0.
   * Safe to repeat; ignored once closed, but for null. Throws RangeError (TypeError for a
   * non-number) for bad options, and for a tap that is neither 'PRE' nor 'POST'. `historyMs`
   * is checked but ignored: a mix holds no audio to replay (mixer.ts), so it has no history
   * packets and its first listener waits for the player's buffer in real time.
   */
  setEgress(tap: EgressTap, options: EgressOptions | null): void {
    const index = this.egress.set(tap, options, !this.closed);
    if (index !== -1 && !this.closed) this.port.setMixEgress(this, index);
  }

  /** Stops the mix's egress on both taps, and the pool forgets the handle (`mixOf` then makes a new one). Safe twice. */
  close(): void {
    if (this.closed) return;
    this.setEgress('PRE', null);
    this.setEgress('POST', null);
    this.closed = true;
    this.port.closeMix(this);
    this.removeAllListeners();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal The pool: true while a tap has egress on. */
  get egressOn(): boolean {
    return this.egress.on;
  }

  /** @internal The pool: a tap's options, null while off. */
  tapOptions(tap: 0 | 1): EgressOptions | null {
    return this.egress.options(tap);
  }

  /** @internal The pool: a tap's encoder starts (the worker's mixer carries this generation). */
  tapGeneration(tap: 0 | 1): number {
    return this.egress.generation(tap);
  }

  /** @internal The pool: the mix starts afresh elsewhere (its worker died); packets of the old encoder are not heard. */
  restartEgress(tap: 0 | 1): void {
    this.egress.restart(tap);
  }

  /** @internal The pool: a record of a worker's egress batch under this mix's number. */
  deliverEgress(r: EgressRecord): void {
    const packet = this.egress.packet(r);
    if (packet !== null) this.emit('egress', packet);
  }
}
