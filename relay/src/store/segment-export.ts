/**
 * A station's audio over a time range as one WAV stream, built from its bucket segments
 * (segment-store.ts: 16-bit PCM mono, sample i of a segment at bucket_ts + i / rate).
 *
 * Sample i of the export is at from + i / rate. The length is known before any segment is
 * read (round((to - from) * rate / 1000) samples), so the header's sizes are exact and
 * written first; whatever no segment holds (buckets never stored, samples never received,
 * audio removed by retention meanwhile, a segment cut short) is silence. Segments are read
 * one at a time, in pieces of at most CHUNK_BYTES, and only as fast as the consumer takes
 * them: memory stays bounded whatever the range. Destroying the stream (a client gone)
 * stops the reading and closes the open file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { wavHeader } from '../audio/wav.ts';
import { prepared } from './prepared.ts';
import type { Store } from './store.ts';

/** Largest piece the stream emits, bytes (a multiple of 2: whole samples). */
export const CHUNK_BYTES = 64 * 1024;
const WAV_HEADER_BYTES = 44;
const BYTES_PER_SAMPLE = 2;
/** RIFF sizes are u32 (36 header bytes besides the data). */
const MAX_DATA_BYTES = 0xffffffff - 36;
/** Silence, shared by every export: consumers only read it. */
const ZEROS = Buffer.alloc(CHUNK_BYTES);

/** One stored bucket of the station: where its segment is (null: none on disk). */
export interface ExportSegment {
  bucketTs: number;
  /** Absolute path of the tap's WAV, or null when the bucket has no audio. */
  path: string | null;
}

export interface ExportPlan {
  fromMs: number;
  toMs: number;
  /** Hz: the station's rate; segments at another rate count as silence. */
  sampleRate: number;
  /** The station's segments overlapping the range, in bucket order. */
  segments: readonly ExportSegment[];
}

/**
 * The samples an export writes: 16-bit little-endian PCM mono at `sampleRate`, exactly
 * `samples` of them, in pieces of whole samples. One station's (`stationSource`), or a
 * trace's mix (mix-export.ts); the WAV, Ogg and WebM writers take either.
 */
export interface PcmSource {
  sampleRate: number;
  samples: number;
  pieces(): AsyncGenerator<Buffer>;
}

/** One station's samples over a plan's range: its segments, silence in the gaps. */
export function stationSource(plan: ExportPlan): PcmSource {
  return { sampleRate: plan.sampleRate, samples: exportSamples(plan.fromMs, plan.toMs, plan.sampleRate), pieces: () => pcmPieces(plan) };
}

/** Samples of an export of [fromMs, toMs) at `sampleRate`. */
export function exportSamples(fromMs: number, toMs: number, sampleRate: number): number {
  return Math.max(0, Math.round(((toMs - fromMs) * sampleRate) / 1000));
}

/** Bytes of the whole WAV file (header included), or null when it is over the RIFF limit. */
export function exportBytes(fromMs: number, toMs: number, sampleRate: number): number | null {
  return wavBytes(exportSamples(fromMs, toMs, sampleRate));
}

/** Bytes of the whole WAV file of `samples` samples (header included), or null when it is over the RIFF limit. */
export function wavBytes(samples: number): number | null {
  const data = samples * BYTES_PER_SAMPLE;
  return data > MAX_DATA_BYTES ? null : WAV_HEADER_BYTES + data;
}

/** The WAV file of a source, as a stream of Buffers (header first). */
export function wavExportStream(source: PcmSource): Readable {
  // Two pieces ahead at most: backpressure reaches the file reads.
  return Readable.from(wavPieces(source), { objectMode: false, highWaterMark: 2 * CHUNK_BYTES });
}

async function* wavPieces(source: PcmSource): AsyncGenerator<Buffer> {
  yield wavHeader(source.samples * BYTES_PER_SAMPLE, source.sampleRate, 1);
  yield* source.pieces();
}

/**
 * The samples of a plan, as 16-bit little-endian PCM mono at its rate, in pieces of at most
 * CHUNK_BYTES (whole samples): exactly exportSamples() of them, silence where no segment
 * holds audio. The WAV's data, and what the Opus export encodes.
 */
