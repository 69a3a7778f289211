/**
 * A bucket's audio at one tap as 16-bit PCM in chunks of half a second, allocated only
 * where the station sent audio: a station that sends one packet holds one chunk per tap,
 * not a whole 5 s bucket. Samples never written read as silence (a chunk is zeroed when
 * it is taken from the pool, and a missing chunk is written out as zeros).
 *
 * The chunks are slots of shared slabs (segment-buffers.ts): they travel to the control
 * plane with the bucket record as slot numbers (`WireChunks`) and come back the same way
 * once written.
 */
import { float32ToInt16, int16ToFloat32 } from '../../../worklets/dsp/pcm.ts';
import type { SegmentBuffers, SlabViews } from './segment-buffers.ts';

/** A tap's audio in a bucket record: chunk i holds samples [i * chunkSamples, (i + 1) * chunkSamples). */
export interface ChunkedSamples {
  readonly chunkSamples: number;
  readonly chunks: readonly (Int16Array | null)[];
}

/** Half a second: 25 frames of 20 ms at any rate that is a multiple of 50 Hz, so frames never straddle chunks. */
export function chunkSamplesFor(sampleRate: number): number {
  return Math.round(sampleRate / 2);
}

export class SampleChunks implements ChunkedSamples {
  readonly chunks: (Int16Array | null)[];

  constructor(
    readonly chunkSamples: number,
    totalSamples: number,
    private readonly pool: SegmentBuffers,
  ) {
    this.chunks = new Array<Int16Array | null>(Math.ceil(totalSamples / chunkSamples)).fill(null);
  }

  /** Float samples in [-1, 1) to 16-bit PCM at `offset`, clamping what the chain pushed past full scale (pcm.ts). */
  write(offset: number, src: Float32Array, length: number): void {
    const size = this.chunkSamples;
    let i = 0;
    while (i < length) {
      const at = offset + i;
      const index = (at / size) | 0;
      let chunk = this.chunks[index];
      if (chunk === null) {
        chunk = this.pool.acquire(size);
        chunk.fill(0);
        this.chunks[index] = chunk;
      }
      const from = at - index * size;
      const n = Math.min(length - i, size - from);
      float32ToInt16(src, chunk, n, i, from);
      i += n;
    }
  }

  /** Gives the chunks back to the pool (a bucket that is dropped rather than sent). */
  release(): void {
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i];
      if (c !== null) this.pool.release(c);
      this.chunks[i] = null;
    }
  }
}

/** Samples [from, from + length) back to floats in dst from dstOffset (missing chunks read as silence); nothing allocated. */
export function readSamples(c: ChunkedSamples, from: number, dst: Float32Array, dstOffset: number, length: number): void {
  const size = c.chunkSamples;
  let i = 0;
  while (i < length) {
    const at = from + i;
    const index = (at / size) | 0;
    const within = at - index * size;
    const n = Math.min(length - i, size - within);
    const chunk = c.chunks[index] ?? null;
    if (chunk === null) dst.fill(0, dstOffset + i, dstOffset + i + n);
    else int16ToFloat32(chunk, dst, n, within, dstOffset + i);
    i += n;
  }
}

/** A tap's chunks on the way to the control plane: slot numbers, -1 where no audio came. */
export interface WireChunks {
  readonly chunkSamples: number;
  readonly slots: readonly number[];
}

/** The worker's side: a bucket's chunks as slot numbers. */
export function toWire(c: ChunkedSamples, pool: SegmentBuffers): WireChunks {
  return { chunkSamples: c.chunkSamples, slots: c.chunks.map((chunk) => (chunk === null ? -1 : pool.slotOf(chunk))) };
}

/** The control plane's side: the chunks, read through its views of the worker's slabs. */
export function fromWire(w: WireChunks, views: SlabViews): ChunkedSamples {
  return { chunkSamples: w.chunkSamples, chunks: w.slots.map((slot) => (slot < 0 ? null : views.view(slot, w.chunkSamples))) };
}

/** The slots in use, to hand back once the bucket is written. */
export function usedSlots(w: WireChunks): number[] {
  return w.slots.filter((slot) => slot >= 0);
}

const zeroChunks = new Map<number, Int16Array>();

/** The first `samples` samples as consecutive pieces (missing chunks as shared zeros), for one vectored write. */
export function chunkPieces(c: ChunkedSamples, samples: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0, at = 0; at < samples; i++, at += c.chunkSamples) {
    const n = Math.min(c.chunkSamples, samples - at);
    let chunk = c.chunks[i] ?? null;
    if (chunk === null) {
      chunk = zeroChunks.get(c.chunkSamples) ?? new Int16Array(c.chunkSamples);
      zeroChunks.set(c.chunkSamples, chunk);
    }
    out.push(n === c.chunkSamples ? chunk : chunk.subarray(0, n));
  }
  return out;
}

/** The first `samples` samples in one array (recorded parts are merged sample by sample). */
export function flattenChunks(c: ChunkedSamples, samples: number): Int16Array {
  const out = new Int16Array(samples);
  let at = 0;
  for (const piece of chunkPieces(c, samples)) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
