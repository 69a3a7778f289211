/**
 * Segments resampled for `GET /api/audio/segment?rate=`, kept in memory for a while: a
 * player reads one file in several Range requests, and an optimizer reads the same bucket's
 * PRE and POST in turn. Resampling a 5 s segment costs about 70 ms of the control plane's
 * time; a hit costs nothing.
 *
 * Bounded (STYLE.md habit 4): at most `maxBytes` of WAV files, least recently used evicted
 * first. A file is keyed by its path, size and modification time, so a segment rewritten in
 * place (an upload's part merged into a bucket) is resampled again.
 */
import { readFile, stat } from 'node:fs/promises';
import { resampleWav } from './resample.ts';

export class ResampledSegments {
  /** Insertion order is recency: the first entry is the least recently used. */
  private readonly cache = new Map<string, Promise<Buffer>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(
    /** Most bytes of resampled WAV kept (default 32 MiB: over 200 five-second segments at 16 kHz). */
    private readonly maxBytes = 32 << 20,
  ) {}

  /** Bytes held now. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** The WAV file at `path` as a 16-bit mono WAV at `rate` Hz. */
  async get(path: string, rate: number): Promise<Buffer> {
    const s = await stat(path);
    const key = `${path}\u0000${s.size}\u0000${s.mtimeMs}\u0000${rate}`;
    let wav = this.cache.get(key);
    if (wav !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, wav);
      return wav;
    }
    // Concurrent requests for the same file share one conversion.
    wav = readFile(path).then((bytes) => resampleWav(bytes, rate));
    this.cache.set(key, wav);
    try {
      const out = await wav;
      if (this.cache.get(key) === wav && !this.sizes.has(key)) {
        this.sizes.set(key, out.length);
        this.bytes += out.length;
        this.evict();
      }
      return out;
    } catch (err) {
      if (this.cache.get(key) === wav) this.cache.delete(key);
      throw err;
    }
  }

  private evict(): void {
    for (const key of this.cache.keys()) {
      if (this.bytes <= this.maxBytes) return;
      const size = this.sizes.get(key);
      if (size === undefined) continue; // still converting
      this.cache.delete(key);
      this.sizes.delete(key);
      this.bytes -= size;
    }
  }
}
