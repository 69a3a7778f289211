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

// ---------------------------------------------------------------------------------------
// The E-model of ITU-T G.107 (06/2015), simplified to what a receiver can know: delay,
// codec, and loss with its burstiness. R = 93.2 − Idd − Ie,eff, with every other parameter
// at its G.107 default (93.2 is R0 − Is there; the echo terms Idte and Idle are near zero at
// the default TELR and are left out).

/**
 * Equipment impairment Ie and packet-loss robustness Bpl of each ingest codec, on the
 * narrowband scale (ITU-T G.113 Appendix I):
 * - G.711 (pcmu, pcma) with packet loss concealment after G.711 Appendix I: Ie 0, Bpl 25.1
 *   (without concealment Bpl would be 4.3). The relay conceals G.711 that way.
 * - Linear PCM: no coding impairment, the same concealment: rated as G.711 (Ie 0, Bpl 25.1).
 * - G.722 at 64 kbit/s is a wideband codec, rated by G.113 on the wideband scale only; on
 *   the narrowband scale it is taken as no worse than G.711 with the same concealment
 *   (Ie 0, Bpl 25.1). An approximation.
 * - Opus has no G.113 value. At the speech bitrates the relay receives (24 kbit/s and up)
 *   listening tests rate it at least as good as G.711, and it conceals with its own PLC
 *   (and in-band FEC, not credited here): it is taken as Ie 0, Bpl 25.1. An approximation,
 *   on the pessimistic side for loss when the sender uses FEC.
 */
export const CODEC_IMPAIRMENT: Readonly<Record<'opus' | 'pcmu' | 'pcma' | 'g722' | 'pcm16', { ie: number; bpl: number }>> = {
  pcmu: { ie: 0, bpl: 25.1 },
  pcma: { ie: 0, bpl: 25.1 },
  pcm16: { ie: 0, bpl: 25.1 },
  g722: { ie: 0, bpl: 25.1 },
  opus: { ie: 0, bpl: 25.1 },
};

/** R of a connection with every G.107 parameter at its default. */
export const R_DEFAULT = 93.2;

/**
 * Delay impairment Idd of a one-way (absolute) delay Ta, ms (G.107 §7.5, mT 100 ms, sT 1):
 * 0 up to 100 ms, then 25·((1 + X⁶)^⅙ − 3·(1 + (X/3)⁶)^⅙ + 2) with X = log2(Ta/100).
 */
export function delayImpairment(delayMs: number): number {
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError(`delayMs must be a number ≥ 0, got ${delayMs}`);
  if (delayMs <= 100) return 0;
  const x = Math.log2(delayMs / 100);
  return 25 * ((1 + x ** 6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2);
}

/** Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl/BurstR + Bpl) (G.107 §7.4), Ppl in percent. */
export function effectiveEquipmentImpairment(ie: number, bpl: number, lossPercent: number, burstR: number): number {
  if (!Number.isFinite(lossPercent) || lossPercent < 0 || lossPercent > 100) throw new RangeError(`lossPercent must be 0-100, got ${lossPercent}`);
  if (!Number.isFinite(burstR) || burstR <= 0) throw new RangeError(`burstR must be a number > 0, got ${burstR}`);
  return ie + ((95 - ie) * lossPercent) / (lossPercent / burstR + bpl);
}

/**
 * BurstR from what a receiver saw (G.107 §7.4, a two-state Markov model of loss): p, the
 * chance a packet is lost after a received one, is taken as loss runs over packets
 * received; q, the chance one is received after a lost one, as loss runs over packets
 * lost; BurstR = 1/(p + q). Random loss gives 1, bursty loss more. No loss: 1.
 */
export function burstRatio(received: number, lost: number, lossRuns: number): number {
  if (lost <= 0 || lossRuns <= 0 || received <= 0) return 1;
  const p = lossRuns / received;
  const q = lossRuns / lost;
  return 1 / (p + q);
}

/** MOS from R (G.107 Annex B): 1 below 0, 4.5 above 100, 1 + 0.035R + R(R − 60)(100 − R)·7·10⁻⁶ between. */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

export interface EmodelInput {
  codec: keyof typeof CODEC_IMPAIRMENT;
  /** One-way delay, ms; null when unknown (counted as no delay impairment). */
  delayMs: number | null;
  /** Packets lost, percent. */
  lossPercent: number;
  /** Burstiness of the loss (burstRatio); 1 for random loss. */
  burstR: number;
}

/** The E-model's R and MOS for a connection (G.107 simplified as above). */
export function emodel(input: EmodelInput): { r: number; mos: number } {
  const { ie, bpl } = CODEC_IMPAIRMENT[input.codec];
  const r = R_DEFAULT - (input.delayMs === null ? 0 : delayImpairment(input.delayMs)) - effectiveEquipmentImpairment(ie, bpl, input.lossPercent, input.burstR);
  return { r, mos: mosFromR(r) };
}
