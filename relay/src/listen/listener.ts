/**
 * One listen socket (`/ws/listen`, protocol/listen.ts) once it has joined a stream: what it
 * has been sent, whether it is paused or skipping, what its player reported, and the
 * messages it sends.
 *
 * The egress stream hands every listener of a (station, tap, mode) the same Buffer: a whole
 * WebSocket frame, prepared once (ws-frame.ts). `deliver` is the hot path and does no more
 * than decide and write those bytes to the upgraded socket (`wire`, the request's socket,
 * which ws also writes to): no copy, no framing, no JSON, no timer, no closure. The write is
 * most of the cost: `node --import tsx bench/socket-writes.ts` puts it at 4.2-5.2 µs of CPU
 * per socket and message, kernel included, against 5.4-6.2 µs for `ws.send`
 * (docs/PERFORMANCE.md). Control messages (JSON) go through ws.
 *
 * A listener that cannot keep up (more than `backedUpBytes` unsent in the socket) skips: it
 * gets nothing new until it has drained (nothing unsent), then goes on at the live edge,
 * with the next cluster or packet. Its unsent bytes are therefore bounded by the threshold
 * plus one message. Skipping for longer than `backedUpMs` closes it with 4008.
 */
import type { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import {
  LISTEN_CLOSE,
  LISTEN_ERROR_CLOSE,
  MAX_LISTEN_CLIENT_MESSAGE_BYTES,
  MAX_LISTEN_CLIENT_MESSAGES_PER_10S,
  MAX_LISTEN_INVALID_MESSAGES,
  type ClientMetricsMessage,
  type ListenErrorCode,
  type ListenServerMessage,
} from '../../../protocol/listen.ts';
import type { ListenCounters, ListenDisconnectReason } from './listen-counters.ts';
import { parseListenClientMessage, type ListenRequest } from './listen-messages.ts';

export interface SlowListenerPolicy {
  /** More unsent bytes than this: the listener skips what comes. */
  backedUpBytes: number;
  /** Skipping for longer than this closes it with 4008. */
  backedUpMs: number;
}

/** Why a listener's socket closed (`tapwire_listener_disconnects_total{reason}`). */
export type ListenerCloseReason = Exclude<ListenDisconnectReason, 'bad_query' | 'not_found' | 'stream_full'>;

/** The error codes after which the relay closes the socket. */
type ClosingErrorCode = { [K in ListenErrorCode]: (typeof LISTEN_ERROR_CLOSE)[K] extends null ? never : K }[ListenErrorCode];

const MESSAGE_WINDOW_MS = 10_000;

/** The latest values a player reported (client_metrics), for stats and debugging. */
export type ReportedMetrics = Omit<ClientMetricsMessage, 'type'>;

/** Epoch ms with sub-ms precision, the clock of EgressPacket.arrivalMs. */
export const epochNowMs = (): number => performance.timeOrigin + performance.now();

export class Listener {
  paused = false;
  /** mode=mse: the init segment generation this listener was sent (-1: none yet). */
  initGeneration = -1;
  /** When it began to skip (epoch ms), or -1. */
  private skippingSinceMs = -1;
  bytesSent = 0;
  messagesSent = 0;
  /** Clusters or packets it skipped for being behind. */
  skipped = 0;
  /** When the first binary message went out, epoch ms (-1: not yet). */
  private firstBinaryAtMs = -1;
  readonly reported: ReportedMetrics = {};
  private lastStalls = 0;
  private lastDecodeErrors = 0;
  /** What its player reported, summed by increase (its stream's share of the relay's totals). */
  clientStalls = 0;
  clientDecodeErrors = 0;
  private windowStartMs = 0;
  private windowMessages = 0;
  private invalidMessages = 0;
  /** Set when the relay closes the socket (else the client did). */
  closeReason: ListenerCloseReason | null = null;

  constructor(
    readonly socket: WebSocket,
    /** The upgraded connection under `socket`, where audio frames are written. */
    private readonly wire: Writable,
    readonly request: ListenRequest,
    /** When the upgrade completed, epoch ms: time to first byte runs from here. */
    readonly openedAtMs: number,
    private readonly policy: SlowListenerPolicy,
    private readonly counters: ListenCounters,
    /** Called once with the time from the upgrade to the first binary message, s. */
    private readonly firstByte: (seconds: number) => void,
  ) {
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
  }

  get closed(): boolean {
    return this.closeReason !== null || this.socket.readyState !== this.socket.OPEN;
  }

  /**
   * The hot path: sends `frame` (a whole WebSocket frame) unless the listener is paused or
   * behind. Returns whether it was sent. `nowMs` is the caller's clock, read once per fan-out.
   */
  deliver(frame: Buffer, nowMs: number): boolean {
    if (!this.admit(nowMs)) return false;
    this.send(frame, nowMs);
    return true;
  }

  /** mode=mse: a cluster's frame, preceded by the init segment's if this listener does not have the current one. */
  deliverCluster(cluster: Buffer, init: Buffer, initGeneration: number, nowMs: number): boolean {
    if (!this.admit(nowMs)) return false;
    if (this.initGeneration !== initGeneration) {
      this.initGeneration = initGeneration;
      this.send(init, nowMs);
    }
    this.send(cluster, nowMs);
    return true;
  }

  /** mode=mse: a new init segment, at once (the next cluster would bring it otherwise). */
  deliverInit(init: Buffer, initGeneration: number, nowMs: number): void {
    if (this.initGeneration === initGeneration || this.paused || this.closed) return;
    this.initGeneration = initGeneration;
    this.send(init, nowMs);
  }

  /** Paused, closed, or behind: nothing goes out. Starts, ends and times out skipping. */
  private admit(nowMs: number): boolean {
    if (this.paused || this.socket.readyState !== 1 /* OPEN */) return false;
    const unsent = this.socket.bufferedAmount;
    if (this.skippingSinceMs >= 0) {
      if (unsent === 0) {
        this.skippingSinceMs = -1; // drained: on at the live edge
        return true;
      }
      this.skipped++;
      this.counters.skips++;
      if (nowMs - this.skippingSinceMs > this.policy.backedUpMs) this.tooSlow();
      return false;
    }
    if (unsent <= this.policy.backedUpBytes) return true;
    this.skippingSinceMs = nowMs;
    this.skipped++;
    this.counters.skips++;
    return false;
  }

  private send(frame: Buffer, nowMs: number): void {
    this.wire.write(frame);
    this.bytesSent += frame.length;
    this.messagesSent++;
    this.counters.bytesSent += frame.length;
    if (this.firstBinaryAtMs < 0) {
      this.firstBinaryAtMs = nowMs;
      this.firstByte(Math.max(0, nowMs - this.openedAtMs) / 1000);
    }
  }

  sendText(msg: ListenServerMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(JSON.stringify(msg));
  }

  /** `stream_end`, then the close that goes with it (1000 for a station that stopped, 1001 for a relay that stops). */
  end(reason: string, code: typeof LISTEN_CLOSE.normal | typeof LISTEN_CLOSE.goingAway, closeReason: ListenerCloseReason): void {
    if (this.closeReason !== null) return;
    this.closeReason = closeReason;
    this.sendText({ type: 'stream_end', reason });
    this.socket.close(code, reason);
  }

  /** An `error` with one of the codes that close the socket, then that close (LISTEN_ERROR_CLOSE). */
  fail(code: ClosingErrorCode, message: string, closeReason: ListenerCloseReason): void {
    if (this.closeReason !== null) return;
    this.closeReason = closeReason;
    this.sendText({ type: 'error', code, message });
    this.socket.close(LISTEN_ERROR_CLOSE[code], message.slice(0, 120));
  }

  /** The peer stopped answering pings (heartbeat.ts cuts it right after). */
  heartbeatLost(): void {
    this.closeReason ??= 'heartbeat_timeout';
  }

  private tooSlow(): void {
    this.counters.slowClosed++;
    this.fail('too_slow', `too slow: over ${this.policy.backedUpBytes} bytes unsent for more than ${this.policy.backedUpMs} ms; reconnect to listen again`, 'too_slow');
    // A peer that reads nothing never completes the closing handshake: cut it.
    setTimeout(() => this.socket.terminate(), 1000).unref();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closeReason !== null) return;
    const now = Date.now();
    if (now - this.windowStartMs >= MESSAGE_WINDOW_MS) {
      this.windowStartMs = now;
      this.windowMessages = 0;
    }
    if (++this.windowMessages > MAX_LISTEN_CLIENT_MESSAGES_PER_10S) {
      this.fail('too_many_messages', `at most ${MAX_LISTEN_CLIENT_MESSAGES_PER_10S} messages per 10 s`, 'too_many_messages');
      return;
    }
    if (data.length > MAX_LISTEN_CLIENT_MESSAGE_BYTES) {
      this.fail('message_too_big', `messages are limited to ${MAX_LISTEN_CLIENT_MESSAGE_BYTES} bytes; got ${data.length}`, 'message_too_big');
      return;
    }
    if (isBinary) {
      this.invalid('bad_message', 'a listener sends text messages (JSON) only');
      return;
    }
    const parsed = parseListenClientMessage(data.toString('utf8'));
    if (!parsed.ok) {
      this.invalid(parsed.code, parsed.message);
      return;
    }
    const msg = parsed.value;
    switch (msg.type) {
      case 'pause_request':
        this.paused = true;
        break;
      case 'resume_request':
        // On at the live edge: the next cluster or packet (the init segment is kept by the SourceBuffer).
        this.paused = false;
        break;
      case 'client_metrics':
        this.onMetrics(msg);
        break;
    }
  }

  private invalid(code: ListenErrorCode, message: string): void {
    if (++this.invalidMessages > MAX_LISTEN_INVALID_MESSAGES) {
      this.fail('too_many_invalid', `more than ${MAX_LISTEN_INVALID_MESSAGES} invalid messages; the last: ${message}`, 'too_many_invalid');
      return;
    }
    this.sendText({ type: 'error', code, message });
  }

  /**
   * Keeps the latest values; the player's counters (cumulative since its page opened) go
   * into the relay's totals by their increase. A counter that went down counts from zero
   * again (a player that restarted its count).
   */
  private onMetrics(m: ClientMetricsMessage): void {
    const { type: _type, ...values } = m;
    Object.assign(this.reported, values);
    if (m.stalls !== undefined) {
      const added = m.stalls >= this.lastStalls ? m.stalls - this.lastStalls : m.stalls;
      this.clientStalls += added;
      this.counters.clientStalls += added;
      this.lastStalls = m.stalls;
    }
    if (m.decode_errors !== undefined) {
      const added = m.decode_errors >= this.lastDecodeErrors ? m.decode_errors - this.lastDecodeErrors : m.decode_errors;
      this.clientDecodeErrors += added;
      this.counters.clientDecodeErrors += added;
      this.lastDecodeErrors = m.decode_errors;
    }
  }
}
