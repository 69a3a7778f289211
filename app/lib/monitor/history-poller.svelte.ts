/**
 * Follows one trace for the monitor's trace page: its details (`GET /api/traces/:id`), its
 * complete buckets (first the past at once from export sidecars, history-backfill.ts; then
 * `GET /api/optimizer/snapshot`, pages of up to 100 buckets after the last one seen) and its
 * knob events (`GET /api/optimizer/events`), every 5 s (one bucket).
 *
 * The snapshot is rate-limited per token and trace (seed 000 §8): a 429 waits its
 * Retry-After. Events are fetched from the oldest one that can still change: an event is
 * superseded only before its bucket starts, so events whose bucket is complete are final.
 */
import { relayStatus } from '$lib/relay-status.svelte';
import { session } from '$lib/session.svelte';
import type { TraceDetail } from '$protocol/api';
import { BUCKET_MS } from '../../../protocol/metrics.ts';
import { EXPORT_MAX_RANGE_MS, type SidecarResponse } from '../../../protocol/export.ts';
import { EVENTS_MAX_LIMIT, SNAPSHOT_MAX_LIMIT, type KnobEvent, type SnapshotEntry } from '../../../protocol/optimizer-api.ts';
import { HISTORY_DEFAULT_CAPACITY, StationHistory, type HistoryBucket } from './history';
import { planBackfill } from './history-backfill';
import { verifyKnobEvent, type Verification } from './verification';

/** Poll interval, ms: one bucket. */
export const HISTORY_POLL_MS = BUCKET_MS;
/** Knob events kept (the newest). */
export const HISTORY_MAX_EVENTS = 1000;

export interface EventRow {
  event: KnobEvent;
  verification: Verification;
}

class RateLimited extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`rate limited, retry in ${retryAfterMs} ms`);
  }
}

/** The relay could not be reached (relay-status.svelte.ts has been told). */
class Unreachable extends Error {
  constructor() {
    super('the relay could not be reached');
  }
}

export class TraceHistory {
  detail = $state.raw<TraceDetail | null>(null);
  error = $state<string | null>(null);
  /** Station keys in the order they appear, each with its history. */
  stationKeys = $state.raw<string[]>([]);
  /** Bumped whenever a history changes, so charts redraw. */
  version = $state(0);
  events = $state.raw<EventRow[]>([]);

  readonly histories = new Map<string, StationHistory>();
  #events = new Map<number, KnobEvent>();
  /** Verdicts that can no longer change (kept when their bucket leaves the window). */
  #final = new Map<number, Verification>();
  #sinceBucketTs: string | null = null;
  #backfilled = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #abort = new AbortController();
  #closed = false;

  constructor(readonly traceId: string) {}

  #stopWatching: (() => void) | null = null;
  #ticking = false;
  /** A refresh asked for during a poll: poll again as soon as it ends. */
  #again = false;

  start(): void {
    if (this.#closed || this.#timer !== null) return;
    this.#stopWatching = relayStatus.onRecovered(() => this.refresh());
    void this.#tick();
  }

  /** Polls now rather than at the next 5 s tick (after a knob change, or the relay coming back). */
  refresh(): void {
    if (this.#closed) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    void this.#tick();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWatching?.();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#abort.abort();
  }

  async #get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await session.fetch(path, { signal: this.#abort.signal });
    } catch (e) {
      throw this.#closed ? e : new Unreachable();
    }
    if (res.status === 429) throw new RateLimited(Number(res.headers.get('retry-after') ?? '1') * 1000);
    const body = (await res.json().catch(() => null)) as (T & { error?: { message?: string } }) | null;
    if (!res.ok || body === null) throw new Error(`${path}: ${res.status} ${body?.error?.message ?? ''}`.trim());
    return body;
  }

