/**
 * Uploads of offline recordings (protocol/upload.ts), behind the REST routes: an upload is
 * a recorded trace with one station; its packets are kept by index until a part (a run of
 * them) is processed through the live pipeline at the capture times (recorded-runner.ts).
 *
 * Everything is idempotent: a repeated create or chunk changes nothing, a part processed
 * again answers with the state. Parts of one upload are processed one at a time.
 *
 * Limits (upload-limits.ts): the payload bytes stored and not yet processed are kept in
 * `uploads.pending_bytes` in the same transactions that store and delete packets, so the
 * quotas per upload and per token are checked without a scan; an upload untouched for
 * uploadExpiryMs loses its unprocessed packets (expireIdle); audio older than retention
 * keeps (segmentMaxAgeMs) is refused.
 */
import { CODEC_IDS } from '../../../protocol/frame.ts';
import { defaultKnobs } from '../../../protocol/knobs.ts';
import {
  checkChunk,
  MAX_PART_PACKETS,
  MAX_UPLOAD_CLOCK_AHEAD_MS,
  UPLOAD_ID_PATTERN,
  type UploadChunkResponse,
  type UploadCreateRequest,
  type UploadPartRequest,
  type UploadState,
} from '../../../protocol/upload.ts';
import type { RelayConfig } from '../config.ts';
import { ApiError } from '../errors.ts';
import { newStreamId, newTraceId } from '../ids.ts';
import type { LimitCounters } from '../metrics/limit-counters.ts';
import type { RecordedBucketStore } from '../store/recorded-bucket-store.ts';
import type { Store } from '../store/store.ts';
import type { StoredPacket, StoredUploadRow, UploadRow, UploadStore } from '../store/upload-store.ts';
import { bucketStartMs, isoOf, parseIsoMs, PROCESSING_FRAME_MS } from '../time/bucket-clock.ts';
import type { RecordedPacket, RecordedRunner } from './recorded-runner.ts';
import { expiredError, quotaRefusal, tooOldRefusal, uploadError, type UploadLimitsConfig } from './upload-limits.ts';

/** Packets pushed to the media worker per batch: 5 s of audio, a few ms of a worker's time. */
export const RUN_BATCH_PACKETS = 250;

export interface UploadServiceDeps {
  store: Store;
  uploads: UploadStore;
  shares: RecordedBucketStore;
  runner: RecordedRunner;
  config: Pick<RelayConfig, 'bucketMs' | 'bucketGraceMs' | 'ingressQueueFrames' | 'jitterAllowanceMs'> & UploadLimitsConfig;
  /** Counts refusals by the upload quotas (`upload_quota`). */
  limits: LimitCounters;
}

