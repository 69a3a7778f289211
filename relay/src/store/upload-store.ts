/**
 * Uploads of offline recordings in the store (tables uploads, upload_packets, upload_parts):
 * packets by index until their part is processed, and the parts processed so far. Writes
 * that must be whole (a chunk, a finished part) are one transaction each.
 */
import type Database from 'better-sqlite3';
import type { ChunkPacket, UploadCodec } from '../../../protocol/upload.ts';
import { prepared } from './prepared.ts';

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
  /** Who created it: "token:<id>" (the per-token quota and fair retention count by it). */
  client: string;
}

/** An upload as stored: the row as created, plus what the relay keeps about it since. */
export interface StoredUploadRow extends UploadRow {
  /** Payload bytes of its packets stored and not yet processed (the quotas count these). */
  pending_bytes: number;
  /** Epoch ms of its last create, confirm, chunk or part (expiry counts from it). */
  touched_at: number;
  /** Epoch ms at which it expired (its unprocessed packets deleted), or null. */
  expired_at: number | null;
}

/** What a chunk would do: the packets it adds, or the first index it conflicts at. */
export interface ChunkPlan {
  /** Offsets k (packet firstIndex + k) of packets not stored yet and outside processed parts. */
  fresh: number[];
  /** Payload bytes of those packets. */
  freshBytes: number;
  /** The first index already stored with other flags or payload, or null. */
  conflictIndex: number | null;
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

  get(uploadId: string): StoredUploadRow | undefined {
    return prepared(this.db, 'SELECT * FROM uploads WHERE upload_id = ?').get(uploadId) as StoredUploadRow | undefined;
  }

  /** The upload row; its trace and station rows must exist (same transaction as theirs). */
  insert(row: UploadRow): void {
    prepared(
      this.db,
      `INSERT INTO uploads (upload_id, trace_id, station_key, codec, sample_rate, frame_ms, started_at, label, created_at, client, touched_at)
         VALUES (@upload_id, @trace_id, @station_key, @codec, @sample_rate, @frame_ms, @started_at, @label, @created_at, @client, @created_at)`,
    ).run(row);
  }

  /** Processed parts, by first_index. */
  parts(uploadId: string): PartRow[] {
    const rows = prepared(this.db, 'SELECT * FROM upload_parts WHERE upload_id = ? ORDER BY first_index').all(uploadId) as (Omit<PartRow, 'bucket_ts'> & { bucket_ts: string })[];
    return rows.map((r) => ({ first_index: r.first_index, end_index: r.end_index, frames: r.frames, bucket_ts: JSON.parse(r.bucket_ts) as number[], processed_at: r.processed_at }));
  }

  /** Packets waiting for their part: how many, and one past the highest index (0 for none). */
  storedPackets(uploadId: string): { count: number; endIndex: number } {
    const r = prepared(this.db, 'SELECT COUNT(*) AS count, COALESCE(MAX(idx) + 1, 0) AS endIndex FROM upload_packets WHERE upload_id = ?').get(uploadId) as {
      count: number;
      endIndex: number;
    };
    return r;
  }

  /**
   * Compares a chunk with what is stored. A packet already stored with the same flags and
   * payload, or inside a processed part, is a duplicate. A processed part's packets are
   * deleted once its audio is in the segments, so there is nothing to compare them with:
   * they count as duplicates whatever the chunk holds.
   */
  planChunk(uploadId: string, firstIndex: number, packets: readonly ChunkPacket[]): ChunkPlan {
    const parts = this.parts(uploadId);
    const stored = this.db.prepare('SELECT idx, flags, payload FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ?');
    const existing = new Map<number, StoredPacket>();
    for (const r of stored.iterate(uploadId, firstIndex, firstIndex + packets.length) as IterableIterator<StoredPacket>) existing.set(r.idx, r);
    const fresh: number[] = [];
    let freshBytes = 0;
    for (let k = 0; k < packets.length; k++) {
      const idx = firstIndex + k;
      if (parts.some((p) => idx >= p.first_index && idx < p.end_index)) continue;
      const { flags, payload } = packets[k];
      const old = existing.get(idx);
      if (old === undefined) {
        fresh.push(k);
        freshBytes += payload.byteLength;
      } else if (old.flags !== flags || !old.payload.equals(payload)) {
        return { fresh: [], freshBytes: 0, conflictIndex: idx };
      }
    }
    return { fresh, freshBytes, conflictIndex: null };
  }

