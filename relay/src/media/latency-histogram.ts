/**
 * A fixed-size latency histogram (0.1 ms bins up to 500 ms, then one overflow bin), so that
 * measuring every frame costs an increment and memory never grows.
 */
export const LATENCY_BIN_MS = 0.1;
export const LATENCY_BINS = 5000;

export class LatencyHistogram {
  readonly bins = new Uint32Array(LATENCY_BINS + 1);
  count = 0;
  maxMs = 0;

  record(ms: number): void {
    const i = ms <= 0 ? 0 : Math.min(LATENCY_BINS, Math.floor(ms / LATENCY_BIN_MS));
    this.bins[i]++;
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  merge(bins: Uint32Array, count: number, maxMs: number): void {
    for (let i = 0; i < this.bins.length; i++) this.bins[i] += bins[i];
    this.count += count;
    if (maxMs > this.maxMs) this.maxMs = maxMs;
  }

  /** The q-quantile (0..1), as the upper edge of its bin; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= target) return i === LATENCY_BINS ? this.maxMs : (i + 1) * LATENCY_BIN_MS;
    }
    return this.maxMs;
  }

  reset(): void {
    this.bins.fill(0);
    this.count = 0;
    this.maxMs = 0;
  }
}
