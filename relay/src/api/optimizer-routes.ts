/**
 * The optimizer contract of seed 000 §5, to the letter: active traces, snapshots, segments,
 * knob apply; plus the knob registry, the knob event log and one trace's details. Requests
 * arrive checked against protocol/'s schemas and typed; refusals are coded (ApiError) and
 * the server's error handler gives them their HTTP status.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { StationDetail } from '../../../protocol/api.ts';
import { KNOBS, validateKnobPatch } from '../../../protocol/knobs.ts';
import { SNAPSHOT_DEFAULT_LIMIT, type ApplyRequest, type ApplyResponse } from '../../../protocol/optimizer-api.ts';
import { ResampledSegments } from '../audio/resampled-segments.ts';
import type { TokenInfo } from '../auth/token-store.ts';
import { ApiError } from '../errors.ts';
import { needsToken } from '../http/access.ts';
import { LiveRegistry } from '../live/live-registry.ts';
import type { SegmentStore } from '../store/segment-store.ts';
import type { Store } from '../store/store.ts';
import { bucketStartMs, isoOf, parseIsoMs } from '../time/bucket-clock.ts';
import { knobEvent, snapshotEntry } from './format.ts';
import type { RateLimits } from './rate-limits.ts';
import * as S from './schemas.ts';
import type { ExportSlots } from './export-slots.ts';

export interface ApiContext {
  store: Store;
  segments: SegmentStore;
  registry: LiveRegistry;
  limits: RateLimits;
  bucketMs: number;
  /** How far ahead of the bucket in progress a change may be scheduled. */
  maxScheduleAheadMs: number;
  /**
   * Buckets starting before this are complete for every station: past end + grace by the
   * clock, and none of their records still on the way to the store. Snapshots show no
   * partial state (seed 000 §5.2).
   */
  completeBefore(): number;
  /** Audio exports streamed at once (export-routes.ts). */
  exportSlots: ExportSlots;
}

const ok = <T extends object>(body: T): T & { success: true } => ({ success: true, ...body });

function parseBucketTs(text: string, field: string): number {
  const ms = parseIsoMs(text);
  if (ms === null) throw new ApiError('invalid_request', `${field} must be an ISO-8601 UTC timestamp such as 2026-01-03T21:15:00.000Z, got "${text}"`);
  return ms;
}

function requireTrace(ctx: ApiContext, traceId: string): void {
  if (ctx.store.getTrace(traceId) === undefined) throw new ApiError('trace_not_found', `no trace "${traceId}"`);
}

