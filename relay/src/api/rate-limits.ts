/**
 * Seed 000 §8 rate limits, kept in memory (a relay restart resets them):
 * - snapshot pulls: at most one per token and trace per interval (default 5 s), so an
 *   operator's page and an optimizer do not starve each other;
 * - knob applies: at most one per station per wall-clock bucket.
 * Each check returns the seconds to wait (for `Retry-After`), or 0 when allowed.
 */
export class RateLimits {
  private readonly lastSnapshot = new Map<string, number>();
  private readonly lastApplyBucket = new Map<string, number>();

  constructor(
    /** Shortest time between two snapshots of one token and trace, ms (0: no limit). */
    readonly snapshotIntervalMs: number,
    private readonly bucketMs: number,
    private readonly applyOncePerBucket = true,
  ) {}

  snapshot(tokenId: string, traceId: string, nowMs: number): number {
    if (this.snapshotIntervalMs <= 0) return 0;
    const key = `${tokenId}\u0000${traceId}`;
    const last = this.lastSnapshot.get(key);
    if (last !== undefined && nowMs - last < this.snapshotIntervalMs) return Math.ceil((last + this.snapshotIntervalMs - nowMs) / 1000);
    this.lastSnapshot.set(key, nowMs);
    if (this.lastSnapshot.size > 10_000) this.prune(nowMs);
    return 0;
  }

  /** Seconds until the next bucket when this station already had an apply in the current one. */
  applyWait(traceId: string, stationKey: string, nowMs: number): number {
    if (!this.applyOncePerBucket) return 0;
    const bucket = Math.floor(nowMs / this.bucketMs) * this.bucketMs;
    if (this.lastApplyBucket.get(`${traceId}\u0000${stationKey}`) === bucket) return Math.max(1, Math.ceil((bucket + this.bucketMs - nowMs) / 1000));
    return 0;
  }

  recordApply(traceId: string, stationKey: string, nowMs: number): void {
    this.lastApplyBucket.set(`${traceId}\u0000${stationKey}`, Math.floor(nowMs / this.bucketMs) * this.bucketMs);
  }

  private prune(nowMs: number): void {
    for (const [k, t] of this.lastSnapshot) if (nowMs - t >= this.snapshotIntervalMs) this.lastSnapshot.delete(k);
  }
}
