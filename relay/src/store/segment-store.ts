/**
 * WAV segments under `<data dir>/segments` (the embedded default of the `SegmentStore`
 * port): one PRE and one POST file per (station, bucket), 16-bit PCM mono at the
 * station's rate. Sample i of a segment is at bucket_ts + i / rate.
 *
 * Files are written to a temporary name and renamed, so a crash never leaves half a WAV
 * under a real name. Retention deletes the oldest segments first, by age and by total
 * size; the bucket rows stay (their audio columns become null).
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { int16LeBytes, readWav, wavHeader } from '../audio/wav.ts';
import type { Store } from './store.ts';

export interface RetentionPolicy {
  /** Segments older than this are deleted (by bucket time). */
  maxAgeMs: number;
  /** Total segment bytes kept at most; the oldest go first. */
  maxBytes: number;
}

export interface WrittenSegments {
  prePath: string;
  postPath: string;
  bytes: number;
}

export class SegmentStore {
  private totalBytes = 0;

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
    this.totalBytes = this.store.segmentBytes();
  }

  get bytesOnDisk(): number {
    return this.totalBytes;
  }

  /** Writes both segments of a bucket; returns paths relative to the segment root. */
  async write(traceId: string, stationKey: string, bucketTs: number, sampleRate: number, pre: Int16Array, post: Int16Array): Promise<WrittenSegments> {
    const dir = join(this.root, traceId, stationKey);
    await mkdir(dir, { recursive: true });
    const stamp = new Date(bucketTs).toISOString().replace(/[-:]/g, '').replace('.', '');
    let bytes = 0;
    const paths: string[] = [];
    for (const [tap, samples] of [['PRE', pre], ['POST', post]] as const) {
      const path = join(dir, `${stamp}.${tap}.wav`);
      // Header and samples go out in one writev, without copying the samples.
      const chunks = [wavHeader(samples.byteLength, sampleRate, 1), int16LeBytes(samples)];
      const fh = await open(`${path}.tmp`, 'w');
      try {
        await fh.writev(chunks);
      } finally {
        await fh.close();
      }
      await rename(`${path}.tmp`, path);
      bytes += chunks[0].length + chunks[1].length;
      paths.push(relative(this.root, path));
    }
    this.totalBytes += bytes;
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
  replaced(oldBytes: number): void {
    this.totalBytes -= oldBytes;
  }

  absolute(relPath: string): string {
    return join(this.root, relPath);
  }

  /** Deletes segments past the age limit, then the oldest until under the size limit. */
  async sweep(nowMs: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const batch = this.store.oldestSegments(64);
      if (batch.length === 0) break;
      let progressed = false;
      for (const s of batch) {
        const tooOld = s.bucket_ts < nowMs - this.retention.maxAgeMs;
        const tooBig = this.totalBytes > this.retention.maxBytes;
        if (!tooOld && !tooBig) return removed;
        await Promise.all([rm(this.absolute(s.pre_path), { force: true }), rm(this.absolute(s.post_path), { force: true })]);
        this.store.clearSegments(s.trace_id, s.station_key, s.bucket_ts);
        this.totalBytes -= s.segment_bytes;
        removed++;
        progressed = true;
      }
      if (!progressed) break;
    }
    return removed;
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
