/**
 * Uploads of offline recordings in the store (tables uploads, upload_packets, upload_parts):
 * packets by index until their part is processed, and the parts processed so far. Writes
 * that must be whole (a chunk, a finished part) are one transaction each.
 */
import type Database from 'better-sqlite3';
import type { ChunkPacket, UploadCodec } from '../../../protocol/upload.ts';

export interface UploadRow {
  upload_id: string;
  trace_id: string;
  station_key: string;
  codec: UploadCodec;
  sample_rate: number;
  frame_ms: number;
  /** Epoch ms of the first sample of packet 0. */
  started_at: number;
  label: string | null;
  created_at: number;
}

export interface PartRow {
  first_index: number;
  /** Exclusive. */
  end_index: number;
  frames: number;
  /** Epoch ms of the buckets the part wrote or added to, oldest first. */
  bucket_ts: number[];
  processed_at: number;
}

export interface StoredPacket {
  idx: number;
  flags: number;
  payload: Buffer;
}

export class UploadStore {
  constructor(private readonly db: Database.Database) {}

  get(uploadId: string): UploadRow | undefined {
    return this.db.prepare('SELECT * FROM uploads WHERE upload_id = ?').get(uploadId) as UploadRow | undefined;
  }

  /** The upload row; its trace and station rows must exist (same transaction as theirs). */
  insert(row: UploadRow): void {
    this.db
      .prepare(
        `INSERT INTO uploads (upload_id, trace_id, station_key, codec, sample_rate, frame_ms, started_at, label, created_at)
         VALUES (@upload_id, @trace_id, @station_key, @codec, @sample_rate, @frame_ms, @started_at, @label, @created_at)`,
      )
      .run(row);
  }

  /** Processed parts, by first_index. */
  parts(uploadId: string): PartRow[] {
    const rows = this.db.prepare('SELECT * FROM upload_parts WHERE upload_id = ? ORDER BY first_index').all(uploadId) as (Omit<PartRow, 'bucket_ts'> & { bucket_ts: string })[];
    return rows.map((r) => ({ first_index: r.first_index, end_index: r.end_index, frames: r.frames, bucket_ts: JSON.parse(r.bucket_ts) as number[], processed_at: r.processed_at }));
  }

  /** Packets waiting for their part: how many, and one past the highest index (0 for none). */
  storedPackets(uploadId: string): { count: number; endIndex: number } {
    const r = this.db.prepare('SELECT COUNT(*) AS count, COALESCE(MAX(idx) + 1, 0) AS endIndex FROM upload_packets WHERE upload_id = ?').get(uploadId) as {
      count: number;
      endIndex: number;
    };
    return r;
  }

  /**
   * Stores packets `firstIndex + k` in one transaction. A packet already stored, or inside
   * a processed part (its audio is in the segments), is a duplicate and changes nothing.
   */
  insertPackets(uploadId: string, firstIndex: number, packets: readonly ChunkPacket[]): { accepted: number; duplicates: number } {
    const insert = this.db.prepare('INSERT OR IGNORE INTO upload_packets (upload_id, idx, flags, payload) VALUES (?, ?, ?, ?)');
    return this.db.transaction(() => {
      const parts = this.parts(uploadId);
      let accepted = 0;
      for (let k = 0; k < packets.length; k++) {
        const idx = firstIndex + k;
        if (parts.some((p) => idx >= p.first_index && idx < p.end_index)) continue;
        const { flags, payload } = packets[k];
        accepted += insert.run(uploadId, idx, flags, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)).changes;
      }
      return { accepted, duplicates: packets.length - accepted };
    })();
  }

  /** Packets of `[first, end)` not stored: how many, and the first of them (null when none). */
  missing(uploadId: string, first: number, end: number): { count: number; firstMissing: number | null } {
    const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ?').get(uploadId, first, end) as { n: number };
    const count = end - first - n;
    if (count === 0) return { count, firstMissing: null };
    // The first index whose packet is absent: walk the stored run from `first` (index order).
    let expected = first;
    for (const r of this.db.prepare('SELECT idx FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ? ORDER BY idx').iterate(uploadId, first, end) as IterableIterator<{ idx: number }>) {
      if (r.idx !== expected) break;
      expected++;
    }
    return { count, firstMissing: expected };
  }

  /** Up to `limit` stored packets from index `from` on (below `end`), in index order. */
  packetBatch(uploadId: string, from: number, end: number, limit: number): StoredPacket[] {
    return this.db
      .prepare('SELECT idx, flags, payload FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ? ORDER BY idx LIMIT ?')
      .all(uploadId, from, end, limit) as StoredPacket[];
  }

  /** Records a processed part and drops its packets (the segments hold its audio now). */
  completePart(uploadId: string, part: PartRow): void {
    this.db
      .prepare('INSERT INTO upload_parts (upload_id, first_index, end_index, frames, bucket_ts, processed_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(uploadId, part.first_index, part.end_index, part.frames, JSON.stringify(part.bucket_ts), part.processed_at);
    this.db.prepare('DELETE FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ?').run(uploadId, part.first_index, part.end_index);
  }
}
