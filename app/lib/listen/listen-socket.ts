/**
 * The listen socket (`GET /ws/listen`, protocol/listen.ts): one WebSocket at a time,
 * reconnecting after a network failure with exponential backoff and jitter (reconnect.ts),
 * text messages parsed at the edge (server-messages.ts), binary messages handed on with
 * their arrival time. It knows nothing of players: the session wires it to one.
 *
 * A connection that goes quiet for `silenceMs` while not paused counts as dead (a relay
 * behind a proxy that lost it, a laptop waking up) and is replaced.
 */
import type { ListenClientMessage, StreamMetadataMessage } from '../../../protocol/listen.ts';
import { Backoff, closeAction } from './reconnect';
import { parseServerMessage } from './server-messages';

export type SocketState = 'connecting' | 'open' | 'retrying' | 'closed';

export interface ListenSocketEvents {
  /** A new socket is open (the first, or a reconnection). */
  opened(): void;
  metadata(m: StreamMetadataMessage): void;
  /** One binary message; `arrivalMs` is performance.now() when it arrived. */
  binary(data: ArrayBuffer, arrivalMs: number): void;
  /** The station stopped (`stream_end`, then the relay's close). */
  ended(reason: string): void;
  /** Trying again cannot help (no such stream, a refused request). */
  failed(message: string): void;
  state(state: SocketState, detail: string): void;
  /** Something odd but survivable (an `error` message, a message that did not parse). */
  problem(message: string): void;
}

export interface ListenSocketOptions {
  /** A socket that has not opened after this long is abandoned and retried, ms (default 10000). */
  openTimeoutMs?: number;
  /** An open socket silent this long (not paused) is replaced, ms (default 15000). */
  silenceMs?: number;
  /** Binary messages over this size are dropped as a protocol problem, bytes (default 4 MiB). */
  maxMessageBytes?: number;
}

export class ListenSocket {
  /** Sockets opened after the first. */
  reconnects = 0;
  private ws: WebSocket | null = null;
  private opens = 0;
  private closed = false;
  private paused = false;
  private sawEnd = false;
  private lastMessageMs = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private readonly backoff = new Backoff();
  private readonly openTimeoutMs: number;
  private readonly silenceMs: number;
  private readonly maxMessageBytes: number;

  constructor(
    /** The socket's URL, asked again at each (re)connection. */
    private readonly url: string | (() => string),
    private readonly events: ListenSocketEvents,
    opts: ListenSocketOptions = {},
  ) {
    this.openTimeoutMs = opts.openTimeoutMs ?? 10_000;
    this.silenceMs = opts.silenceMs ?? 15_000;
    this.maxMessageBytes = opts.maxMessageBytes ?? 4 * 1024 * 1024;
  }

  connect(): void {
    if (this.closed || this.ws !== null) return;
    this.sawEnd = false;
    this.events.state('connecting', this.opens === 0 ? 'connecting to the relay' : `reconnecting (attempt ${this.backoff.attempts})`);
    let ws: WebSocket;
    try {
      ws = new WebSocket(typeof this.url === 'function' ? this.url() : this.url);
    } catch (err) {
      this.scheduleRetry(`cannot open a socket: ${(err as Error).message}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.openTimer = setTimeout(() => {
      if (this.ws === ws && ws.readyState === WebSocket.CONNECTING) this.drop(ws, 'no answer from the relay');
    }, this.openTimeoutMs);

    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.clearOpenTimer();
      if (this.opens > 0) this.reconnects++;
      this.opens++;
      this.lastMessageMs = performance.now();
      this.events.state('open', 'connected');
      this.events.opened();
      this.watchdog ??= setInterval(() => this.checkSilence(), 1000);
    };
    ws.onmessage = (e: MessageEvent<string | ArrayBuffer>) => {
      if (this.ws !== ws) return;
      const now = performance.now();
      this.lastMessageMs = now;
      if (typeof e.data === 'string') this.onText(e.data);
      else this.onBinary(e.data, now);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearOpenTimer();
      if (this.closed) return;
      const what = closeAction(e.code, e.reason, this.sawEnd);
      if (what.action === 'ended') {
        this.finish('closed', what.why);
        this.events.ended(what.why);
      } else if (what.action === 'fatal') {
        this.finish('closed', what.why);
        this.events.failed(what.why);
      } else {
        this.scheduleRetry(what.why);
      }
    };
  }

  /** Sends a control message; false when there is no open socket. */
  send(msg: ListenClientMessage): boolean {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /** While paused the relay sends nothing: silence is expected, not a dead connection. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    this.lastMessageMs = performance.now();
  }

  /** Tries at once if waiting to retry (the browser says the network is back). */
  retryNow(): void {
    if (this.closed || this.retryTimer === null) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  /** Idempotent: closes the socket and stops retrying; no event follows. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const ws = this.ws;
    this.ws = null;
    this.stopTimers();
    if (ws !== null) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.close(1000, 'listener left');
    }
  }

  private onText(text: string): void {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      this.events.problem(parsed.problem);
      return;
    }
    const m = parsed.message;
    if (m.type === 'stream_metadata') this.events.metadata(m);
    else if (m.type === 'stream_end') this.sawEnd = true;
    else this.events.problem(`the relay says: ${m.message}${m.code ? ` (${m.code})` : ''}`);
  }

  private onBinary(data: ArrayBuffer, arrivalMs: number): void {
    if (data.byteLength > this.maxMessageBytes) {
      this.events.problem(`a ${data.byteLength}-byte message, over the ${this.maxMessageBytes}-byte cap: dropped`);
      return;
    }
    // Audio is flowing: this connection works, so the next failure starts the backoff over.
    if (this.backoff.attempts > 0) this.backoff.reset();
    this.events.binary(data, arrivalMs);
  }

  private checkSilence(): void {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN || this.paused) return;
    if (performance.now() - this.lastMessageMs > this.silenceMs) this.drop(ws, `nothing from the relay for ${this.silenceMs / 1000} s`);
  }

  /** Abandons a socket that does not work and retries. */
  private drop(ws: WebSocket, why: string): void {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.close();
    if (this.ws === ws) this.ws = null;
    this.clearOpenTimer();
    this.scheduleRetry(why);
  }

  private scheduleRetry(why: string): void {
    const delay = this.backoff.next();
    this.events.state('retrying', `${why}; trying again in ${(delay / 1000).toFixed(1)} s`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private finish(state: SocketState, detail: string): void {
    this.closed = true;
    this.stopTimers();
    this.events.state(state, detail);
  }

  private clearOpenTimer(): void {
    if (this.openTimer !== null) clearTimeout(this.openTimer);
    this.openTimer = null;
  }

  private stopTimers(): void {
    this.clearOpenTimer();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }
}
