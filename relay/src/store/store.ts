/**
 * The relay's store: traces, stations, complete buckets and knob events, in one SQLite file
 * under the data dir (the embedded default of the `Store` port, ARCHITECTURE.md).
 *
 * WAL mode: a bucket row is committed in one transaction, so after a crash (even
 * `kill -9`) every row is whole. Segment files are written before their row (see
 * segment-store.ts), so a row never points at a file that is not there.
 */
import Database from 'better-sqlite3';
import type { KnobValues } from '../../../protocol/knobs.ts';
import type { BucketMetrics } from '../../../protocol/metrics.ts';
import type { IngestCounters } from '../media/messages.ts';
import { MIGRATIONS } from './schema.ts';
import { prepared } from './prepared.ts';

export interface TraceRow {
  trace_id: string;
  kind: 'live' | 'recorded';
  started_at: number;
  ended_at: number | null;
  call_id: string | null;
  /** The stream id of a live trace's mix (listening to every station at once); null for a recorded one. */
  mix_stream_id?: string | null;
}

export interface StationRow {
  trace_id: string;
  station_key: string;
  label: string | null;
  codec: string;
  sample_rate: number;
  stream_id: string;
  started_at: number;
  ended_at: number | null;
  end_reason: string | null;
  ordinal: number;
  /** Who sent the audio: "token:<id>" or "address:<ip>" (retention shares the segment budget by it). */
  client: string;
}

export interface BucketRow {
  trace_id: string;
  station_key: string;
  bucket_ts: number;
  bucket_ms: number;
  sample_rate: number;
  metrics: BucketMetrics;
  knobs: KnobValues;
  config_version: number;
  last_knob_event_id: number | null;
  ingest: IngestCounters;
  sample_start: number;
  samples: number;
  pre_path: string | null;
  post_path: string | null;
  segment_bytes: number;
  /** The station's client (denormalized for the retention sweep). */
  client: string;
}

export interface KnobEventRow {
  id: number;
  trace_id: string;
  station_key: string;
  created_at: number;
  apply_at_bucket_ts: number;
  knobs_requested: Record<string, number | boolean>;
  knobs_effective: Record<string, number | boolean>;
  source: string | null;
  reason: string | null;
  config_version: number;
  idempotency_key: string | null;
  request_hash: string | null;
  /** The JSON response of the apply that created the event (replayed for a repeated idempotency key). */
  response?: string | null;
  /** The event that replaced this change before its bucket started (a later apply for an earlier bucket), or null. */
  superseded_by?: number | null;
}

/** A bucket's segment files, for retention. */
export interface SegmentRef {
  trace_id: string;
  station_key: string;
  bucket_ts: number;
  pre_path: string;
  post_path: string;
  segment_bytes: number;
  client: string;
}
const SEGMENT_REF = 'trace_id, station_key, bucket_ts, pre_path, post_path, segment_bytes, client';

/** What `listTraceSummaries` filters on (all optional); `after` is the last row of the previous page. */
export interface TraceListFilter {
  kind?: 'live' | 'recorded';
  active?: boolean;
  label?: string;
  fromMs?: number;
  toMs?: number;
  after?: { startedAt: number; traceId: string };
}

export interface TraceSummaryRow {
  trace_id: string;
  kind: 'live' | 'recorded';
  started_at: number;
  ended_at: number | null;
  /** Labels of its stations that have one, by ordinal. */
  labels: string[];
  station_count: number;
  first_bucket_ts: number | null;
  last_bucket_ts: number | null;
  bucket_count: number;
}

type RawBucket = Omit<BucketRow, 'metrics' | 'knobs' | 'ingest'> & { metrics: string; knobs: string; ingest: string };