export class UploadService {
  /** The tail of each upload's chain of part requests (removed once it settles). */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: UploadServiceDeps) {}

  /**
   * `PUT /api/uploads/:upload_id`: creates the upload (created: true) or confirms it. The
   * route has checked the request against its schema (UploadCreateRequest); the service
   * checks what a schema cannot: the timestamp, and the upload's history.
   */
  create(uploadId: string, req: UploadCreateRequest, client: string, nowMs: number): { created: boolean; state: UploadState } {
    checkUploadId(uploadId);
    const startedAt = parseIsoMs(req.started_at);
    if (startedAt === null) throw new ApiError('invalid_request', `started_at must be an ISO-8601 UTC timestamp such as 2026-01-03T21:15:00.000Z, got "${req.started_at}"`);
    if (startedAt > nowMs + MAX_UPLOAD_CLOCK_AHEAD_MS) {
      throw new ApiError('invalid_request', `started_at ${req.started_at} is ${Math.round((startedAt - nowMs) / 1000)} s in the relay's future (${isoOf(nowMs)}); a capture cannot start later than now`);
    }
    const { store, uploads } = this.deps;
    const existing = uploads.get(uploadId);
    if (existing !== undefined) {
      const diff = conflictingField(existing, req, startedAt);
      if (diff !== null) {
        throw uploadError('upload_conflict', `upload "${uploadId}" exists with ${diff}; use a new upload_id for another capture`);
      }
      // A confirm is activity too; an expired upload stays expired (its chunks answer 410).
      if (existing.expired_at === null) uploads.touch(uploadId, nowMs);
      return { created: false, state: this.stateOf(existing) };
    }
    // Retention would delete the audio of a capture this old as soon as it was processed.
    const tooOld = tooOldRefusal(this.deps.config, `started_at ${req.started_at}`, startedAt, nowMs, 'nothing was created');
    if (tooOld !== null) throw tooOld;
    const row: UploadRow = {
      upload_id: uploadId,
      trace_id: newTraceId(),
      station_key: stationKeyFor(req.label),
      codec: req.codec,
      sample_rate: req.sample_rate,
      frame_ms: req.frame_ms,
      started_at: startedAt,
      label: req.label ?? null,
      created_at: nowMs,
      client,
    };
    store.db.transaction(() => {
      store.insertTrace({ trace_id: row.trace_id, kind: 'recorded', started_at: startedAt, ended_at: null, call_id: null });
      store.insertStation({
        trace_id: row.trace_id,
        station_key: row.station_key,
        label: row.label,
        codec: row.codec,
        sample_rate: row.sample_rate,
        stream_id: newStreamId(),
        started_at: startedAt,
        ended_at: null,
        end_reason: null,
        client,
      });
      uploads.insert(row);
    })();
    return { created: true, state: this.stateOf({ ...row, pending_bytes: 0, touched_at: nowMs, expired_at: null }) };
  }

  /**
   * `PUT .../packets?first_index=N`: checks every record, then, in one transaction, compares
   * the chunk with what is stored (`chunk_conflict` for other bytes at a stored index),
   * checks the quotas on its new packets (`upload_quota`) and stores them. A refused
   * chunk stores nothing.
   */
  putChunk(uploadId: string, firstIndex: number, body: Uint8Array, nowMs: number): Omit<UploadChunkResponse, 'success'> {
    const upload = this.require(uploadId);
    if (upload.expired_at !== null) throw expiredError(this.deps.config, uploadId, upload.expired_at);
    const chunk = checkChunk(body, firstIndex, upload.frame_ms, upload.codec);
    if (!chunk.ok) throw uploadError('bad_chunk', `${chunk.message}; nothing of this chunk was stored`);
    const { store, uploads, config, limits } = this.deps;
    const packets = chunk.packets;
    const accepted = store.db.transaction((): number => {
      const plan = uploads.planChunk(uploadId, firstIndex, packets);
      if (plan.conflictIndex !== null) {
        throw uploadError(
          'chunk_conflict',
          `packet ${plan.conflictIndex} is already stored with other bytes (flags or payload); nothing of this chunk was stored. ` +
            `A packet index holds one packet: send the same bytes again, or another capture under a new upload_id`,
        );
      }
      if (plan.fresh.length > 0) {
        // `upload` was read in this same synchronous call, so its pending_bytes is current.
        const pending = { upload: upload.pending_bytes, client: uploads.clientPendingBytes(upload.client) };
        const refusal = quotaRefusal(config, uploadId, pending, plan.freshBytes);
        if (refusal !== null) {
          limits.count('upload_quota');
          throw refusal;
        }
        uploads.insertPackets(uploadId, firstIndex, packets, plan);
      }
      uploads.touch(uploadId, nowMs);
      return plan.fresh.length;
    })();
    return { ...this.stateOf(upload), accepted, duplicates: packets.length - accepted };
  }

  /** `POST .../parts`: processes a run of stored packets (serialized per upload). */
  processPart(uploadId: string, req: UploadPartRequest, nowMs: number): Promise<UploadState> {
    this.require(uploadId); // upload_not_found before queueing; the run reads the row again
    const { first_index: first, end_index: end } = req;
    if (!(first < end)) throw new ApiError('invalid_request', `end_index (${end}) must be greater than first_index (${first})`);
    if (end - first > MAX_PART_PACKETS) {
      throw new ApiError('invalid_request', `a part is at most ${MAX_PART_PACKETS} packets; [${first}, ${end}) has ${end - first}: split it`);
    }
    const run = (): Promise<UploadState> => this.runPart(uploadId, first, end, nowMs);
    const prev = this.chains.get(uploadId) ?? Promise.resolve();
    const result = prev.then(run, run);
    const tail = result.catch(() => undefined);
    this.chains.set(uploadId, tail);
    void tail.then(() => {
      if (this.chains.get(uploadId) === tail) this.chains.delete(uploadId);
    });
    return result;
  }

  /** `GET /api/uploads/:upload_id`. */
  state(uploadId: string): UploadState {
    return this.stateOf(this.require(uploadId));
  }

  /**
   * Expires the uploads untouched (no create, confirm, chunk or part) for uploadExpiryMs at
   * `nowMs`: deletes their unprocessed packets, zeroes their pending bytes and sets
   * `expired_at`; processed parts and their buckets stay. An upload with a part request in
   * flight is skipped (the run reads its packets). Returns how many expired.
   */
  expireIdle(nowMs: number): number {
    const { uploads, config } = this.deps;
    let expired = 0;
    for (const uploadId of uploads.idleSince(nowMs - config.uploadExpiryMs)) {
      if (this.chains.has(uploadId)) continue;
      if (uploads.expire(uploadId, nowMs)) expired++;
    }
    return expired;
  }

  private async runPart(uploadId: string, first: number, end: number, nowMs: number): Promise<UploadState> {
    const { store, uploads, shares, runner, config } = this.deps;
    // Read again: an earlier part of the chain may have run, or the upload expired, since the request.
    const upload = this.require(uploadId);
    const parts = uploads.parts(uploadId);
    if (parts.some((p) => p.first_index === first && p.end_index === end)) return this.stateOf(upload);
    if (upload.expired_at !== null) throw expiredError(config, uploadId, upload.expired_at);
    const captureMs = (index: number): number => upload.started_at + index * upload.frame_ms;
    const tooOld = tooOldRefusal(config, `part [${first}, ${end}) ends at ${isoOf(captureMs(end))}, which`, captureMs(end), nowMs, 'its packets are kept');
    if (tooOld !== null) throw tooOld;
    const overlap = parts.find((p) => p.first_index < end && first < p.end_index);
    if (overlap !== undefined) {
      throw uploadError('part_overlap', `[${first}, ${end}) overlaps the processed part [${overlap.first_index}, ${overlap.end_index}); a part is processed once`);
    }
    const missing = uploads.missing(uploadId, first, end);
    if (missing.count > 0) {
      throw uploadError('incomplete', `${missing.count} of the ${end - first} packets of [${first}, ${end}) are missing, the first is ${missing.firstMissing}; upload them, then process the part`);
    }
    uploads.touch(uploadId, nowMs);
    const codec = CODEC_IDS[upload.codec];
    const toPacket = (p: StoredPacket): RecordedPacket => ({
      timestampMs: p.idx * upload.frame_ms,
      sequence: p.idx,
      codec,
      flags: p.flags,
      arrivalMs: captureMs(p.idx),
      payload: p.payload,
    });
    function* batches(): Iterable<RecordedPacket[]> {
      for (let from = first; from < end; ) {
        const rows = uploads.packetBatch(upload.upload_id, from, end, RUN_BATCH_PACKETS);
        if (rows.length === 0) return;
        yield rows.map(toPacket);
        from = rows[rows.length - 1].idx + 1;
      }
    }
    try {
      await runner.run(
        {
          traceId: upload.trace_id,
          stationKey: upload.station_key,
          codec: upload.codec,
          sampleRate: upload.sample_rate,
          queueFrames: config.ingressQueueFrames,
          jitterAllowanceMs: config.jitterAllowanceMs,
          bucketMs: config.bucketMs,
          graceMs: config.bucketGraceMs,
          knobs: defaultKnobs(),
          configVersion: 0,
          lastKnobEventId: null,
          client: upload.client,
          recorded: { part: first },
        },
        batches,
      );
    } catch (err) {
      throw uploadError('processing_failed', `part [${first}, ${end}) could not be processed: ${(err as Error).message}; its packets are kept, send the request again`);
    }
    // The station's timeline starts on the 20 ms grid at or before the part's first capture time.
    const written = shares.partBuckets(
      upload.trace_id,
      upload.station_key,
      first,
      bucketStartMs(captureMs(first) - PROCESSING_FRAME_MS, config.bucketMs),
      bucketStartMs(captureMs(end), config.bucketMs),
    );
    const endMs = captureMs(end);
    store.db.transaction(() => {
      uploads.completePart(upload.upload_id, {
        first_index: first,
        end_index: end,
        frames: written.reduce((n, b) => n + b.frames, 0),
        bucket_ts: written.map((b) => b.bucketTs),
        processed_at: Date.now(),
      });
      const trace = store.getTrace(upload.trace_id);
      const endedAt = Math.max(trace?.ended_at ?? endMs, endMs);
      store.endTrace(upload.trace_id, endedAt);
      store.endStation(upload.trace_id, upload.station_key, endedAt, 'uploaded');
    })();
    return this.stateOf(upload);
  }

  private require(uploadId: string): StoredUploadRow {
    checkUploadId(uploadId);
    const row = this.deps.uploads.get(uploadId);
    if (row === undefined) throw uploadError('upload_not_found', `no upload "${uploadId}"; create it with PUT /api/uploads/${uploadId}`);
    return row;
  }

  private stateOf(u: StoredUploadRow): UploadState {
    const parts = this.deps.uploads.parts(u.upload_id);
    const stored = this.deps.uploads.storedPackets(u.upload_id);
    let received = stored.count;
    let endIndex = stored.endIndex;
    for (const p of parts) {
      received += p.end_index - p.first_index;
      if (p.end_index > endIndex) endIndex = p.end_index;
    }
    return {
      upload_id: u.upload_id,
      trace_id: u.trace_id,
      station_key: u.station_key,
      label: u.label,
      codec: u.codec,
      sample_rate: u.sample_rate,
      frame_ms: u.frame_ms,
      started_at: isoOf(u.started_at),
      packets_received: received,
      end_index: endIndex,
      parts: parts.map((p) => ({ first_index: p.first_index, end_index: p.end_index, frames: p.frames, bucket_ts: p.bucket_ts.map(isoOf) })),
      expired_at: u.expired_at === null ? null : isoOf(u.expired_at),
    };
  }
}

function checkUploadId(uploadId: string): void {
  if (!UPLOAD_ID_PATTERN.test(uploadId)) {
    throw new ApiError('invalid_request', `upload_id must be 1-64 characters of letters, digits, _ . : - starting with a letter or digit, got "${uploadId}"`);
  }
}

/** The first field in which a repeated create differs from the upload as created, or null. */
function conflictingField(u: UploadRow, req: UploadCreateRequest, startedAt: number): string | null {
  if (u.codec !== req.codec) return `codec "${u.codec}", not "${req.codec}"`;
  if (u.sample_rate !== req.sample_rate) return `sample_rate ${u.sample_rate}, not ${req.sample_rate}`;
  if (u.frame_ms !== req.frame_ms) return `frame_ms ${u.frame_ms}, not ${req.frame_ms}`;
  if (u.started_at !== startedAt) return `started_at ${isoOf(u.started_at)}, not ${req.started_at}`;
  return null;
}

/** A station key from the label (its id-safe characters), or "capture". */
function stationKeyFor(label: string | undefined): string {
  const key = (label ?? '')
    .replace(/[^A-Za-z0-9_.:-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return key === '' ? 'capture' : key;
}
