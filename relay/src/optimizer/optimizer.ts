/**
 * The reference optimizer: seed 000 §3's loop, in strict order, every 5 s, for every
 * active trace and station:
 *   1. discover active traces (§5.1);
 *   2. pull the complete buckets since the last pull, ONE snapshot call per trace (§5.2;
 *      at most one per trace per 5 s, §8);
 *   3. analyze PRE vs POST from the snapshot alone (analysis.ts): the gated loudness, the
 *      chain's gain, peaks and clipping of each bucket are in its row, so no audio segment
 *      is fetched (docs/OPTIMIZER.md: why the segments would add nothing);
 *   4. decide (policy.ts), after verifying the previous change (6.): a bucket that is not
 *      evidence enough (evidence.ts) is held, with its reason in the log;
 *   5. schedule the change for the NEXT bucket, the one after the bucket in progress by the
 *      wall clock (§4), with a fresh idempotency key (§5.4);
 *   6. on the next loops, verify it (verify.ts, §6) before deciding anything else, so one
 *      step takes three buckets: the one in progress, the one that carries the change (its
 *      knobs are checked), and the first one measured wholly under it (its metrics are
 *      checked, and the next decision is taken on it).
 * Each loop runs shortly after a bucket completes: bucket end + the relay's grace (1 s) +
 * `loopDelayMs` (300 ms) for the write.
 *
 * A station whose change fails verification is halted: it gets no further change, and the
 * log says why. An operator resets it by applying any knob change to that station with
 * a `source` other than the optimizer's (for example, setting the knobs they want by hand);
 * the optimizer sees that event in `GET /api/optimizer/events`, waits until a bucket
 * carries it, and resumes from there. Restarting the optimizer also resets every station.
 */
import { randomUUID } from 'node:crypto';
import { analyze } from './analysis.ts';
import type { ActiveTrace, SnapshotEntry } from './api-types.ts';
import { sleep, type OptimizerClient } from './client.ts';
import { ApiRequestError, OptimizerError } from './errors.ts';
import { clockOf, formatKnobs, type LogEntry, type Logger, printLogger } from './log.ts';
import { decide } from './policy.ts';
import { checkTargets, describeTargets, targetsFor, type Targets } from './targets.ts';
import { describeStation, newStationState, type StationState } from './station-state.ts';
import { verify } from './verify.ts';

export interface OptimizerOptions {
  client: OptimizerClient;
  /** The target mode (default rms) and any target to change from that mode's defaults (targets.ts). */
  targets?: Partial<Targets>;
  /** Receives every log entry (default: one line each on stdout). */
  log?: Logger;
  /** `source` of the knob events (default "reference_optimizer"). */
  source?: string;
  /** Bucket length, ms (seed 000 §4: 5000). */
  bucketMs?: number;
  /** The relay's completion grace, ms (TAPWIRE_BUCKET_GRACE_MS, default 1000). */
  graceMs?: number;
  /** Time after bucket end + grace at which a loop starts, ms (default 300). */
  loopDelayMs?: number;
  /** Least time between two snapshot pulls of one trace, ms (seed 000 §8: 5000). */
  snapshotIntervalMs?: number;
}

interface TraceState {
  traceId: string;
  /** Pull entries after this bucket; null: the latest ones. */
  sinceBucketTs: string | null;
  /** When the last snapshot request was sent, epoch ms. */
  lastSnapshotAt: number;
  stations: Map<string, StationState>;
}

const MAX_LIMIT = 100;
/** Margin on top of the snapshot interval, ms: timers and the network are not exact. */
const RATE_MARGIN_MS = 50;

export class Optimizer {
  readonly targets: Targets;
  private readonly client: OptimizerClient;
  private readonly log: Logger;
  private readonly source: string;
  private readonly bucketMs: number;
  private readonly graceMs: number;
  private readonly loopDelayMs: number;
  private readonly snapshotIntervalMs: number;
  private readonly traces = new Map<string, TraceState>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  /** Loops run so far. */
  loops = 0;