export class Store {
  readonly db: Database.Database;
  private closed = false;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed transaction survives a process crash; only a power
    // loss may roll back the last ones.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /**
   * Marks whatever live stream a previous process left open as ended (the relay restarted).
   * Recorded traces (uploads) were never streaming: their end is set when a part is processed.
   */
  endOpenOnRestart(nowMs: number): { traces: number; stations: number } {
    return this.db.transaction(() => {
      const stations = prepared(
        this.db,
        `UPDATE stations SET ended_at = COALESCE((SELECT MAX(bucket_ts + bucket_ms) FROM buckets b
             WHERE b.trace_id = stations.trace_id AND b.station_key = stations.station_key), started_at),
             end_reason = 'relay_restart'
           WHERE ended_at IS NULL AND trace_id NOT IN (SELECT trace_id FROM traces WHERE kind = 'recorded')`,
      ).run().changes;
      const traces = prepared(
        this.db,
        `UPDATE traces SET ended_at = COALESCE((SELECT MAX(ended_at) FROM stations s WHERE s.trace_id = traces.trace_id), started_at)
           WHERE ended_at IS NULL AND kind = 'live'`,
      ).run().changes;
      void nowMs;
      return { traces, stations };
    })();
  }

  insertTrace(t: TraceRow): void {
    prepared(this.db, 'INSERT INTO traces (trace_id, kind, started_at, ended_at, call_id, mix_stream_id) VALUES (?, ?, ?, ?, ?, ?)').run(t.trace_id, t.kind, t.started_at, t.ended_at, t.call_id, t.mix_stream_id ?? null);
  }

  setTraceMixStreamId(traceId: string, mixStreamId: string): void {
    prepared(this.db, 'UPDATE traces SET mix_stream_id = ? WHERE trace_id = ? AND mix_stream_id IS NULL').run(mixStreamId, traceId);
  }

  setTraceCallId(traceId: string, callId: string): void {
    prepared(this.db, 'UPDATE traces SET call_id = ? WHERE trace_id = ? AND call_id IS NULL').run(callId, traceId);
  }

  reopenTrace(traceId: string): void {
    prepared(this.db, 'UPDATE traces SET ended_at = NULL WHERE trace_id = ?').run(traceId);
  }

  endTrace(traceId: string, endedAt: number): void {
    prepared(this.db, 'UPDATE traces SET ended_at = ? WHERE trace_id = ?').run(endedAt, traceId);
  }

  getTrace(traceId: string): TraceRow | undefined {
    return prepared(this.db, 'SELECT * FROM traces WHERE trace_id = ?').get(traceId) as TraceRow | undefined;
  }

  insertStation(s: Omit<StationRow, 'ordinal'>): StationRow {
    return this.db.transaction(() => {
      const { n } = prepared(this.db, 'SELECT COUNT(*) AS n FROM stations WHERE trace_id = ?').get(s.trace_id) as { n: number };
      const row: StationRow = { ...s, ordinal: n };
      prepared(
        this.db,
        `INSERT INTO stations (trace_id, station_key, label, codec, sample_rate, stream_id, started_at, ended_at, end_reason, ordinal, client)
           VALUES (@trace_id, @station_key, @label, @codec, @sample_rate, @stream_id, @started_at, @ended_at, @end_reason, @ordinal, @client)`,
      ).run(row);
      return row;
    })();
  }

  endStation(traceId: string, stationKey: string, endedAt: number, reason: string): void {
    prepared(this.db, 'UPDATE stations SET ended_at = ?, end_reason = ? WHERE trace_id = ? AND station_key = ?').run(endedAt, reason, traceId, stationKey);
  }

  getStation(traceId: string, stationKey: string): StationRow | undefined {
    return prepared(this.db, 'SELECT * FROM stations WHERE trace_id = ? AND station_key = ?').get(traceId, stationKey) as StationRow | undefined;
  }

  listStations(traceId: string): StationRow[] {
    return prepared(this.db, 'SELECT * FROM stations WHERE trace_id = ? ORDER BY ordinal').all(traceId) as StationRow[];
  }

  insertBucket(b: BucketRow): void {
    prepared(
      this.db,
      `INSERT OR REPLACE INTO buckets (trace_id, station_key, bucket_ts, bucket_ms, sample_rate, metrics, knobs, config_version,
           last_knob_event_id, ingest, sample_start, samples, pre_path, post_path, segment_bytes, client)
         VALUES (@trace_id, @station_key, @bucket_ts, @bucket_ms, @sample_rate, @metrics, @knobs, @config_version,
           @last_knob_event_id, @ingest, @sample_start, @samples, @pre_path, @post_path, @segment_bytes, @client)`,
    ).run({ ...b, metrics: JSON.stringify(b.metrics), knobs: JSON.stringify(b.knobs), ingest: JSON.stringify(b.ingest) });
  }

