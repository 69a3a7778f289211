/**
 * The live path to the relay: one `/ws/ingest` WebSocket at a time, started with `start`,
 * carrying seed 004 binary frames, reconnecting with backoff when it drops. Each
 * reconnection is a new station in the same trace (the relay ends a station when its socket
 * closes), so the link reports every `started` it gets.
 *
 * `send` says whether a frame went out live; a frame that did not (offline, not started
 * yet, or the socket's send buffer over its cap) is the recorder's to upload later.
 */
import type { IngestServerMessage, StartedMessage, StatusMessage } from '$protocol/ingest';

export type LinkState = 'connecting' | 'live' | 'offline' | 'closed';

export interface IngestLinkOptions {
  /** ws(s)://host/ws/ingest, with ?token= when the relay needs one. */
  url: string;
  label: string;
  /** Join this trace (another tester's); after the first `started`, the link keeps its trace. */
  traceId: string | null;
  onState(state: LinkState, detail: string): void;
  onStarted(started: StartedMessage): void;
  onStatus(status: StatusMessage): void;
  /** The relay refused the start itself (a bad trace id, ...): reconnecting would not help. */
  onRefused(message: string): void;
}

/** Frames are held back (and recorded for upload) while this much is unsent on the socket. */
const MAX_BUFFERED_BYTES = 64 * 1024;
const BACKOFF_MS = [500, 1000, 2000, 4000, 5000];

export class IngestLink {
  private ws: WebSocket | null = null;
  private started = false;
  private closing = false;
  private attempt = 0;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private traceId: string | null;
  state: LinkState = 'connecting';
  bytesSent = 0;

  constructor(private readonly opts: IngestLinkOptions) {
    this.traceId = opts.traceId;
  }

  connect(): void {
    if (this.closing) return;
    this.setState(this.attempt === 0 ? 'connecting' : 'offline', this.attempt === 0 ? 'connecting to the relay' : 'reconnecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.opts.url);
    } catch (err) {
      this.scheduleRetry(`cannot open a socket: ${(err as Error).message}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.started = false;
    ws.onopen = () => {
      const start: Record<string, unknown> = { type: 'start', codec: 'opus', sample_rate: 48000, channels: 1, frame_ms: 20, label: this.opts.label };
      if (this.traceId !== null) start.trace_id = this.traceId;
      ws.send(JSON.stringify(start));
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      let msg: IngestServerMessage;
      try {
        msg = JSON.parse(e.data) as IngestServerMessage;
      } catch {
        return;
      }
      this.onMessage(ws, msg);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.started = false;
      if (this.closing) {
        this.setState('closed', 'stopped');
        return;
      }
      // 1008: the relay refused our start; trying again with the same start would not help.
      if (e.code === 1008) {
        this.closing = true;
        this.setState('closed', `refused: ${e.reason || 'policy violation'}`);
        this.opts.onRefused(e.reason || 'the relay refused the start');
        return;
      }
      this.scheduleRetry(e.code === 1006 ? 'relay unreachable' : `closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`);
    };
  }

  private onMessage(ws: WebSocket, msg: IngestServerMessage): void {
    switch (msg.type) {
      case 'started':
        if (msg.source !== undefined) return;
        this.started = true;
        this.attempt = 0;
        this.traceId = msg.trace_id;
        this.setState('live', `streaming as ${msg.station_key}`);
        this.opts.onStarted(msg);
        break;
      case 'status':
        this.opts.onStatus(msg);
        break;
      case 'error':
        // Start refusals close the socket with 1008 (handled in onclose); other errors are per frame.
        if (!this.started && ws.readyState === WebSocket.OPEN) this.setState('connecting', msg.message);
        break;
      case 'stopped':
        break;
    }
  }

  /** Sends one frame if the link is live and not backed up; true when it went out. */
  send(frame: Uint8Array): boolean {
    const ws = this.ws;
    if (ws === null || !this.started || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    ws.send(frame);
    this.bytesSent += frame.length;
    return true;
  }

  /** Bytes given to the socket but not sent yet (its `bufferedAmount`); 0 without a socket. */
  get bufferedBytes(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  get isLive(): boolean {
    return this.started && this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends `stop` and waits (briefly) for the relay to close. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    const ws = this.ws;
    if (ws === null) {
      this.setState('closed', 'stopped');
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      ws.addEventListener('close', done, { once: true });
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'stop' }));
      else ws.close();
      setTimeout(() => {
        ws.close();
        resolve();
      }, 2000);
    });
    this.ws = null;
    this.setState('closed', 'stopped');
  }

  private scheduleRetry(reason: string): void {
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt++;
    this.setState('offline', reason);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect();
    }, delay);
  }

  /** Tries at once (the browser says the network is back). */
  retryNow(): void {
    if (this.closing || this.ws !== null || this.retry === null) return;
    clearTimeout(this.retry);
    this.retry = null;
    this.connect();
  }

  private setState(state: LinkState, detail: string): void {
    this.state = state;
    this.opts.onState(state, detail);
  }
}
