/**
 * The clock of a recording (an upload's part, relay/src/uploads/): every packet goes on as
 * it comes, its arrival time being its capture time, and buckets complete by the latest
 * capture time rather than the wall clock, which is hours ahead of a recording. Nothing
 * waits or is dropped: the flow control is the control plane's (a batch at a time).
 */
import type { PacketView } from './packet-batch.ts';
import type { Clock, PacketStage, ReceiveCounters, StageStats } from './stage.ts';

export class RecordedClock implements Clock {
  readonly counters: ReceiveCounters = { frames_received: 0, bytes_received: 0, frames_dropped: 0 };
  readonly depth = 0;
  /** The latest capture time played, epoch ms. */
  private latestMs = -Infinity;
  private ended = false;

  constructor(private readonly next: PacketStage) {}

  push(p: PacketView): void {
    this.counters.frames_received++;
    this.counters.bytes_received += p.payload.length;
    this.next.process(p);
    if (p.arrivalMs > this.latestMs) this.latestMs = p.arrivalMs;
  }

  release(): void {}

  /** Once ended, nothing more comes: every bucket is complete. The wall clock plays no part. */
  now(_wallMs?: number): number {
    return this.ended ? Infinity : this.latestMs;
  }

  tick(): void {}

  end(): void {
    this.ended = true;
  }

  stats(): StageStats {
    return { ...this.counters, latest_capture_ms: Number.isFinite(this.latestMs) ? this.latestMs : null };
  }
}