  /** Payload bytes stored and not processed, over every upload of `client`. */
  clientPendingBytes(client: string): number {
    return (prepared(this.db, 'SELECT COALESCE(SUM(pending_bytes), 0) AS n FROM uploads WHERE client = ?').get(client) as { n: number }).n;
  }

  /**
   * Stores the fresh packets of a planned chunk and adds their bytes to the upload's
   * pending bytes; run in the same transaction as planChunk.
   */
  insertPackets(uploadId: string, firstIndex: number, packets: readonly ChunkPacket[], plan: ChunkPlan): void {
    const insert = prepared(this.db, 'INSERT INTO upload_packets (upload_id, idx, flags, payload) VALUES (?, ?, ?, ?)');
    for (const k of plan.fresh) {
      const { flags, payload } = packets[k];
      insert.run(uploadId, firstIndex + k, flags, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    }
    prepared(this.db, 'UPDATE uploads SET pending_bytes = pending_bytes + ? WHERE upload_id = ?').run(plan.freshBytes, uploadId);
  }

  /** Records activity on an upload (expiry counts from the last). */
  touch(uploadId: string, nowMs: number): void {
    prepared(this.db, 'UPDATE uploads SET touched_at = MAX(touched_at, ?) WHERE upload_id = ?').run(nowMs, uploadId);
  }

  /** Uploads not expired and untouched since `touchedBeforeMs` (inclusive), oldest first. */
  idleSince(touchedBeforeMs: number): string[] {
    const rows = prepared(this.db, 'SELECT upload_id FROM uploads WHERE expired_at IS NULL AND touched_at <= ? ORDER BY touched_at').all(touchedBeforeMs) as { upload_id: string }[];
    return rows.map((r) => r.upload_id);
  }

  /**
   * Deletes an upload's unprocessed packets and marks it expired (its parts stay), in one
   * transaction. False when it was already expired.
   */
  expire(uploadId: string, nowMs: number): boolean {
    return this.db.transaction(() => {
      const changed = prepared(this.db, 'UPDATE uploads SET expired_at = ?, pending_bytes = 0 WHERE upload_id = ? AND expired_at IS NULL').run(nowMs, uploadId).changes;
      if (changed === 0) return false;
      prepared(this.db, 'DELETE FROM upload_packets WHERE upload_id = ?').run(uploadId);
      return true;
    })();
  }

  /** Packets of `[first, end)` not stored: how many, and the first of them (null when none). */
  missing(uploadId: string, first: number, end: number): { count: number; firstMissing: number | null } {
    const { n } = prepared(this.db, 'SELECT COUNT(*) AS n FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ?').get(uploadId, first, end) as { n: number };
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
    return prepared(this.db, 'SELECT idx, flags, payload FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ? ORDER BY idx LIMIT ?')
      .all(uploadId, from, end, limit) as StoredPacket[];
  }

  /**
   * Records a processed part, drops its packets (the segments hold its audio now) and frees
   * their bytes; run inside a transaction.
   */
  completePart(uploadId: string, part: PartRow): void {
    prepared(this.db, 'INSERT INTO upload_parts (upload_id, first_index, end_index, frames, bucket_ts, processed_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(uploadId, part.first_index, part.end_index, part.frames, JSON.stringify(part.bucket_ts), part.processed_at);
    const { bytes } = prepared(this.db, 'SELECT COALESCE(SUM(LENGTH(payload)), 0) AS bytes FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ?')
      .get(uploadId, part.first_index, part.end_index) as { bytes: number };
    prepared(this.db, 'DELETE FROM upload_packets WHERE upload_id = ? AND idx >= ? AND idx < ?').run(uploadId, part.first_index, part.end_index);
    prepared(this.db, 'UPDATE uploads SET pending_bytes = pending_bytes - ?, touched_at = MAX(touched_at, ?) WHERE upload_id = ?')
      .run(bytes, part.processed_at, uploadId);
  }
}
