/**
 * The monitor's transport layer (seed 003 §18-19): bootstrap from `GET /measurements`, then
 * prefer `/ws/telemetry`; when the socket drops, keep the last state, poll
 * `/measurements` every `pollMs` and reconnect with exponential backoff. It hands each new
 * measurement to `onMeasurement` and says which of three states it is in:
 *
 * - `live`: the socket is open and a measurement arrived on it within `staleMs`;
 * - `polling`: no live socket, but a poll (or the socket, before it dropped) delivered within `staleMs`;
 * - `stale`: neither; what is shown is the last state received.
 *
 * Spectrum messages (seed 003 WS-3) come only on the socket, for the station the socket URL
 * asks for (`?spectrum=`); `reopen()` connects again when that changes. While polling there
 * is no spectrum.
 *
 * No DOM beyond `WebSocket` and `fetch`, both injectable so tests can drive it.
 */
import type { Measurement, SpectrumMessage } from '$protocol/telemetry';
import { parseMeasurement, parseTelemetryFrame } from './measurement';

export type TransportState = 'live' | 'polling' | 'stale';

/** The part of a browser WebSocket the transport uses. */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface TransportOptions {
  /** `/measurements` (with `?trace_id=` to watch one trace). */
  measurementsUrl: string;
  /** `ws(s)://.../ws/telemetry?token=...`, asked for at each connection (the token may change). */
  socketUrl: () => string;
  onMeasurement: (m: Measurement) => void;
  /** Each valid spectrum message the socket brings. */
  onSpectrum?: (s: SpectrumMessage) => void;
  onState: (s: TransportState) => void;
  fetch?: (url: string) => Promise<Response>;
  openSocket?: (url: string) => SocketLike;
  now?: () => number;
  /** Poll period while the socket is down, ms (seed 003 §19; default 1000). */
  pollMs?: number;
  /** No measurement for this long makes the state `stale` and a silent socket dropped, ms (default 3000). */
  staleMs?: number;
  /** First reconnection delay, ms (default 500); doubles per failed attempt... */
  backoffMinMs?: number;
  /** ...up to this, ms (default 10000). */
  backoffMaxMs?: number;
}

/** A seq this far below the last one is a restarted relay, not a late answer. */
const SEQ_RESTART_GAP = 100;

export class TelemetryTransport {
  state: TransportState = 'stale';
  /** Reconnection attempts since the socket was last open. */
  attempts = 0;

  private readonly o: Required<Omit<TransportOptions, 'fetch' | 'openSocket' | 'now' | 'onSpectrum'>>;
  private readonly onSpectrum: (s: SpectrumMessage) => void;
  private readonly doFetch: (url: string) => Promise<Response>;
  private readonly openSocket: (url: string) => SocketLike;
  private readonly now: () => number;
  private socket: SocketLike | null = null;
  private socketOpen = false;
  private socketOpenedMs = -Infinity;
  private lastSocketDataMs = -Infinity;
  private lastPollDataMs = -Infinity;
  private lastSeq = -1;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private polling = false;
  private closed = false;
  /** The open socket was let go of to open another (`reopen`): still live until that one answers. */
  private reopening = false;

  constructor(opts: TransportOptions) {
    this.o = {
      measurementsUrl: opts.measurementsUrl,
      socketUrl: opts.socketUrl,
      onMeasurement: opts.onMeasurement,
      onState: opts.onState,
      pollMs: opts.pollMs ?? 1000,
      staleMs: opts.staleMs ?? 3000,
      backoffMinMs: opts.backoffMinMs ?? 500,
      backoffMaxMs: opts.backoffMaxMs ?? 10_000,
    };
    this.doFetch = opts.fetch ?? ((url) => fetch(url, { cache: 'no-store', headers: { accept: 'application/json' } }));
    this.openSocket = opts.openSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.now = opts.now ?? (() => performance.now());
    this.onSpectrum = opts.onSpectrum ?? (() => {});
  }

  /** Renders from a snapshot first, then connects the socket. */
  start(): void {
    void this.poll();
    this.connect();
    this.watchdog = setInterval(() => this.check(), Math.min(500, this.o.staleMs / 2));
  }

