/**
 * One `/ws/telemetry` subscriber, with seed 003 §17's slow-client policy: at most two
 * messages wait to be sent; when a third comes, the older unsent one is dropped and
 * counted, so the newest always wins. A socket whose buffered bytes stay over a threshold
 * for longer than a timeout is closed with 1013. Memory per client stays bounded whatever
 * the client does.
 */
import type { WebSocket } from 'ws';
import type { JsonText } from '../../../protocol/schema.ts';
import type { TelemetryMessage } from '../../../protocol/telemetry.ts';
import { CLOSE } from '../errors.ts';

/**
 * A telemetry message as UTF-8 bytes, encoded once and shared by every client it goes to
 * (a string would be encoded again for each of hundreds of sockets). Sent as a text frame.
 */
export type OutgoingMessage = Buffer & { readonly __message?: TelemetryMessage };

export function outgoing(message: JsonText<TelemetryMessage>): OutgoingMessage {
  return Buffer.from(message, 'utf8');
}

export interface SlowClientPolicy {
  /** Messages waiting at most (seed 003: 2). */
  maxPending: number;
  /** Nothing more is handed to the socket while it buffers more than this. */
  sendBelowBytes: number;
  /** Buffered bytes above this count as "backed up"... */
  backedUpBytes: number;
  /** ...and a client backed up for longer than this is closed with 1013. */
  backedUpMs: number;
}

export interface ClientCounters {
  sent: number;
  dropped: number;
  slowClosed: number;
}

export class TelemetryClient {
  private readonly pending: OutgoingMessage[] = [];
  private backedUpSinceMs: number | null = null;
  closed = false;
  sent = 0;
  dropped = 0;

  constructor(
    readonly socket: WebSocket,
    /** null: every trace. */
    readonly traceId: string | null,
    /** Station whose spectrum this client asked for (`?spectrum=`), or null. */
    readonly spectrumStation: string | null,
    private readonly policy: SlowClientPolicy,
    private readonly counters: ClientCounters,
  ) {
    socket.once('close', () => (this.closed = true));
  }

  /** Queues a message (dropping the older unsent one when full) and sends what the socket takes. */
  offer(message: OutgoingMessage, nowMs: number): void {
    if (this.closed) return;
    this.pending.push(message);
    if (this.pending.length > this.policy.maxPending) {
      this.pending.shift();
      this.dropped++;
      this.counters.dropped++;
    }
    this.flush(nowMs);
  }

  flush(nowMs: number): void {
    if (this.closed) return;
    const socket = this.socket;
    while (this.pending.length > 0 && socket.bufferedAmount < this.policy.sendBelowBytes && socket.readyState === socket.OPEN) {
      socket.send(this.pending.shift() as OutgoingMessage, { binary: false });
      this.sent++;
      this.counters.sent++;
    }
    if (socket.bufferedAmount >= Math.min(this.policy.backedUpBytes, this.policy.sendBelowBytes)) {
      this.backedUpSinceMs ??= nowMs;
      if (nowMs - this.backedUpSinceMs > this.policy.backedUpMs) {
        this.closed = true;
        this.counters.slowClosed++;
        socket.close(CLOSE.tryAgainLater, `too slow: over ${this.policy.backedUpBytes} bytes unsent for ${this.policy.backedUpMs} ms`);
        // A client that reads nothing never completes the closing handshake: cut it.
        setTimeout(() => socket.terminate(), 1000).unref();
      }
    } else {
      this.backedUpSinceMs = null;
    }
  }
}