  getBucket(traceId: string, stationKey: string, bucketTs: number): BucketRow | undefined {
    const raw = prepared(this.db, 'SELECT * FROM buckets WHERE trace_id = ? AND station_key = ? AND bucket_ts = ?').get(traceId, stationKey, bucketTs) as RawBucket | undefined;
    return raw && parseBucket(raw);
  }

  /** Buckets of a trace (optionally one station), ordered by bucket_ts then station ordinal. */
  listBuckets(traceId: string, opts: { stationKey?: string; sinceBucketTs?: number; limit?: number; latest?: boolean } = {}): BucketRow[] {
    const where = ['b.trace_id = @traceId'];
    if (opts.stationKey !== undefined) where.push('b.station_key = @stationKey');
    if (opts.sinceBucketTs !== undefined) where.push('b.bucket_ts > @sinceBucketTs');
    const order = opts.latest ? 'DESC' : 'ASC';
    const sql = `SELECT b.* FROM buckets b JOIN stations s ON s.trace_id = b.trace_id AND s.station_key = b.station_key
      WHERE ${where.join(' AND ')} ORDER BY b.bucket_ts ${order}, s.ordinal ${order} LIMIT @limit`;
    const rows = prepared(this.db, sql).all({ traceId, stationKey: opts.stationKey, sinceBucketTs: opts.sinceBucketTs, limit: opts.limit ?? -1 }) as RawBucket[];
    const parsed = rows.map(parseBucket);
    return opts.latest ? parsed.reverse() : parsed;
  }

  /**
   * Seed 000 §5.2: whole buckets, `bucketLimit` of them (each with every station's entry),
   * the latest ones or those strictly after `sinceBucketTs`, and only buckets before
   * `beforeBucketTs` (complete ones); ordered by bucket_ts, then station ordinal.
   */
  snapshotBuckets(
    traceId: string,
    opts: { stationKey?: string; sinceBucketTs?: number; beforeBucketTs: number; bucketLimit: number; latest: boolean },
  ): BucketRow[] {
    const where = ['trace_id = @traceId', 'bucket_ts < @beforeBucketTs'];
    if (opts.stationKey !== undefined) where.push('station_key = @stationKey');
    if (opts.sinceBucketTs !== undefined) where.push('bucket_ts > @sinceBucketTs');
    const params = { traceId, stationKey: opts.stationKey, sinceBucketTs: opts.sinceBucketTs, beforeBucketTs: opts.beforeBucketTs, limit: opts.bucketLimit };
    const picked = prepared(this.db, `SELECT DISTINCT bucket_ts FROM buckets WHERE ${where.join(' AND ')} ORDER BY bucket_ts ${opts.latest ? 'DESC' : 'ASC'} LIMIT @limit`)
      .all(params) as { bucket_ts: number }[];
    if (picked.length === 0) return [];
    const lo = Math.min(...picked.map((p) => p.bucket_ts));
    const hi = Math.max(...picked.map((p) => p.bucket_ts));
    const rows = prepared(
      this.db,
      `SELECT b.* FROM buckets b JOIN stations s ON s.trace_id = b.trace_id AND s.station_key = b.station_key
         WHERE b.trace_id = @traceId AND b.bucket_ts BETWEEN @lo AND @hi ${opts.stationKey !== undefined ? 'AND b.station_key = @stationKey' : ''}
         ORDER BY b.bucket_ts ASC, s.ordinal ASC`,
    ).all({ traceId, lo, hi, stationKey: opts.stationKey }) as RawBucket[];
    return rows.map(parseBucket);
  }

  bucketRange(traceId: string, stationKey?: string): { first: number | null; last: number | null; count: number } {
    const row = prepared(this.db, `SELECT MIN(bucket_ts) AS first, MAX(bucket_ts) AS last, COUNT(*) AS count FROM buckets WHERE trace_id = ? ${stationKey ? 'AND station_key = ?' : ''}`)
      .get(...(stationKey ? [traceId, stationKey] : [traceId])) as { first: number | null; last: number | null; count: number };
    return row;
  }

