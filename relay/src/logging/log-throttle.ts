/**
 * Rate limit for log lines of one kind: at most one line per key per interval, and the
 * next line says how many were held back. A client sending a stream of bad frames, or a
 * station dropping packets 50 times a second, costs one line every few seconds.
 */
export class LogThrottle {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    /** Keys remembered at most; the oldest are forgotten beyond (bounded whatever the keys). */
    private readonly maxKeys = 10_000,
  ) {}

  /** The number of lines held back since the last one when this line should be logged; null to hold it back. */
  take(key: string, nowMs: number): number | null {
    const entry = this.last.get(key);
    if (entry !== undefined && nowMs - entry.atMs < this.intervalMs) {
      entry.suppressed++;
      return null;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.delete(key);
    this.last.set(key, { atMs: nowMs, suppressed: 0 });
    if (this.last.size > this.maxKeys) this.last.delete(this.last.keys().next().value as string);
    return suppressed;
  }
}