  /**
   * The relay is known to be back (relay-status.svelte.ts): poll and reconnect now rather
   * than at the end of the current backoff, which may be up to `backoffMaxMs` away.
   */
  reconnectNow(): void {
    if (this.closed || this.socketOpen) return;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.attempts = 0;
    this.dropSocket();
    void this.poll();
    this.connect();
  }

  /** Stops everything; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.dropSocket();
  }

  /**
   * Opens a new socket at once, from `socketUrl()` (which asks for another spectrum, say),
   * in place of an open one; the state stays live while it opens. Without an open socket the
   * next reconnection attempt asks for the new URL anyway.
   */
  reopen(): void {
    if (this.closed || !this.socketOpen) return;
    this.dropSocket();
    this.reopening = true;
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    this.reconnectTimer = null;
    let ws: SocketLike;
    try {
      ws = this.openSocket(this.o.socketUrl());
    } catch {
      this.onSocketGone();
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      if (this.socket !== ws) return;
      this.socketOpen = true;
      this.reopening = false;
      this.socketOpenedMs = this.now();
      this.attempts = 0;
    };
    ws.onmessage = (ev) => {
      if (this.socket !== ws || typeof ev.data !== 'string') return;
      const frame = parseTelemetryFrame(ev.data);
      if (frame === null) return;
      if (frame.type === 'spectrum') {
        this.onSpectrum(frame.spectrum);
        return;
      }
      const m = frame.measurement;
      this.lastSocketDataMs = this.now();
      // Streamed updates are preferred: the snapshot polling stops with the first one.
      this.stopPolling();
      this.deliver(m);
      this.check();
    };
    ws.onclose = () => {
      if (this.socket === ws) this.onSocketGone();
    };
    ws.onerror = () => {
      // A close event follows; nothing to do before it.
    };
  }

  private dropSocket(): void {
    const ws = this.socket;
    this.socket = null;
    this.socketOpen = false;
    if (ws === null) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch {
      // Closing a socket that never opened may throw in some browsers; it is gone either way.
    }
  }

  /** The socket closed or never opened: keep the last state, poll, and try again later. */
  private onSocketGone(): void {
    this.dropSocket();
    this.reopening = false;
    if (this.closed) return;
    if (this.pollTimer === null) void this.poll();
    this.startPolling();
    const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** this.attempts);
    this.attempts++;
    // Up to 20 % jitter, so many pages do not reconnect to a restarted relay in step.
    this.reconnectTimer = setTimeout(() => this.connect(), delay * (1 + Math.random() * 0.2));
    this.check();
  }

  private startPolling(): void {
    if (this.pollTimer !== null || this.closed) return;
    this.pollTimer = setInterval(() => void this.poll(), this.o.pollMs);
  }

  private stopPolling(): void {
    if (this.pollTimer !== null) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const res = await this.doFetch(this.o.measurementsUrl);
      if (!res.ok) return;
      const m = parseMeasurement(await res.json());
      if (m === null || this.closed) return;
      this.lastPollDataMs = this.now();
      this.deliver(m);
      this.check();
    } catch {
      // Unreachable relay: the watchdog turns the state stale.
    } finally {
      this.polling = false;
    }
  }

  private deliver(m: Measurement): void {
    if (m.seq <= this.lastSeq && this.lastSeq - m.seq < SEQ_RESTART_GAP) return; // a late poll answer
    this.lastSeq = m.seq;
    this.o.onMeasurement(m);
  }

  /** Works out the state; a socket open but silent for `staleMs` counts as dropped. */
  private check(): void {
    if (this.closed) return;
    const now = this.now();
    const fresh = (t: number): boolean => now - t <= this.o.staleMs;
    if ((this.socketOpen || this.reopening) && !fresh(Math.max(this.socketOpenedMs, this.lastSocketDataMs))) {
      this.onSocketGone();
      return;
    }
    // Right after a drop the socket's last measurement still counts, until the first poll answers.
    const next: TransportState =
      (this.socketOpen || this.reopening) && fresh(this.lastSocketDataMs)
        ? 'live'
        : fresh(Math.max(this.lastPollDataMs, this.lastSocketDataMs))
          ? 'polling'
          : 'stale';
    if (next !== this.state) {
      this.state = next;
      this.o.onState(next);
    }
  }
}