  /** Segment bytes still on disk per client (the retention shares, segment-store.ts). */
  segmentBytesByClient(): { client: string; bytes: number }[] {
    return prepared(this.db, 'SELECT client, SUM(segment_bytes) AS bytes FROM buckets WHERE pre_path IS NOT NULL GROUP BY client').all() as { client: string; bytes: number }[];
  }

  /** Total bytes of segment audio still on disk. */
  segmentBytes(): number {
    const { total } = prepared(this.db, 'SELECT COALESCE(SUM(segment_bytes), 0) AS total FROM buckets WHERE pre_path IS NOT NULL').get() as { total: number };
    return total;
  }

  /** Every segment file a bucket row refers to (paths relative to the segment root). */
  segmentPaths(): Set<string> {
    const rows = prepared(this.db, 'SELECT pre_path, post_path FROM buckets WHERE pre_path IS NOT NULL').all() as { pre_path: string; post_path: string }[];
    const out = new Set<string>();
    for (const r of rows) {
      out.add(r.pre_path);
      out.add(r.post_path);
    }
    return out;
  }

  /** Buckets that still have segment files and started before `beforeTs`, oldest first. */
  segmentsBefore(beforeTs: number, limit: number): SegmentRef[] {
    return prepared(this.db, `SELECT ${SEGMENT_REF} FROM buckets WHERE pre_path IS NOT NULL AND bucket_ts < ? ORDER BY bucket_ts ASC LIMIT ?`)
      .all(beforeTs, limit) as SegmentRef[];
  }

  /** One client's buckets that still have segment files, oldest first. */
  oldestSegmentsOf(client: string, limit: number): SegmentRef[] {
    return prepared(this.db, `SELECT ${SEGMENT_REF} FROM buckets WHERE pre_path IS NOT NULL AND client = ? ORDER BY bucket_ts ASC LIMIT ?`)
      .all(client, limit) as SegmentRef[];
  }

  clearSegments(traceId: string, stationKey: string, bucketTs: number): void {
    prepared(this.db, 'UPDATE buckets SET pre_path = NULL, post_path = NULL, segment_bytes = 0 WHERE trace_id = ? AND station_key = ? AND bucket_ts = ?').run(traceId, stationKey, bucketTs);
  }

  maxKnobEventId(): number {
    const { id } = prepared(this.db, 'SELECT COALESCE(MAX(id), 0) AS id FROM knob_events').get() as { id: number };
    return id;
  }

  insertKnobEvent(e: KnobEventRow): void {
    prepared(
      this.db,
      `INSERT INTO knob_events (id, trace_id, station_key, created_at, apply_at_bucket_ts, knobs_requested, knobs_effective, source, reason,
           config_version, idempotency_key, request_hash)
         VALUES (@id, @trace_id, @station_key, @created_at, @apply_at_bucket_ts, @knobs_requested, @knobs_effective, @source, @reason,
           @config_version, @idempotency_key, @request_hash)`,
    ).run({ ...e, knobs_requested: JSON.stringify(e.knobs_requested), knobs_effective: JSON.stringify(e.knobs_effective) });
  }

  /** A pending change replaced by a later apply for an earlier bucket (live-registry.ts). */
  supersedeKnobEvent(id: number, byEventId: number): void {
    prepared(this.db, 'UPDATE knob_events SET superseded_by = ? WHERE id = ?').run(byEventId, id);
  }

  setKnobEventResponse(id: number, response: string): void {
    prepared(this.db, 'UPDATE knob_events SET response = ? WHERE id = ?').run(response, id);
  }

  knobEventByIdempotencyKey(key: string): KnobEventRow | undefined {
    const r = prepared(this.db, 'SELECT * FROM knob_events WHERE idempotency_key = ?').get(key) as
      | (Omit<KnobEventRow, 'knobs_requested' | 'knobs_effective'> & { knobs_requested: string; knobs_effective: string })
      | undefined;
    return r && { ...r, knobs_requested: JSON.parse(r.knobs_requested), knobs_effective: JSON.parse(r.knobs_effective) };
  }

  listTraces(): TraceRow[] {
    return prepared(this.db, 'SELECT * FROM traces ORDER BY started_at DESC').all() as TraceRow[];
  }

