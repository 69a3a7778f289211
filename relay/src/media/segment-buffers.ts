/**
 * Segment buffers, recycled: a bucket's PRE and POST audio travel to the control plane
 * (transferred, not copied) and come back once written, so a media worker does not
 * allocate and fault in a megabyte per station at every bucket boundary. Bounded: beyond
 * `maxIdle` buffers of a size, returned ones are left to the garbage collector.
 */
export class SegmentBuffers {
  private readonly idle = new Map<number, Int16Array[]>();
  allocated = 0;
  reused = 0;

  constructor(private readonly maxIdle = 512) {}

  /** A buffer of `samples` samples; its contents are undefined (callers track what they write). */
  acquire(samples: number): Int16Array {
    const list = this.idle.get(samples);
    const b = list?.pop();
    if (b !== undefined) {
      this.reused++;
      return b;
    }
    this.allocated++;
    return new Int16Array(samples);
  }

  release(buffer: ArrayBuffer): void {
    const samples = buffer.byteLength / 2;
    let list = this.idle.get(samples);
    if (list === undefined) this.idle.set(samples, (list = []));
    if (list.length < this.maxIdle) list.push(new Int16Array(buffer));
  }
}
