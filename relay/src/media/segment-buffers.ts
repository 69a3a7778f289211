/**
 * Segment audio chunks, recycled: a bucket's chunks travel to the control plane
 * (transferred, not copied) and come back once written, so a media worker does not
 * allocate and fault in its stations' audio afresh at every bucket boundary.
 *
 * Bounded by what the stations need: the idle chunks kept stay under the most bytes that
 * were in use at once over the last ten seconds (or a small floor). When stations end,
 * their chunks are no longer kept, and the memory goes back to the allocator.
 */

/** Idle bytes always allowed (a few stations' worth of chunks). */
const MIN_IDLE_BYTES = 2 * 1024 * 1024;
/** The in-use peak that bounds the idle chunks is taken over this window (two buckets). */
const PEAK_WINDOW_MS = 10_000;

export class SegmentBuffers {
  private readonly idle = new Map<number, Int16Array[]>();
  private idleBytes = 0;
  private inUseBytes = 0;
  /** Peak in-use bytes of the current and the previous window. */
  private peakNow = 0;
  private peakBefore = 0;
  private windowStartMs = 0;
  allocated = 0;
  reused = 0;

  constructor(private readonly minIdleBytes = MIN_IDLE_BYTES) {}

  /** A buffer of `samples` samples; its contents are undefined. */
  acquire(samples: number): Int16Array {
    this.inUseBytes += samples * 2;
    if (this.inUseBytes > this.peakNow) this.peakNow = this.inUseBytes;
    const b = this.idle.get(samples)?.pop();
    if (b !== undefined) {
      this.idleBytes -= b.byteLength;
      this.reused++;
      return b;
    }
    this.allocated++;
    return new Int16Array(samples);
  }

  /** A buffer back from use: kept for reuse while under the bound, else left to the garbage collector. */
  release(buffer: ArrayBuffer): void {
    this.inUseBytes -= buffer.byteLength;
    if (this.idleBytes + buffer.byteLength > this.bound()) return;
    const samples = buffer.byteLength / 2;
    let list = this.idle.get(samples);
    if (list === undefined) this.idle.set(samples, (list = []));
    list.push(new Int16Array(buffer));
    this.idleBytes += buffer.byteLength;
  }

  /**
   * Periodic (once a second): moves the peak window on and drops idle buffers over the
   * bound. `forget` forgets the peak at once (the worker has no station left).
   */
  trim(nowMs: number, forget = false): void {
    if (forget) {
      this.peakBefore = 0;
      this.peakNow = this.inUseBytes;
      this.windowStartMs = nowMs;
    } else if (nowMs - this.windowStartMs >= PEAK_WINDOW_MS / 2) {
      this.peakBefore = this.peakNow;
      this.peakNow = this.inUseBytes;
      this.windowStartMs = nowMs;
    }
    const bound = this.bound();
    for (const list of this.idle.values()) {
      while (this.idleBytes > bound && list.length > 0) this.idleBytes -= (list.pop() as Int16Array).byteLength;
    }
  }

  get idleByteCount(): number {
    return this.idleBytes;
  }

  private bound(): number {
    return Math.max(this.minIdleBytes, this.peakNow, this.peakBefore);
  }
}
