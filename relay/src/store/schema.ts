/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
 * Times are epoch milliseconds (UTC); JSON columns hold the shapes of protocol/.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE traces (
    trace_id   TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('live', 'recorded')),
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    call_id    TEXT
  );
  CREATE TABLE stations (
    trace_id    TEXT NOT NULL REFERENCES traces(trace_id),
    station_key TEXT NOT NULL,
    label       TEXT,
    codec       TEXT NOT NULL,
    sample_rate INTEGER NOT NULL,
    stream_id   TEXT NOT NULL UNIQUE,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    end_reason  TEXT,
    ordinal     INTEGER NOT NULL,
    PRIMARY KEY (trace_id, station_key)
  );
  CREATE TABLE buckets (
    trace_id           TEXT NOT NULL,
    station_key        TEXT NOT NULL,
    bucket_ts          INTEGER NOT NULL,
    bucket_ms          INTEGER NOT NULL,
    sample_rate        INTEGER NOT NULL,
    metrics            TEXT NOT NULL,
    knobs              TEXT NOT NULL,
    config_version     INTEGER NOT NULL,
    last_knob_event_id INTEGER,
    ingest             TEXT NOT NULL,
    sample_start       INTEGER NOT NULL,
    samples            INTEGER NOT NULL,
    pre_path           TEXT,
    post_path          TEXT,
    segment_bytes      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (trace_id, station_key, bucket_ts),
    FOREIGN KEY (trace_id, station_key) REFERENCES stations(trace_id, station_key)
  );
  CREATE INDEX buckets_with_segments ON buckets(bucket_ts) WHERE pre_path IS NOT NULL;
  CREATE TABLE knob_events (
    id                 INTEGER PRIMARY KEY,
    trace_id           TEXT NOT NULL,
    station_key        TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    apply_at_bucket_ts INTEGER NOT NULL,
    knobs_requested    TEXT NOT NULL,
    knobs_effective    TEXT NOT NULL,
    source             TEXT,
    reason             TEXT,
    config_version     INTEGER NOT NULL,
    idempotency_key    TEXT,
    request_hash       TEXT,
    FOREIGN KEY (trace_id, station_key) REFERENCES stations(trace_id, station_key)
  );
  CREATE INDEX knob_events_station ON knob_events(trace_id, station_key, id);
  CREATE UNIQUE INDEX knob_events_idempotency ON knob_events(idempotency_key) WHERE idempotency_key IS NOT NULL;
  `,
  `
  CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    scopes     TEXT NOT NULL,
    label      TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  `,
  `
  ALTER TABLE knob_events ADD COLUMN response TEXT;
  `,
  // Uploads of offline recordings (protocol/upload.ts). Packets wait in upload_packets until
  // their part is processed; the part's audio then lives in buckets and segments, so its
  // packets are deleted. recorded_bucket_parts keeps each part's share of a recorded bucket,
  // so a bucket two parts share is always the merge of exactly those shares (a part run
  // again after a crash replaces its own share instead of adding to it).
  `
  CREATE TABLE uploads (
    upload_id   TEXT PRIMARY KEY,
    trace_id    TEXT NOT NULL REFERENCES traces(trace_id),
    station_key TEXT NOT NULL,
    codec       TEXT NOT NULL,
    sample_rate INTEGER NOT NULL,
    frame_ms    INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    label       TEXT,
    created_at  INTEGER NOT NULL,
    FOREIGN KEY (trace_id, station_key) REFERENCES stations(trace_id, station_key)
  );
  CREATE TABLE upload_packets (
    upload_id TEXT NOT NULL REFERENCES uploads(upload_id),
    idx       INTEGER NOT NULL,
    flags     INTEGER NOT NULL,
    payload   BLOB NOT NULL,
    PRIMARY KEY (upload_id, idx)
  ) WITHOUT ROWID;
  CREATE TABLE upload_parts (
    upload_id    TEXT NOT NULL REFERENCES uploads(upload_id),
    first_index  INTEGER NOT NULL,
    end_index    INTEGER NOT NULL,
    frames       INTEGER NOT NULL,
    bucket_ts    TEXT NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (upload_id, first_index)
  );
  CREATE TABLE recorded_bucket_parts (
    trace_id     TEXT NOT NULL,
    station_key  TEXT NOT NULL,
    bucket_ts    INTEGER NOT NULL,
    part         INTEGER NOT NULL,
    sample_start INTEGER NOT NULL,
    samples      INTEGER NOT NULL,
    metrics      TEXT NOT NULL,
    ingest       TEXT NOT NULL,
    PRIMARY KEY (trace_id, station_key, bucket_ts, part)
  );
  `,
  // Limits and fairness (docs/SECURITY.md). `client` is who sent the audio: "token:<id>" when
  // the sender presented a token, else "address:<ip>"; retention shares the segment budget
  // between clients (segment-store.ts), so buckets carry it too, indexed for that sweep.
  // Uploads keep their pending bytes (the quota), their last activity (expiry) and when
  // they expired. A knob event replaced by a later apply for an earlier bucket names it.
  `
  ALTER TABLE stations ADD COLUMN client TEXT NOT NULL DEFAULT '';
  ALTER TABLE buckets ADD COLUMN client TEXT NOT NULL DEFAULT '';
  CREATE INDEX buckets_client_segments ON buckets(client, bucket_ts) WHERE pre_path IS NOT NULL;
  ALTER TABLE uploads ADD COLUMN client TEXT NOT NULL DEFAULT '';
  ALTER TABLE uploads ADD COLUMN pending_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE uploads ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE uploads ADD COLUMN expired_at INTEGER;
  UPDATE uploads SET touched_at = created_at,
    pending_bytes = (SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM upload_packets p WHERE p.upload_id = uploads.upload_id);
  CREATE INDEX uploads_client ON uploads(client);
  CREATE INDEX uploads_touched ON uploads(touched_at) WHERE expired_at IS NULL;
  ALTER TABLE knob_events ADD COLUMN superseded_by INTEGER;
  `,
  // Listening to a whole call: a live trace's mix has a stream id of its own, kept with the
  // trace so that a call rejoined after a pause keeps its listen link.
  `
  ALTER TABLE traces ADD COLUMN mix_stream_id TEXT;
  CREATE UNIQUE INDEX traces_mix_stream_id ON traces(mix_stream_id) WHERE mix_stream_id IS NOT NULL;
  `,
  // Gated loudness (BS.1770-4) of a recorded bucket that two parts share is gated over both
  // parts' 400 ms blocks, so each share keeps them: JSON {"PRE": [...], "POST": [...]} of
  // mean squares. NULL for shares stored before (recorded-merge.ts then leaves the bucket's
  // gated loudness out). Bucket rows need no change: their metrics JSON simply lacks the
  // entries added since (protocol/metrics.ts declares them optional).
  `
  ALTER TABLE recorded_bucket_parts ADD COLUMN loudness_blocks TEXT;
  `,
  // The trace list (GET /api/traces) pages newest first by (started_at, trace_id): a keyset
  // page is one range scan of this index, however many traces the relay keeps.
  `
  CREATE INDEX traces_started ON traces(started_at, trace_id);
  `,
];