  /**
   * One page of traces, newest first (started_at, then trace_id, both descending), each with
   * its station labels and counts and its bucket range: keyset paging on the traces_started
   * index, so a page costs its own rows whatever the offset. `activeIds` are the traces with
   * a station streaming (the live registry knows, the store does not); `active` filters on
   * them. Times are epoch ms; `from`/`to` keep traces overlapping [from, to).
   */
  listTraceSummaries(q: TraceListFilter, activeIds: readonly string[], limit: number): TraceSummaryRow[] {
    const where: string[] = [];
    if (q.kind !== undefined) where.push('t.kind = @kind');
    if (q.active === true) where.push('t.trace_id IN (SELECT value FROM json_each(@activeIds))');
    if (q.active === false) where.push('t.trace_id NOT IN (SELECT value FROM json_each(@activeIds))');
    // instr rather than LIKE: the search text's % and _ are plain characters.
    if (q.label !== undefined) where.push('EXISTS (SELECT 1 FROM stations s WHERE s.trace_id = t.trace_id AND instr(lower(s.label), lower(@label)) > 0)');
    if (q.toMs !== undefined) where.push('t.started_at < @toMs');
    if (q.fromMs !== undefined) where.push('(t.ended_at IS NULL OR t.ended_at > @fromMs)');
    if (q.after !== undefined) where.push('(t.started_at, t.trace_id) < (@afterStartedAt, @afterTraceId)');
    // The page first (a range scan of traces_started), then its labels and bucket ranges:
    // one pass over each listed trace's rows of the buckets primary key.
    const sql = `WITH page AS (
        SELECT t.trace_id, t.kind, t.started_at, t.ended_at FROM traces t
        ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY t.started_at DESC, t.trace_id DESC LIMIT @limit
      ), ranges AS (
        SELECT trace_id, MIN(bucket_ts) AS first_bucket_ts, MAX(bucket_ts) AS last_bucket_ts, COUNT(*) AS bucket_count
          FROM buckets WHERE trace_id IN (SELECT trace_id FROM page) GROUP BY trace_id
      )
      SELECT p.trace_id, p.kind, p.started_at, p.ended_at,
        (SELECT json_group_array(label) FROM (SELECT label FROM stations s WHERE s.trace_id = p.trace_id AND label IS NOT NULL ORDER BY ordinal)) AS labels,
        (SELECT COUNT(*) FROM stations s WHERE s.trace_id = p.trace_id) AS station_count,
        r.first_bucket_ts, r.last_bucket_ts, COALESCE(r.bucket_count, 0) AS bucket_count
      FROM page p LEFT JOIN ranges r ON r.trace_id = p.trace_id
      ORDER BY p.started_at DESC, p.trace_id DESC`;
    const rows = prepared(this.db, sql).all({
      kind: q.kind,
      activeIds: JSON.stringify(activeIds),
      label: q.label,
      toMs: q.toMs,
      fromMs: q.fromMs,
      afterStartedAt: q.after?.startedAt,
      afterTraceId: q.after?.traceId,
      limit,
    }) as (Omit<TraceSummaryRow, 'labels'> & { labels: string })[];
    return rows.map((r) => ({ ...r, labels: JSON.parse(r.labels) as string[] }));
  }

  listKnobEvents(traceId: string, stationKey?: string, page: { afterId?: number; limit?: number } = {}): KnobEventRow[] {
    const rows = prepared(this.db, `SELECT * FROM knob_events WHERE trace_id = @traceId ${stationKey ? 'AND station_key = @stationKey' : ''} AND id > @afterId ORDER BY id LIMIT @limit`)
      .all({ traceId, stationKey, afterId: page.afterId ?? 0, limit: page.limit ?? -1 }) as (Omit<KnobEventRow, 'knobs_requested' | 'knobs_effective'> & {
      knobs_requested: string;
      knobs_effective: string;
      response?: string | null;
    })[];
    return rows.map(({ response: _response, ...r }) => ({ ...r, knobs_requested: JSON.parse(r.knobs_requested), knobs_effective: JSON.parse(r.knobs_effective) }));
  }


  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

function parseBucket(r: RawBucket): BucketRow {
  return { ...r, metrics: JSON.parse(r.metrics), knobs: JSON.parse(r.knobs), ingest: JSON.parse(r.ingest) };
}