  async #tick(): Promise<void> {
    let delayMs = HISTORY_POLL_MS;
    this.#ticking = true;
    try {
      const id = encodeURIComponent(this.traceId);
      if (this.detail === null || this.detail.active) this.detail = (await this.#get<{ trace: TraceDetail }>(`/api/traces/${id}`)).trace;
      if (!this.#backfilled && this.detail !== null) await this.#backfill(this.detail);
      const full = await this.#pullBuckets(id);
      await this.#pullEvents(id);
      this.#verify();
      this.error = null;
      // A full page means more are waiting: fetch the next one at once.
      if (full) delayMs = 0;
    } catch (e) {
      if (this.#closed) return;
      if (e instanceof RateLimited) delayMs = e.retryAfterMs;
      // The layout's banner says the relay is unreachable; the page keeps what it showed.
      else if (e instanceof Unreachable) this.error = null;
      else this.error = e instanceof Error ? e.message : String(e);
    } finally {
      this.#ticking = false;
    }
    if (this.#again) {
      this.#again = false;
      delayMs = 0;
    }
    if (!this.#closed) this.#timer = setTimeout(() => void this.#tick(), delayMs);
  }

  /**
   * The trace's past buckets, every sidecar range at once; the snapshot resumes where they
   * end. On any failure (a token without the scope, an older relay) the snapshot pages
   * through everything instead, as before.
   */
  async #backfill(trace: TraceDetail): Promise<void> {
    this.#backfilled = true;
    const plan = planBackfill(trace, { capacity: HISTORY_DEFAULT_CAPACITY, bucketMs: BUCKET_MS, maxRangeMs: EXPORT_MAX_RANGE_MS, liveLagMs: 60_000 });
    if (plan.ranges.length === 0) return;
    const id = encodeURIComponent(this.traceId);
    let answers: SidecarResponse[];
    try {
      answers = await Promise.all(
        plan.ranges.map((r) =>
          this.#get<SidecarResponse>(
            `/api/audio/export/sidecar?trace_id=${id}&station_key=${encodeURIComponent(r.stationKey)}&from=${new Date(r.fromMs).toISOString()}&to=${new Date(r.toMs).toISOString()}`,
          ),
        ),
      );
    } catch (e) {
      if (this.#closed) throw e;
      return;
    }
    // Stations in the trace's order, as the snapshot would list them.
    for (const s of trace.stations) {
      for (const a of answers) if (a.station_key === s.station_key) for (const b of a.buckets) this.#add(s.station_key, b);
    }
    if (plan.resumeAfterMs !== null) this.#sinceBucketTs = new Date(plan.resumeAfterMs).toISOString();
    this.version++;
  }

  #add(stationKey: string, bucket: HistoryBucket): boolean {
    let h = this.histories.get(stationKey);
    if (h === undefined) {
      h = new StationHistory(stationKey);
      this.histories.set(stationKey, h);
      this.stationKeys = [...this.stationKeys, stationKey];
    }
    return h.add(bucket);
  }

  /** One page of complete buckets after the last seen; true when the page was full. */
  async #pullBuckets(id: string): Promise<boolean> {
    // The first page starts before the trace's first bucket ("strictly after").
    const since = this.#sinceBucketTs ?? new Date(0).toISOString();
    const q = `trace_id=${id}&since_bucket_ts=${encodeURIComponent(since)}&limit=${SNAPSHOT_MAX_LIMIT}`;
    const { buckets } = await this.#get<{ buckets: SnapshotEntry[] }>(`/api/optimizer/snapshot?${q}`);
    let changed = false;
    const bucketTs = new Set<string>();
    for (const entry of buckets) {
      bucketTs.add(entry.bucket_ts);
      if (this.#add(entry.station_key, entry)) changed = true;
      if (this.#sinceBucketTs === null || entry.bucket_ts > this.#sinceBucketTs) this.#sinceBucketTs = entry.bucket_ts;
    }
    if (changed) this.version++;
    return bucketTs.size >= SNAPSHOT_MAX_LIMIT;
  }

  async #pullEvents(id: string): Promise<void> {
    // Re-read from the oldest event that may still change (pending), else after the newest.
    let afterId = 0;
    for (const ev of this.#events.values()) {
      if (this.#verdict(ev).state === 'pending') {
        afterId = ev.id - 1;
        break;
      }
      afterId = ev.id;
    }
    const { events } = await this.#get<{ events: KnobEvent[] }>(`/api/optimizer/events?trace_id=${id}&after_id=${afterId}&limit=${EVENTS_MAX_LIMIT}`);
    for (const ev of events) this.#events.set(ev.id, ev);
    // Map order is insertion order; keep it ascending by id, the newest HISTORY_MAX_EVENTS.
    const sorted = [...this.#events.values()].sort((a, b) => a.id - b.id).slice(-HISTORY_MAX_EVENTS);
    this.#events = new Map(sorted.map((ev) => [ev.id, ev]));
    for (const id of this.#final.keys()) if (!this.#events.has(id)) this.#final.delete(id);
  }

  #verdict(event: KnobEvent): Verification {
    const known = this.#final.get(event.id);
    if (known !== undefined) return known;
    const v = verifyKnobEvent(event, this.histories.get(event.station_key));
    if (v.state !== 'pending') this.#final.set(event.id, v);
    return v;
  }

  #verify(): void {
    this.events = [...this.#events.values()].map((event) => ({ event, verification: this.#verdict(event) }));
  }
}