/** An interval for a message: "5 s", "2.5 s", "500 ms". */
function interval(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(3))} s` : `${ms} ms`;
}

/** A stable hash of a request body: the same JSON in any key order hashes the same. */
function canonicalHash(value: unknown): string {
  const canon = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]))
      : v;
  return createHash('sha256').update(JSON.stringify(canon(value))).digest('hex');
}

export function registerOptimizerRoutes(server: FastifyInstance, ctx: ApiContext): void {
  const app = server.withTypeProvider<TypeBoxTypeProvider>();
  const resampled = new ResampledSegments();

  app.get('/api/optimizer/knobs', { schema: S.knobsRoute, config: { access: needsToken('read:snapshots') } }, async () => ok({ knobs: [...KNOBS] }));

  app.get('/api/traces/active', { schema: S.activeTracesRoute, config: { access: needsToken('read:snapshots') } }, async () => {
    const active = ctx.registry.activeTraces().map(({ traceId, stations }) => {
      const trace = ctx.store.getTrace(traceId);
      const live = new Set(stations.map((s) => s.stationKey as string));
      const ordered = ctx.store.listStations(traceId).filter((s) => live.has(s.station_key));
      return {
        trace_id: traceId,
        started_at: isoOf(trace?.started_at ?? Date.now()),
        src_extension: ordered[0]?.label ?? null,
        dst_extension: ordered[1]?.label ?? null,
        call_id: trace?.call_id ?? null,
        stations: ordered.map((s) => s.station_key),
      };
    });
    return ok({ active });
  });

  app.get('/api/optimizer/snapshot', { schema: S.snapshotRoute, config: { access: needsToken('read:snapshots') } }, async (req) => {
    const q = req.query;
    const since = q.since_bucket_ts === undefined ? undefined : parseBucketTs(q.since_bucket_ts, 'since_bucket_ts');
    requireTrace(ctx, q.trace_id);
    const wait = ctx.limits.snapshot((req.token as TokenInfo).id, q.trace_id, Date.now());
    if (wait > 0) {
      throw new ApiError(
        'rate_limited',
        `at most one snapshot per token and trace every ${interval(ctx.limits.snapshotIntervalMs)} (seed 000 §8, TAPWIRE_SNAPSHOT_MIN_INTERVAL_MS); retry in ${wait} s`,
        { 'Retry-After': String(wait) },
      );
    }
    const rows = ctx.store.snapshotBuckets(q.trace_id, {
      stationKey: q.station_key,
      sinceBucketTs: since,
      beforeBucketTs: ctx.completeBefore(),
      // The schema's default fills it in; the type cannot say so.
      bucketLimit: q.limit ?? SNAPSHOT_DEFAULT_LIMIT,
      latest: since === undefined,
    });
    return ok({ trace_id: q.trace_id, buckets: rows.map(snapshotEntry) });
  });

  app.get('/api/audio/segment', { schema: S.segmentRoute, config: { access: needsToken('read:audio') } }, async (req, reply) => {
    const q = req.query;
    const bucketTs = parseBucketTs(q.bucket_ts, 'bucket_ts');
    requireTrace(ctx, q.trace_id);
    const row = ctx.store.getBucket(q.trace_id, q.station_key, bucketTs);
    if (row === undefined) throw new ApiError('bucket_not_found', `no complete bucket ${q.bucket_ts} for station "${q.station_key}" in trace "${q.trace_id}"`);
    const rel = q.tap === 'PRE' ? row.pre_path : row.post_path;
    if (rel === null) throw new ApiError('audio_not_found', `the audio of bucket ${q.bucket_ts} was removed by retention; its metrics remain`);
    const path = ctx.segments.absolute(rel);
    // The station's own rate unless the request names another (seed 000 §5.3's example is
    // 16 kHz): then a band-limited resampling of the whole file, whose header says the rate.
    const rate = q.rate ?? row.sample_rate;
    const wav = rate === row.sample_rate ? null : await resampled.get(path, rate);
    const size = wav === null ? (await stat(path)).size : wav.length;
    void reply
      .header('Content-Type', 'audio/wav')
      .header('X-Sample-Rate', String(rate))
      .header('X-Channels', '1')
      .header('X-Bucket-MS', String(row.bucket_ms))
      .header('Accept-Ranges', 'bytes')
      .header('Cache-Control', 'private, max-age=31536000, immutable');
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      throw new ApiError('range_not_satisfiable', `the segment has ${size} bytes; the requested range is outside it`, { 'Content-Range': `bytes */${size}` });
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    if (range !== null) void reply.status(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
    void reply.header('Content-Length', String(end - start + 1));
    if (wav !== null) return reply.send(wav.subarray(start, end + 1));
    return reply.send(range === null ? createReadStream(path) : createReadStream(path, { start, end }));
  });

  // One apply at a time: idempotency and the one-per-bucket limit are checked and recorded atomically.
  let applying: Promise<unknown> = Promise.resolve();
  app.post('/api/optimizer/knobs/apply', { schema: S.applyRoute, config: { access: needsToken('write:knobs') } }, async (req) => {
    const run = (): Promise<ApplyResponse> => apply(ctx, req.body);
    const result = applying.then(run, run);
    applying = result.catch(() => undefined);
    return result;
  });

  app.get('/api/optimizer/events', { schema: S.eventsRoute, config: { access: needsToken('read:snapshots') } }, async (req) => {
    const q = req.query;
    requireTrace(ctx, q.trace_id);
    const events = ctx.store.listKnobEvents(q.trace_id, q.station_key, { afterId: q.after_id, limit: q.limit });
    return ok({ trace_id: q.trace_id, events: events.map(knobEvent) });
  });

  app.get('/api/traces/:trace_id', { schema: S.traceRoute, config: { access: needsToken('read:snapshots') } }, async (req) => {
    const { trace_id: traceId } = req.params;
    const trace = ctx.store.getTrace(traceId);
    if (trace === undefined) throw new ApiError('trace_not_found', `no trace "${traceId}"`);
    const stations = ctx.store.listStations(traceId).map((s): StationDetail => {
      const live = ctx.registry.find(traceId, s.station_key);
      const range = ctx.store.bucketRange(traceId, s.station_key);
      return {
        station_key: s.station_key,
        label: s.label,
        codec: s.codec,
        sample_rate: s.sample_rate,
        stream_id: s.stream_id,
        started_at: isoOf(s.started_at),
        ended_at: s.ended_at === null ? null : isoOf(s.ended_at),
        end_reason: s.end_reason,
        live: LiveRegistry.isStreaming(live),
        config_version: live?.configVersion ?? lastConfigVersion(ctx, traceId, s.station_key),
        first_bucket_ts: range.first === null ? null : isoOf(range.first),
        last_bucket_ts: range.last === null ? null : isoOf(range.last),
        bucket_count: range.count,
      };
    });
    const range = ctx.store.bucketRange(traceId);
    return ok({
      trace: {
        trace_id: trace.trace_id,
        kind: trace.kind,
        active: stations.some((s) => s.live),
        started_at: isoOf(trace.started_at),
        ended_at: trace.ended_at === null ? null : isoOf(trace.ended_at),
        call_id: trace.call_id,
        first_bucket_ts: range.first === null ? null : isoOf(range.first),
        last_bucket_ts: range.last === null ? null : isoOf(range.last),
        bucket_count: range.count,
        stations,
      },
    });
  });
}

function lastConfigVersion(ctx: ApiContext, traceId: string, stationKey: string): number {
  const events = ctx.store.listKnobEvents(traceId, stationKey);
  return events.length === 0 ? 0 : events[events.length - 1].config_version;
}

async function apply(ctx: ApiContext, body: ApplyRequest): Promise<ApplyResponse> {
  const hash = canonicalHash(body);
  // A repeated key first: a retry gets the first answer even if it is now too late to apply.
  const previous = ctx.store.knobEventByIdempotencyKey(body.idempotency_key);
  if (previous !== undefined) {
    if (previous.request_hash !== hash) {
      throw new ApiError('idempotency_conflict', `idempotency_key "${body.idempotency_key}" was used for a different request; use a fresh key for a new change`);
    }
    // The answer stored with the event: this route's ApplyResponse, as it was sent.
    return JSON.parse(previous.response as string) as ApplyResponse;
  }
  const knobs = validateKnobPatch(body.knobs);
  if (!knobs.ok) throw new ApiError(knobs.message.startsWith('unknown knob') ? 'unknown_knob' : 'invalid_request', knobs.message);
  const applyAt = parseBucketTs(body.apply_at_bucket_ts, 'apply_at_bucket_ts');
  if (applyAt % ctx.bucketMs !== 0) {
    throw new ApiError('bucket_mismatch', `apply_at_bucket_ts must be on a ${ctx.bucketMs} ms bucket boundary, e.g. ${isoOf(bucketStartMs(applyAt, ctx.bucketMs) + ctx.bucketMs)}`);
  }
  requireTrace(ctx, body.trace_id);
  if (ctx.store.getStation(body.trace_id, body.station_key) === undefined) {
    throw new ApiError('station_not_found', `no station "${body.station_key}" in trace "${body.trace_id}"`);
  }
  const station = ctx.registry.find(body.trace_id, body.station_key);
  if (!LiveRegistry.isStreaming(station)) {
    throw new ApiError('station_not_live', `station "${body.station_key}" is not streaming; knobs apply to live stations only`);
  }
  const now = Date.now();
  const inProgress = bucketStartMs(now, ctx.bucketMs);
  if (applyAt <= inProgress) {
    throw new ApiError(
      'bucket_mismatch',
      `apply_at_bucket_ts ${body.apply_at_bucket_ts} is not later than the bucket in progress (${isoOf(inProgress)}); the earliest is ${isoOf(inProgress + ctx.bucketMs)}`,
    );
  }
  const latest = inProgress + Math.max(1, Math.floor(ctx.maxScheduleAheadMs / ctx.bucketMs)) * ctx.bucketMs;
  if (applyAt > latest) {
    throw new ApiError(
      'bucket_mismatch',
      `apply_at_bucket_ts ${body.apply_at_bucket_ts} is more than ${Math.round(ctx.maxScheduleAheadMs / 1000)} s ahead of the bucket in progress (TAPWIRE_MAX_SCHEDULE_AHEAD_S); the latest is ${isoOf(latest)}`,
    );
  }
  const wait = ctx.limits.applyWait(body.trace_id, body.station_key, now);
  if (wait > 0) {
    throw new ApiError('rate_limited', `at most one knob apply per station per bucket (seed 000 §8); retry in ${wait} s`, { 'Retry-After': String(wait) });
  }
  const result = await ctx.registry.scheduleKnobs({
    traceId: body.trace_id,
    stationKey: body.station_key,
    applyAtBucketTs: applyAt,
    knobs: knobs.knobs,
    requestedKnobs: body.knobs,
    source: body.source ?? null,
    reason: body.reason ?? null,
    idempotencyKey: body.idempotency_key,
    requestHash: hash,
  });
  if (!result.ok) {
    if (result.code === 'not_found') throw new ApiError('station_not_found', result.message);
    if (result.code === 'station_ended') throw new ApiError('station_not_live', result.message);
    throw new ApiError('bucket_mismatch', result.message);
  }
  ctx.limits.recordApply(body.trace_id, body.station_key, now);
  const response: ApplyResponse = {
    success: true,
    accepted: true,
    apply_at_bucket_ts: isoOf(applyAt),
    config_version: result.configVersion,
    effective_knobs: result.effectiveKnobs,
  };
  ctx.store.setKnobEventResponse(result.eventId, JSON.stringify(response));
  return response;
}

/** A single `bytes=a-b` range (RFC 9110 §14.1.2); null for none or an unparsable one. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
