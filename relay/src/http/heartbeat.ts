/**
 * WebSocket heartbeats (seed 004 §1.5: a ping every 15 s; a peer whose pong is 10 s late is
 * gone). A phone that drives out of coverage never sends a close: without this, its
 * station or telemetry client would stay open for as long as TCP keeps trying. One timer
 * serves every socket the relay holds.
 */
import type { WebSocket } from 'ws';

interface Beat {
  lastPingMs: number;
  /** When the unanswered ping went out; null when the last one was answered. */
  awaitingSinceMs: number | null;
  onLost: (() => void) | undefined;
}

export class Heartbeat {
  private readonly beats = new Map<WebSocket, Beat>();
  /** Runs only while there are sockets to watch: an idle relay does not wake up for nothing. */
  private timer: NodeJS.Timeout | null = null;
  private readonly tickMs: number;
  private closed = false;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    /** Counts each socket cut for a missing pong. */
    private readonly onTimeout: () => void = () => undefined,
  ) {
    this.tickMs = Math.min(1000, Math.max(20, Math.min(intervalMs, timeoutMs) / 4));
  }

  /** Watches a socket until it closes; `onLost` runs just before a silent peer is cut. */
  add(socket: WebSocket, onLost?: () => void): void {
    const beat: Beat = { lastPingMs: Date.now(), awaitingSinceMs: null, onLost };
    this.beats.set(socket, beat);
    socket.on('pong', () => (beat.awaitingSinceMs = null));
    socket.once('close', () => this.forget(socket));
    if (this.timer === null && !this.closed) {
      this.timer = setInterval(() => this.tick(Date.now()), this.tickMs);
      this.timer.unref();
    }
  }

  get size(): number {
    return this.beats.size;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.beats.clear();
  }

  private forget(socket: WebSocket): void {
    this.beats.delete(socket);
    if (this.beats.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private tick(nowMs: number): void {
    for (const [socket, beat] of this.beats) {
      if (beat.awaitingSinceMs !== null) {
        if (nowMs - beat.awaitingSinceMs <= this.timeoutMs) continue;
        this.forget(socket);
        this.onTimeout();
        try {
          beat.onLost?.();
        } finally {
          // No close handshake with a peer that does not answer: drop the connection.
          socket.terminate();
        }
      } else if (nowMs - beat.lastPingMs >= this.intervalMs && socket.readyState === socket.OPEN) {
        beat.lastPingMs = nowMs;
        beat.awaitingSinceMs = nowMs;
        socket.ping();
      }
    }
  }
}
