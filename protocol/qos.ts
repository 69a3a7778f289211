/**
 * Call quality at a glance (seed 004 §8.1, QoSMonitor): a MOS from the simplified E-model
 * (ITU-T G.107 reduced to delay and loss) and three levels from fixed thresholds. Pure
 * functions shared by the relay (which reports the figures) and the monitor (which shows
 * the level); figures a transport cannot measure are null and take no part.
 */

export const QOS_LEVELS = ['GOOD', 'POOR', 'CRITICAL'] as const;
export type QosLevel = (typeof QOS_LEVELS)[number];

/** Seed 004 §8.1's thresholds; a figure must exceed (or, for MOS, fall below) them strictly. */
export const QOS_THRESHOLDS = {
  latencyPoorMs: 150,
  latencyCriticalMs: 300,
  lossPoorPercent: 3,
  lossCriticalPercent: 5,
  jitterPoorMs: 50,
  mosPoor: 3.0,
  mosCritical: 2.0,
} as const;

export interface QosFigures {
  /** One-way mouth-to-ear delay, ms; null where there is no shared clock to measure it. */
  latencyMs: number | null;
  /** Packets lost over the window, percent (0-100). */
  lossPercent: number | null;
  /** Interarrival jitter (RFC 3550 §6.4.1), ms. */
  jitterMs: number | null;
  /** Mean opinion score, 1.0-4.5. */
  mos: number | null;
}

/**
 * MOS from one-way delay (ms) and packet loss (percent), as seed 004 §8.1 computes it:
 * R = 93.2 − Id − Ie with Id = 0 below 150 ms, 0.024·d − 3.6 below 400 ms, else 0.12·d − 48,
 * and Ie = 10 + 30·ln(1 + 5·loss/100); MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R),
 * 1.0 for R < 0 and 4.5 for R > 100, clamped to 1.0-4.5. A null delay (unknown) counts as
 * no delay impairment, so the MOS then says what the loss alone costs (an upper bound).
 * Without loss or delay it is 4.139.
 */
export function mosFromEmodel(delayMs: number | null, lossPercent: number): number {
  if (!Number.isFinite(lossPercent) || lossPercent < 0) throw new RangeError(`lossPercent must be a number ≥ 0, got ${lossPercent}`);
  if (delayMs !== null && (!Number.isFinite(delayMs) || delayMs < 0)) throw new RangeError(`delayMs must be a number ≥ 0 or null, got ${delayMs}`);
  const d = delayMs ?? 0;
  const id = d < 150 ? 0 : d < 400 ? 0.024 * d - 3.6 : 0.12 * d - 48;
  const ie = 10 + 30 * Math.log(1 + (5 * lossPercent) / 100);
  const r = 93.2 - id - ie;
  const mos = r < 0 ? 1 : r > 100 ? 4.5 : 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
  return Math.max(1, Math.min(4.5, mos));
}

/** The level seed 004 §8.1 gives the figures; null figures are ignored (all null: GOOD). */
export function qosLevel(f: QosFigures): QosLevel {
  const t = QOS_THRESHOLDS;
  const over = (v: number | null, limit: number): boolean => v !== null && v > limit;
  const under = (v: number | null, limit: number): boolean => v !== null && v < limit;
  if (over(f.latencyMs, t.latencyCriticalMs) || over(f.lossPercent, t.lossCriticalPercent) || under(f.mos, t.mosCritical)) return 'CRITICAL';
  if (over(f.latencyMs, t.latencyPoorMs) || over(f.lossPercent, t.lossPoorPercent) || over(f.jitterMs, t.jitterPoorMs) || under(f.mos, t.mosPoor)) return 'POOR';
  return 'GOOD';
}

/** How bad a level is, to tell a change for the worse from one for the better. */
export function qosSeverity(level: QosLevel): number {
  return QOS_LEVELS.indexOf(level);
}
