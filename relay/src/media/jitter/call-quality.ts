/**
 * A live station's call-quality figures (protocol/api.ts CallQuality), from its jitter
 * buffer and the arrival statistics (transport-quality.ts): counts after WebRTC's inbound
 * RTP stats, and an E-model estimate (protocol/qos.ts, G.107 simplified) whose delay is
 * the relay's own part, the buffer's mean delay. Cumulative since the station started;
 * `since` gives the same figures over an interval (a bucket) from two snapshots.
 */
import type { CallQuality } from '../../../../protocol/api.ts';
import type { BucketQos } from '../../../../protocol/metrics.ts';
import type { IngestCodec } from '../../../../protocol/ingest.ts';
import { burstRatio, emodel, qosLevel } from '../../../../protocol/qos.ts';
import type { JitterClock } from './jitter-clock.ts';

/** The cumulative numbers the figures come from: a snapshot, to difference two of them. */
export interface CallCounts {
  received: number;
  played: number;
  lost: number;
  late: number;
  discarded: number;
  concealedMs: number;
  concealmentEvents: number;
  insertedMs: number;
  removedMs: number;
  /** Sum over played packets of their delay, ms, and of the target at play time. */
  delaySumMs: number;
  lossRuns: number;
  accelerate: number;
  expand: number;
}

export function callCounts(clock: JitterClock): CallCounts {
  const f = clock.buffer.figures();
  const c = clock.buffer.counters;
  return {
    received: c.received,
    played: c.played,
    lost: c.lost,
    late: c.late,
    discarded: f.packetsDiscarded,
    // The buffer's expand and accelerate decisions the clock took without touching the
    // audio (a wait, a packet played anyway) are neither concealment nor removed audio.
    concealedMs: f.concealedMs - clock.expandWaitedMs,
    concealmentEvents: clock.concealmentEvents,
    insertedMs: f.insertedMsForDeceleration - clock.expandWaitedMs,
    removedMs: f.removedMsForAcceleration - clock.acceleratePlayedMs,
    delaySumMs: f.jitterBufferDelayMs,
    lossRuns: clock.lossRuns,
    accelerate: c.accelerate,
    expand: c.preemptiveExpand,
  };
}

/** What happened between two snapshots (`before` null: since the start). */
export function countsSince(now: CallCounts, before: CallCounts | null): CallCounts {
  if (before === null) return { ...now };
  const out = { ...now };
  for (const k of Object.keys(now) as (keyof CallCounts)[]) out[k] = now[k] - before[k];
  return out;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** The figures of `counts`, with the buffer's current target and the arrival jitter. */
export function callQuality(codec: IngestCodec, counts: CallCounts, targetMs: number, jitterMs: number | null): CallQuality {
  const due = counts.played + counts.lost;
  const lossPercent = due > 0 ? (counts.lost / due) * 100 : null;
  const delayMs = counts.played > 0 ? counts.delaySumMs / counts.played : null;
  const burstR = burstRatio(counts.played, counts.lost, counts.lossRuns);
  // A buffer's mean delay can read slightly below 0 when a packet played as it arrived; the model wants ≥ 0.
  const { r, mos } = emodel({ codec, delayMs: delayMs === null ? null : Math.max(0, delayMs), lossPercent: lossPercent ?? 0, burstR });
  return {
    packets_received: counts.received,
    packets_lost: counts.lost,
    loss_percent: lossPercent === null ? null : round2(lossPercent),
    jitter_ms: jitterMs === null ? null : round2(jitterMs),
    packets_late: counts.late,
    packets_discarded: counts.discarded,
    concealed_ms: round2(counts.concealedMs),
    concealment_events: counts.concealmentEvents,
    inserted_ms: round2(counts.insertedMs),
    removed_ms: round2(counts.removedMs),
    accelerate_decisions: counts.accelerate,
    expand_decisions: counts.expand,
    jitter_buffer_delay_ms: delayMs === null ? null : round2(delayMs),
    jitter_buffer_target_ms: round2(targetMs),
    burst_r: round2(burstR),
    r: round2(r),
    mos: round2(mos),
    level: qosLevel({ latencyMs: delayMs, lossPercent, jitterMs, mos }),
  };
}

/** The bucket's share of the figures (protocol/metrics.ts BucketQos). */
export function bucketQos(codec: IngestCodec, counts: CallCounts, targetMs: number, jitterMs: number | null): BucketQos {
  const q = callQuality(codec, counts, targetMs, jitterMs);
  return {
    packets_received: q.packets_received,
    packets_lost: q.packets_lost,
    loss_pct: q.loss_percent,
    jitter_ms: q.jitter_ms,
    late: q.packets_late,
    discarded: q.packets_discarded,
    concealed_ms: q.concealed_ms,
    concealment_events: q.concealment_events,
    jb_delay_ms: q.jitter_buffer_delay_ms,
    jb_target_ms: q.jitter_buffer_target_ms,
    r: q.r,
    mos: q.mos,
    level: q.level,
  };
}
