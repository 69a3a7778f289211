/**
 * Segment audio chunks, in shared memory and recycled. A media worker keeps its stations'
 * bucket audio in slots of SharedArrayBuffer slabs; the control plane holds a view of each
 * slab (announced once, when the slab is made), so a finalized bucket crosses to it as slot
 * numbers and goes back the same way once written. No audio buffer is transferred, copied
 * or allocated per bucket: moving ArrayBuffers between threads would count every one as
 * new external memory in the receiving thread, and at a few hundred stations (30 MB/s of
 * segment audio) that pressure alone sets off a full garbage collection in the media
 * worker several times a second, with the audio waiting behind it.
 *
 * Bounded by what the stations need: the idle slots kept stay under the most bytes that
 * were in use at once over the last ten seconds (or a small floor); a slab whose slots are
 * all idle beyond that bound is freed, and the control plane told to let go of it.
 */

/** Slots per slab: 32 half-second chunks, 1.5 MB at 48 kHz. */
export const SLOTS_PER_SLAB = 32;
/** Idle bytes always allowed (a few stations' worth of chunks). */
const MIN_IDLE_BYTES = 2 * 1024 * 1024;
/** The in-use peak that bounds the idle slots is taken over this window (two buckets). */
const PEAK_WINDOW_MS = 10_000;

/** What the control plane must hear about slabs (in order, before any bucket uses one). */
export interface SlabEvents {
  made(id: number, buffer: SharedArrayBuffer, chunkSamples: number): void;
  freed(id: number): void;
}

interface Slab {
  id: number;
  samples: number;
  views: Int16Array[];
  /** Idle slot indexes. */
  free: number[];
}

const noEvents: SlabEvents = { made: () => undefined, freed: () => undefined };

export class SegmentBuffers {
  private readonly slabs = new Map<number, Slab>();
  /** Slabs per chunk size, lowest id first: slots are taken from the lowest, so the highest empty out and can be freed. */
  private readonly bySize = new Map<number, Slab[]>();
  private readonly slotOfView = new WeakMap<Int16Array, number>();
  private nextSlabId = 0;
  private idleBytes = 0;
  private inUseBytes = 0;
  /** Peak in-use bytes of the current and the previous window. */
  private peakNow = 0;
  private peakBefore = 0;
  private windowStartMs = 0;

  constructor(
    private readonly events: SlabEvents = noEvents,
    private readonly minIdleBytes = MIN_IDLE_BYTES,
  ) {}

  /** A chunk of `samples` samples (a view into a shared slab); its contents are undefined. */
  acquire(samples: number): Int16Array {
    this.inUseBytes += samples * 2;
    if (this.inUseBytes > this.peakNow) this.peakNow = this.inUseBytes;
    const list = this.bySize.get(samples);
    if (list !== undefined) {
      for (const slab of list) {
        const i = slab.free.pop();
        if (i === undefined) continue;
        this.idleBytes -= samples * 2;
        return slab.views[i];
      }
    }
    const slab = this.makeSlab(samples);
    this.idleBytes += (SLOTS_PER_SLAB - 1) * samples * 2;
    return slab.views[slab.free.pop() as number];
  }

  /** A chunk back from use (a bucket dropped in the worker). */
  release(view: Int16Array): void {
    const slot = this.slotOfView.get(view);
    if (slot === undefined) throw new Error('not a segment buffer of this pool');
    this.releaseSlot(slot);
  }

  /** A slot back from the control plane, its bucket written. */
  releaseSlot(slot: number): void {
    const slab = this.slabs.get(Math.floor(slot / SLOTS_PER_SLAB));
    if (slab === undefined) return;
    const bytes = slab.samples * 2;
    this.inUseBytes -= bytes;
    this.idleBytes += bytes;
    slab.free.push(slot % SLOTS_PER_SLAB);
  }

  /** The slot number of a chunk, as the control plane knows it. */
  slotOf(view: Int16Array): number {
    const slot = this.slotOfView.get(view);
    if (slot === undefined) throw new Error('not a segment buffer of this pool');
    return slot;
  }

  /**
   * Periodic (once a second): moves the peak window on and frees slabs that are all idle
   * while the idle bytes are over the bound. `forget` forgets the peak at once (the worker
   * has no station left).
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
    const bound = Math.max(this.minIdleBytes, this.peakNow, this.peakBefore);
    for (const [samples, list] of this.bySize) {
      for (let k = list.length - 1; k >= 0 && this.idleBytes > bound; k--) {
        const slab = list[k];
        if (slab.free.length !== SLOTS_PER_SLAB) continue;
        list.splice(k, 1);
        this.slabs.delete(slab.id);
        this.idleBytes -= SLOTS_PER_SLAB * samples * 2;
        this.events.freed(slab.id);
      }
      if (list.length === 0) this.bySize.delete(samples);
    }
  }

  get idleByteCount(): number {
    return this.idleBytes;
  }

  get slabCount(): number {
    return this.slabs.size;
  }

  private makeSlab(samples: number): Slab {
    const id = this.nextSlabId++;
    const buffer = new SharedArrayBuffer(SLOTS_PER_SLAB * samples * 2);
    const views: Int16Array[] = [];
    for (let i = 0; i < SLOTS_PER_SLAB; i++) {
      const v = new Int16Array(buffer, i * samples * 2, samples);
      views.push(v);
      this.slotOfView.set(v, id * SLOTS_PER_SLAB + i);
    }
    const slab: Slab = { id, samples, views, free: Array.from({ length: SLOTS_PER_SLAB }, (_, i) => SLOTS_PER_SLAB - 1 - i) };
    this.slabs.set(id, slab);
    let list = this.bySize.get(samples);
    if (list === undefined) this.bySize.set(samples, (list = []));
    list.push(slab); // ids only grow: the list stays sorted
    this.events.made(id, buffer, samples);
    return slab;
  }
}

/**
 * The control plane's side: views of a worker's slabs, to read a bucket's chunks from
 * their slot numbers.
 */
export class SlabViews {
  private readonly slabs = new Map<number, Int16Array>();

  made(id: number, buffer: SharedArrayBuffer): void {
    this.slabs.set(id, new Int16Array(buffer));
  }

  freed(id: number): void {
    this.slabs.delete(id);
  }

  /** The chunk in `slot`, of `samples` samples. */
  view(slot: number, samples: number): Int16Array {
    const slab = this.slabs.get(Math.floor(slot / SLOTS_PER_SLAB));
    if (slab === undefined) throw new Error(`segment slot ${slot} is in no slab the worker announced`);
    const at = (slot % SLOTS_PER_SLAB) * samples;
    return slab.subarray(at, at + samples);
  }
}
