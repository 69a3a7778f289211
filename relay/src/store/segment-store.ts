/**
 * WAV segments under `<data dir>/segments` (the embedded default of the `SegmentStore`
 * port): one PRE and one POST file per (station, bucket), 16-bit PCM mono at the
 * station's rate. Sample i of a segment is at bucket_ts + i / rate.
 *
 * A bucket's row is committed only after its files are written, and files no row points at
 * are removed at start, so a crash never leaves a row pointing at half a WAV. A segment
 * that replaces one a row already points at (a recorded bucket merged again) goes to a
 * temporary name and is renamed over it, so the old file stays whole until the new one is.
 * Retention deletes segments past the age limit, then, while the total is over the size
 * limit, the oldest segment of the client holding the most bytes: clients share the budget
 * fairly (max-min), so a flood of short stations from one client evicts its own audio,
 * never that of the clients that were there first. A client is who sent the audio
 * ("token:<id>", else "address:<ip>"). The bucket rows stay (their audio columns become
 * null).
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { int16LeBytes, readWav, wavHeader } from '../audio/wav.ts';
import type { SegmentRef, Store } from './store.ts';

export interface RetentionPolicy {
  /** Segments older than this are deleted (by bucket time). */
  maxAgeMs: number;
  /** Total segment bytes kept at most; the oldest go first. */
  maxBytes: number;
}

/** Where a bucket's segments go, and whose they are. */
export interface SegmentKey {
  traceId: string;
  stationKey: string;
  bucketTs: number;
  sampleRate: number;
  client: string;
}

export interface WrittenSegments {
  prePath: string;
  postPath: string;
  bytes: number;
}

/** Station directories remembered as existing, at most (a relay has far fewer live ones). */
const MAX_KNOWN_DIRS = 10_000;

export class SegmentStore {
  private totalBytes = 0;
  /** Segment bytes on disk per client (the retention shares). */
  private readonly bytesByClient = new Map<string, number>();
  /** Directories known to exist (bounded: forgotten in one go past MAX_KNOWN_DIRS). */
  private readonly knownDirs = new Set<string>();

  constructor(
    readonly root: string,
    private readonly store: Store,
    private readonly retention: RetentionPolicy,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    // A crash between writing a bucket's files and its row leaves files nothing points at.
    const known = this.store.segmentPaths();
    await removeOrphans(this.root, this.root, known);
    this.totalBytes = 0;
    this.bytesByClient.clear();
    for (const { client, bytes } of this.store.segmentBytesByClient()) {
      this.bytesByClient.set(client, bytes);
      this.totalBytes += bytes;
    }
  }

  get bytesOnDisk(): number {
    return this.totalBytes;
  }

  /**
   * Writes both segments of a bucket, each given as consecutive pieces of samples; returns
   * paths relative to the segment root. `replacing`: files a row points at already exist
   * under these names (written to a temporary name, then renamed over them).
   */
  async write(key: SegmentKey, pre: readonly Int16Array[], post: readonly Int16Array[], replacing = false): Promise<WrittenSegments> {
    const dir = join(this.root, key.traceId, key.stationKey);
    // A station's directory is made once: a bucket every 5 s need not ask the file system again.
    if (!this.knownDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.rememberDir(dir);
    }
    const stamp = new Date(key.bucketTs).toISOString().replace(/[-:]/g, '').replace('.', '');
    let bytes = 0;
    const paths: string[] = [];
    for (const [tap, pieces] of [['PRE', pre], ['POST', post]] as const) {
      const path = join(dir, `${stamp}.${tap}.wav`);
      // Header and samples go out in one writev, without copying the samples.
      const body = pieces.map(int16LeBytes);
      const dataBytes = body.reduce((n, b) => n + b.length, 0);
      const chunks = [wavHeader(dataBytes, key.sampleRate, 1), ...body];
      const target = replacing ? `${path}.tmp` : path;
      const fh = await open(target, 'w');
      try {
        await fh.writev(chunks);
      } finally {
        await fh.close();
      }
      if (replacing) await rename(target, path);
      bytes += chunks[0].length + dataBytes;
      paths.push(relative(this.root, path));
    }
    this.count(key.client, bytes);
    return { prePath: paths[0], postPath: paths[1], bytes };
  }

  /** A segment's samples as written (to merge the parts of a recorded bucket). */
  async readSamples(relPath: string): Promise<Int16Array> {
    const wav = readWav(await readFile(this.absolute(relPath)));
    const out = new Int16Array(wav.frames);
    // 16-bit samples read as s / 32768 come back exactly.
    for (let i = 0; i < out.length; i++) out[i] = Math.round(wav.samples[i] * 32768);
    return out;
  }

  /** A bucket's segments were written again under the same names: their old bytes are gone. */
  replaced(oldBytes: number, client: string): void {
    this.count(client, -oldBytes);
  }

  /** Segment bytes a client holds now. */
  bytesOf(client: string): number {
    return this.bytesByClient.get(client) ?? 0;
  }

  absolute(relPath: string): string {
    return join(this.root, relPath);
  }

  /**
   * Deletes segments past the age limit (oldest first), then, while over the size limit,
   * the oldest segment of the client that holds the most bytes. Returns how many buckets
   * lost their audio.
   */
  async sweep(nowMs: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const batch = this.store.segmentsBefore(nowMs - this.retention.maxAgeMs, 64);
      if (batch.length === 0) break;
      for (const s of batch) await this.remove(s);
      removed += batch.length;
    }
    while (this.totalBytes > this.retention.maxBytes) {
      const client = this.largestClient();
      if (client === null) break;
      const batch = this.store.oldestSegmentsOf(client, 16);
      if (batch.length === 0) {
        // Nothing of this client is on disk after all: its share is stale.
        this.totalBytes -= this.bytesOf(client);
        this.bytesByClient.delete(client);
        continue;
      }
      for (const s of batch) {
        await this.remove(s);
        removed++;
        if (this.totalBytes <= this.retention.maxBytes || this.largestClient() !== client) break;
      }
    }
    return removed;
  }

  private async remove(s: SegmentRef): Promise<void> {
    await Promise.all([rm(this.absolute(s.pre_path), { force: true }), rm(this.absolute(s.post_path), { force: true })]);
    this.store.clearSegments(s.trace_id, s.station_key, s.bucket_ts);
    this.count(s.client, -s.segment_bytes);
  }

  private largestClient(): string | null {
    let best: string | null = null;
    let bestBytes = 0;
    for (const [client, bytes] of this.bytesByClient) {
      if (bytes > bestBytes) {
        best = client;
        bestBytes = bytes;
      }
    }
    return best;
  }

  private rememberDir(dir: string): void {
    if (this.knownDirs.size >= MAX_KNOWN_DIRS) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  private count(client: string, bytes: number): void {
    this.totalBytes += bytes;
    const n = (this.bytesByClient.get(client) ?? 0) + bytes;
    if (n <= 0) this.bytesByClient.delete(client);
    else this.bytesByClient.set(client, n);
  }

  needsSweep(): boolean {
    return this.totalBytes > this.retention.maxBytes;
  }
}

/** Removes temporaries and segment files no bucket row refers to. */
async function removeOrphans(root: string, dir: string, known: Set<string>): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await removeOrphans(root, p, known);
    else if (e.name.endsWith('.tmp') || (e.name.endsWith('.wav') && !known.has(relative(root, p)))) await unlink(p).catch(() => undefined);
  }
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