  constructor(opts: OptimizerOptions) {
    this.client = opts.client;
    const { mode = 'rms', ...overrides } = opts.targets ?? {};
    this.targets = targetsFor(mode, overrides);
    checkTargets(this.targets);
    this.log = opts.log ?? printLogger;
    this.source = opts.source ?? 'reference_optimizer';
    this.bucketMs = opts.bucketMs ?? 5000;
    this.graceMs = opts.graceMs ?? 1000;
    this.loopDelayMs = opts.loopDelayMs ?? 300;
    this.snapshotIntervalMs = opts.snapshotIntervalMs ?? 5000;
  }

  /** Starts the loop; the first run is at the next bucket end + grace + delay. */
  start(): void {
    if (this.stopping || this.timer || this.running) return;
    this.emit({ kind: 'info', message: `optimizing every ${this.bucketMs / 1000} s against ${this.client.baseUrl}, ${describeTargets(this.targets)}` });
    this.schedule();
  }

  /** Stops the loop: no new run starts, the one under way is cut short. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.abort.abort();
      await this.running?.catch(() => undefined);
      this.emit({ kind: 'info', message: `stopped after ${this.loops} loops` });
    })();
    return this.stopping;
  }

  /** When the next loop is due: the first bucket end + grace + delay after `nowMs`. */
  nextRunAt(nowMs: number): number {
    const offset = this.graceMs + this.loopDelayMs;
    return (Math.floor((nowMs - offset) / this.bucketMs) + 1) * this.bucketMs + offset;
  }

  /** Every station the optimizer knows, as JSON. */
  describe(): Record<string, unknown>[] {
    return [...this.traces.values()].flatMap((t) => [...t.stations.values()].map(describeStation));
  }

