/**
 * Capture sessions recorded on this device, in IndexedDB (through idb): one record per
 * session and one per Opus packet, written as they are captured whether or not the relay
 * is reachable. Each packet remembers whether it went to the relay live; the ones that did
 * not are what the uploader sends later.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { UploadCreateRequest } from '$protocol/upload';

/** What happened to a packet: sent live, waiting for upload, or uploaded. */
export const DELIVERY = { pending: 0, live: 1, uploaded: 2 } as const;
export type Delivery = (typeof DELIVERY)[keyof typeof DELIVERY];

export interface LiveStationRef {
  traceId: string;
  stationKey: string;
  streamId: string;
}

export interface SessionRecord {
  id: string;
  label: string;
  /** The trace the tester asked to join, if any. */
  joinTraceId: string | null;
  createdAt: number;
  /** Wall time (epoch ms) of the first sample of packet 0; null until the first packet. */
  startedAt: number | null;
  endedAt: number | null;
  state: 'recording' | 'ended';
  /** What the session's upload will declare (protocol/upload.ts). */
  codec: UploadCreateRequest['codec'];
  sampleRate: UploadCreateRequest['sample_rate'];
  frameMs: UploadCreateRequest['frame_ms'];
  /** Packets stored. */
  packets: number;
  /** Highest index sent live (a pending run before it is closed: the relay has moved on). */
  lastLiveIndex: number;
  /** The encoder's OpusHead, for a playable file. */
  head: Uint8Array | null;
  /** The live stations this session streamed as (a new one after each reconnect). */
  live: LiveStationRef[];
  upload: {
    traceId: string | null;
    stationKey: string | null;
    /** Parts the relay has processed, [first, end). */
    parts: [number, number][];
    error: string | null;
  };
}

export interface PacketRecord {
  session: string;
  index: number;
  data: Uint8Array;
  delivery: Delivery;
}

interface TapwireDb extends DBSchema {
  sessions: { key: string; value: SessionRecord; indexes: { byCreated: number } };
  packets: { key: [string, number]; value: PacketRecord; indexes: { byDelivery: [string, number, number] } };
}

const DB_NAME = 'tapwire';
const DB_VERSION = 1;

/** A run of consecutive packet indices, [first, end). */
export interface PacketRun {
  first: number;
  end: number;
}

export class RecordingStore {
  private constructor(private readonly db: IDBPDatabase<TapwireDb>) {}

  static async open(name = DB_NAME): Promise<RecordingStore> {
    const db = await openDB<TapwireDb>(name, DB_VERSION, {
      upgrade(db) {
        const sessions = db.createObjectStore('sessions', { keyPath: 'id' });
        sessions.createIndex('byCreated', 'createdAt');
        const packets = db.createObjectStore('packets', { keyPath: ['session', 'index'] });
        packets.createIndex('byDelivery', ['session', 'delivery', 'index']);
      },
    });
    return new RecordingStore(db);
  }

  close(): void {
    this.db.close();
  }

  async putSession(s: SessionRecord): Promise<void> {
    await this.db.put('sessions', s);
  }

  getSession(id: string): Promise<SessionRecord | undefined> {
    return this.db.get('sessions', id);
  }

  /** Newest first. */
  async listSessions(): Promise<SessionRecord[]> {
    return (await this.db.getAllFromIndex('sessions', 'byCreated')).reverse();
  }

  /** Changes a session in one transaction (read, modify, write). */
  async updateSession(id: string, change: (s: SessionRecord) => void): Promise<SessionRecord | undefined> {
    const tx = this.db.transaction('sessions', 'readwrite');
    const s = await tx.store.get(id);
    if (s !== undefined) {
      change(s);
      await tx.store.put(s);
    }
    await tx.done;
    return s;
  }

  /** Stores packets and the session's count in one transaction. */
  async appendPackets(sessionId: string, packets: PacketRecord[], sessionChange: (s: SessionRecord) => void): Promise<void> {
    if (packets.length === 0) return;
    const tx = this.db.transaction(['packets', 'sessions'], 'readwrite');
    const ps = tx.objectStore('packets');
    for (const p of packets) void ps.put(p);
    const ss = tx.objectStore('sessions');
    const s = await ss.get(sessionId);
    if (s !== undefined) {
      sessionChange(s);
      await ss.put(s);
    }
    await tx.done;
  }

  /** Marks stored packets [first, end) with a delivery state (only those currently `from`). */
  async markDelivery(sessionId: string, first: number, end: number, to: Delivery, from?: Delivery): Promise<number> {
    if (end <= first) return 0;
    const tx = this.db.transaction('packets', 'readwrite');
    let n = 0;
    for (let c = await tx.store.openCursor(IDBKeyRange.bound([sessionId, first], [sessionId, end - 1])); c; c = await c.continue()) {
      if (from !== undefined && c.value.delivery !== from) continue;
      if (c.value.delivery === to) continue;
      await c.update({ ...c.value, delivery: to });
      n++;
    }
    await tx.done;
    return n;
  }

  /** Runs of packets waiting for upload, in index order. */
  async pendingRuns(sessionId: string): Promise<PacketRun[]> {
    const range = IDBKeyRange.bound([sessionId, DELIVERY.pending, 0], [sessionId, DELIVERY.pending, Number.MAX_SAFE_INTEGER]);
    const keys = await this.db.getAllKeysFromIndex('packets', 'byDelivery', range);
    const runs: PacketRun[] = [];
    for (const [, index] of keys) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last.end === index) last.end++;
      else runs.push({ first: index, end: index + 1 });
    }
    return runs;
  }

  /** Packets [first, end) in order (those stored). */
  packets(sessionId: string, first: number, end: number): Promise<PacketRecord[]> {
    if (end <= first) return Promise.resolve([]);
    return this.db.getAll('packets', IDBKeyRange.bound([sessionId, first], [sessionId, end - 1]));
  }

  /** Packets waiting for upload in a session. */
  async pendingCount(sessionId: string): Promise<number> {
    const range = IDBKeyRange.bound([sessionId, DELIVERY.pending, 0], [sessionId, DELIVERY.pending, Number.MAX_SAFE_INTEGER]);
    return this.db.countFromIndex('packets', 'byDelivery', range);
  }

  async deleteSession(id: string): Promise<void> {
    const tx = this.db.transaction(['packets', 'sessions'], 'readwrite');
    await tx.objectStore('packets').delete(IDBKeyRange.bound([id, 0], [id, Number.MAX_SAFE_INTEGER]));
    await tx.objectStore('sessions').delete(id);
    await tx.done;
  }
}