export async function* pcmPieces(plan: ExportPlan): AsyncGenerator<Buffer> {
  const total = exportSamples(plan.fromMs, plan.toMs, plan.sampleRate);
  let pos = 0; // samples emitted
  for (const seg of plan.segments) {
    if (seg.path === null || pos >= total) continue;
    const offset = Math.round(((seg.bucketTs - plan.fromMs) * plan.sampleRate) / 1000);
    const fh = await openSegment(seg.path);
    if (fh === null) continue;
    try {
      const data = await pcmData(fh, plan.sampleRate);
      if (data === null) continue;
      const start = Math.max(offset, pos);
      const end = Math.min(offset + data.samples, total);
      if (end <= start) continue;
      yield* silence(start - pos);
      pos = start;
      let at = data.offset + (start - offset) * BYTES_PER_SAMPLE;
      while (pos < end) {
        const want = Math.min(CHUNK_BYTES, (end - pos) * BYTES_PER_SAMPLE);
        // A fresh buffer per piece: the consumer may still hold the previous one.
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, at);
        const whole = bytesRead - (bytesRead % BYTES_PER_SAMPLE);
        if (whole === 0) break; // the file is shorter than its header says: silence from here
        yield whole === want ? buf : buf.subarray(0, whole);
        at += whole;
        pos += whole / BYTES_PER_SAMPLE;
      }
    } finally {
      await fh.close();
    }
  }
  yield* silence(total - pos);
}

function* silence(samples: number): Generator<Buffer> {
  let left = samples * BYTES_PER_SAMPLE;
  while (left > 0) {
    const n = Math.min(left, CHUNK_BYTES);
    yield ZEROS.subarray(0, n);
    left -= n;
  }
}

/** A segment's file, or null when retention removed it after the plan was made. */
async function openSegment(path: string): Promise<FileHandle | null> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Where a segment's 16-bit mono samples are, and how many: the `data` chunk after the
 * canonical 44-byte header segment-store.ts writes. Null for a file that is not one (at
 * another rate, or another layout): its span is silence rather than noise.
 */
async function pcmData(fh: FileHandle, sampleRate: number): Promise<{ offset: number; samples: number } | null> {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  const { bytesRead } = await fh.read(h, 0, WAV_HEADER_BYTES, 0);
  if (bytesRead < WAV_HEADER_BYTES) return null;
  const canonical =
    h.toString('ascii', 0, 4) === 'RIFF' &&
    h.toString('ascii', 8, 12) === 'WAVE' &&
    h.toString('ascii', 12, 16) === 'fmt ' &&
    h.readUInt16LE(20) === 1 &&
    h.readUInt16LE(22) === 1 &&
    h.readUInt32LE(24) === sampleRate &&
    h.readUInt16LE(34) === 16 &&
    h.toString('ascii', 36, 40) === 'data';
  if (!canonical) return null;
  return { offset: WAV_HEADER_BYTES, samples: Math.floor(h.readUInt32LE(40) / BYTES_PER_SAMPLE) };
}

/** A stored bucket of a station, as an export needs it. */
export interface ExportBucketRef {
  bucket_ts: number;
  bucket_ms: number;
  sample_rate: number;
  pre_path: string | null;
  post_path: string | null;
}

/**
 * The station's buckets overlapping [fromMs, toMs), oldest first: those starting in
 * (fromMs - maxBucketMs, toMs) whose own length reaches past fromMs. Bounded by the range.
 */
export function bucketsOverlapping(store: Store, traceId: string, stationKey: string, fromMs: number, toMs: number, maxBucketMs: number): ExportBucketRef[] {
  const rows = prepared(
    store.db,
    `SELECT bucket_ts, bucket_ms, sample_rate, pre_path, post_path FROM buckets
       WHERE trace_id = ? AND station_key = ? AND bucket_ts > ? AND bucket_ts < ? ORDER BY bucket_ts ASC`,
  ).all(traceId, stationKey, fromMs - maxBucketMs, toMs) as ExportBucketRef[];
  return rows.filter((r) => r.bucket_ts + r.bucket_ms > fromMs);
}