  private schedule(): void {
    if (this.stopping) return;
    const now = Date.now();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runOnce().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, this.nextRunAt(now) - now);
  }

  /** One pass of the loop over every active trace. */
  async runOnce(): Promise<void> {
    this.loops++;
    const signal = this.abort.signal;
    let active: ActiveTrace[];
    try {
      active = await this.client.activeTraces(signal);
    } catch (err) {
      if (!signal.aborted) this.emit({ kind: 'error', message: `discovering traces failed: ${(err as Error).message}` });
      return;
    }
    const live = new Set(active.map((t) => t.trace_id));
    for (const id of this.traces.keys()) {
      if (!live.has(id)) {
        this.traces.delete(id);
        this.emit({ kind: 'info', traceId: id, message: 'trace is no longer active' });
      }
    }
    await Promise.all(active.map((t) => this.runTrace(t, signal)));
  }

  private async runTrace(active: ActiveTrace, signal: AbortSignal): Promise<void> {
    try {
      let trace = this.traces.get(active.trace_id);
      if (trace === undefined) {
        trace = { traceId: active.trace_id, sinceBucketTs: null, lastSnapshotAt: -Infinity, stations: new Map() };
        await this.adoptScheduledChanges(trace, signal);
        this.traces.set(trace.traceId, trace);
        this.emit({ kind: 'info', traceId: trace.traceId, message: `trace is active with ${active.stations.length} station(s): ${active.stations.join(', ')}` });
      }
      const liveStations = new Set(active.stations);
      for (const key of trace.stations.keys()) if (!liveStations.has(key)) trace.stations.delete(key);
      for (const key of active.stations) if (!trace.stations.has(key)) trace.stations.set(key, newStationState(trace.traceId, key));

      const entries = await this.pull(trace, active.stations.length, signal);
      await this.checkHalted(trace, signal);
      const byStation = new Map<string, SnapshotEntry[]>();
      for (const e of entries) {
        const st = trace.stations.get(e.station_key);
        if (st === undefined || Date.parse(e.bucket_ts) <= st.lastBucketMs) continue;
        byStation.set(e.station_key, [...(byStation.get(e.station_key) ?? []), e]);
      }
      await Promise.all([...byStation].map(([key, list]) => this.runStation(trace, trace.stations.get(key) as StationState, list, signal)));
    } catch (err) {
      if (!signal.aborted) this.emit({ kind: 'error', traceId: active.trace_id, message: (err as Error).message });
    }
  }

  /** Step 2: one snapshot call, no sooner than the rate limit allows. */
  private async pull(trace: TraceState, stationCount: number, signal: AbortSignal): Promise<SnapshotEntry[]> {
    const wait = trace.lastSnapshotAt + this.snapshotIntervalMs + RATE_MARGIN_MS - Date.now();
    if (wait > 0) await sleep(wait, signal);
    trace.lastSnapshotAt = Date.now();
    // The first pull takes the latest bucket of every station. Seed 000 leaves open whether
    // `limit` counts entries or whole buckets; asking for one per station works either way.
    const limit = trace.sinceBucketTs === null ? Math.min(MAX_LIMIT, Math.max(1, stationCount)) : MAX_LIMIT;
    const entries = await this.client.snapshot({ trace_id: trace.traceId, since_bucket_ts: trace.sinceBucketTs ?? undefined, limit }, signal);
    if (entries.length > 0) trace.sinceBucketTs = entries[entries.length - 1].bucket_ts;
    // A full page means more are waiting: take the latest next time rather than fall behind.
    const full = entries.length === MAX_LIMIT || new Set(entries.map((e) => e.bucket_ts)).size === MAX_LIMIT;
    if (trace.sinceBucketTs !== null && full) trace.sinceBucketTs = null;
    return entries;
  }

  /** A new trace may carry changes someone scheduled for a future bucket: decide nothing until they are in force. */
  private async adoptScheduledChanges(trace: TraceState, signal: AbortSignal): Promise<void> {
    const events = await this.client.events(trace.traceId, undefined, signal);
    for (const e of events) {
      const st = trace.stations.get(e.station_key) ?? newStationState(trace.traceId, e.station_key);
      st.awaitConfigVersion = Math.max(st.awaitConfigVersion, e.config_version);
      trace.stations.set(e.station_key, st);
    }
  }

  /** Halted stations resume when an event from another source appears (see the file comment). */
  private async checkHalted(trace: TraceState, signal: AbortSignal): Promise<void> {
    const halted = [...trace.stations.values()].filter((s) => s.phase.kind === 'halted');
    if (halted.length === 0) return;
    const events = await this.client.events(trace.traceId, undefined, signal);
    for (const st of halted) {
      if (st.phase.kind !== 'halted') continue;
      const after = st.phase.afterEventId;
      const reset = events.filter((e) => e.station_key === st.stationKey && e.id > after && e.source !== this.source).pop();
      if (reset === undefined) continue;
      st.phase = { kind: 'ready' };
      st.awaitConfigVersion = Math.max(st.awaitConfigVersion, reset.config_version);
      st.lastHold = null;
      this.emit({
        kind: 'resumed',
        traceId: trace.traceId,
        stationKey: st.stationKey,
        message: `knob event ${reset.id} from "${reset.source ?? 'unknown'}" (config v${reset.config_version}, at ${clockOf(reset.apply_at_bucket_ts)}) resets the halt; optimizing again once it is in force`,
      });
    }
  }

  private async runStation(trace: TraceState, st: StationState, entries: SnapshotEntry[], signal: AbortSignal): Promise<void> {
    const latest = entries[entries.length - 1];
    st.lastBucketMs = Date.parse(latest.bucket_ts);
    const previousConfigVersion = entries.length >= 2 ? entries[entries.length - 2].config_version : st.lastConfigVersion;
    st.lastConfigVersion = latest.config_version;
    // Step 6 of the previous decision comes first: no new step before the last one is verified.
    if (st.phase.kind === 'pending') {
      const change = st.phase.change;
      for (const e of entries) {
        if (Date.parse(e.bucket_ts) < change.applyAtMs) continue;
        const v = verify(change, analyze(e), this.targets, this.bucketMs);
        if (v.status === 'wait') continue;
        if (v.status === 'verified') {
          st.phase = { kind: 'ready' };
          this.emit({ kind: 'verified', traceId: trace.traceId, stationKey: st.stationKey, bucketTs: e.bucket_ts, reason: v.reason, knobs: change.effectiveKnobs, message: `${formatKnobs(change.effectiveKnobs)} verified ${v.reason}` });
        } else {
          const events = await this.client.events(trace.traceId, st.stationKey, signal);
          const afterEventId = events.reduce((m, ev) => Math.max(m, ev.id), 0);
          st.phase = { kind: 'halted', reason: v.reason, afterEventId };
          st.lastHold = 'halted';
          this.emit({
            kind: 'halted',
            traceId: trace.traceId,
            stationKey: st.stationKey,
            bucketTs: e.bucket_ts,
            reason: v.reason,
            knobs: change.effectiveKnobs,
            message: `${formatKnobs(change.effectiveKnobs)} failed verification, station halted: ${v.reason}. Reset: apply any knob change to this station with another source`,
          });
        }
        break;
      }
    }
    if (st.phase.kind !== 'ready') return;
    if (latest.config_version < st.awaitConfigVersion) {
      this.hold(st, 'waiting', latest.bucket_ts, `waiting for config v${st.awaitConfigVersion} to be in force (bucket ${clockOf(latest.bucket_ts)} has v${latest.config_version})`);
      return;
    }

    const before = analyze(latest, previousConfigVersion);
    const d = decide(before, this.targets);
    if (d.kind === 'hold') {
      this.hold(st, d.code, latest.bucket_ts, d.reason);
      return;
    }
    const applyAtMs = (Math.floor(Date.now() / this.bucketMs) + 1) * this.bucketMs;
    const applyAt = new Date(applyAtMs).toISOString();
    try {
      const res = await this.client.applyKnobs(
        { trace_id: trace.traceId, station_key: st.stationKey, apply_at_bucket_ts: applyAt, idempotency_key: randomUUID(), source: this.source, reason: d.reason, knobs: d.knobs },
        signal,
      );
      st.phase = { kind: 'pending', change: { applyAtMs: Date.parse(res.apply_at_bucket_ts), configVersion: res.config_version, effectiveKnobs: res.effective_knobs, expect: d.expect, before } };
      st.lastHold = null;
      this.emit({
        kind: 'decision',
        traceId: trace.traceId,
        stationKey: st.stationKey,
        bucketTs: latest.bucket_ts,
        reason: d.reason,
        knobs: res.effective_knobs,
        applyAtBucketTs: res.apply_at_bucket_ts,
        configVersion: res.config_version,
        message: `bucket ${clockOf(latest.bucket_ts)} → ${formatKnobs(res.effective_knobs)} at ${clockOf(res.apply_at_bucket_ts)} (config v${res.config_version}): ${d.reason}`,
      });
    } catch (err) {
      if (signal.aborted) return;
      const code = err instanceof ApiRequestError || err instanceof OptimizerError ? ` [${err.code}]` : '';
      this.emit({ kind: 'error', traceId: trace.traceId, stationKey: st.stationKey, bucketTs: latest.bucket_ts, reason: d.reason, message: `apply of ${formatKnobs(d.knobs)} at ${clockOf(applyAt)} refused${code}: ${(err as Error).message} (decided: ${d.reason})` });
      if (err instanceof ApiRequestError && err.code === 'station_not_live') trace.stations.delete(st.stationKey);
    }
  }

  private hold(st: StationState, code: StationState['lastHold'], bucketTs: string, reason: string): void {
    if (st.lastHold === code) return;
    st.lastHold = code;
    this.emit({ kind: 'hold', traceId: st.traceId, stationKey: st.stationKey, bucketTs, reason, message: `bucket ${clockOf(bucketTs)}: ${reason}` });
  }

  private emit(e: Omit<LogEntry, 'at'>): void {
    try {
      this.log({ at: new Date().toISOString(), ...e });
    } catch {
      // A logger that throws must not stop the loop.
    }
  }
}
