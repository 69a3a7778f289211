/**
 * The `status` messages of a live station's clock (seed 001): backpressure begins when the
 * ingress queue has dropped packets, and ends once it has dropped none for a second; at
 * most one message a second. Both live clocks (jitter/jitter-clock.ts, live-clock.ts) count
 * their drops here and tick it.
 */
export type StatusListener = (state: 'backpressure' | 'ok', droppedFrames: number, queueDepth: number) => void;

/** Backpressure status messages are sent at most this often per station. */
const STATUS_INTERVAL_MS = 1000;

export class BackpressureStatus {
  private state: 'ok' | 'backpressure' = 'ok';
  private lastStatusAtMs = -Infinity;
  private lastDropAtMs = -Infinity;
  private due = false;

  constructor(private readonly onStatus: StatusListener) {}

  get backpressure(): boolean {
    return this.state === 'backpressure';
  }

  /** The queue dropped packets at `nowMs`. */
  dropped(nowMs: number): void {
    this.lastDropAtMs = nowMs;
    if (this.state === 'ok') this.due = true;
  }

  /** Says a change of state, if one is due (`droppedFrames` and `queueDepth` go with it). */
  tick(nowMs: number, droppedFrames: number, queueDepth: number): void {
    if (nowMs - this.lastStatusAtMs < STATUS_INTERVAL_MS) return;
    if (this.state === 'ok' && this.due) {
      this.state = 'backpressure';
    } else if (this.state === 'backpressure' && nowMs - this.lastDropAtMs >= STATUS_INTERVAL_MS) {
      this.state = 'ok';
    } else if (this.state !== 'backpressure') {
      return;
    }
    this.due = false;
    this.lastStatusAtMs = nowMs;
    this.onStatus(this.state, droppedFrames, queueDepth);
  }
}
