/**
 * Figures from `RTCPeerConnection.getStats()` (W3C webrtc-stats), as plain functions over
 * the reports so they are tested without a browser:
 * - the sender's loss over the last interval, from `remote-inbound-rtp` (what the relay's
 *   RTCP receiver reports say, RFC 3550 §6.4.1), which drives the adaptive bitrate;
 * - a receiver's playout figures from `inbound-rtp`: jitter buffer delay, loss, jitter,
 *   concealment and the received audio's energy.
 */

/** The fields of `remote-inbound-rtp` (and of its sender's `outbound-rtp`) used here. */
export interface SenderReport {
  /** When the relay's last receiver report arrived, ms (the report's `timestamp`). */
  timestamp: number;
  /** Cumulative packets lost, as the receiver report says (may go down with duplicates). */
  packetsLost: number;
  /** The receiver report's loss fraction since its previous report, 0-1. */
  fractionLost?: number;
  /** `outbound-rtp` packetsSent at the time of reading. */
  packetsSent: number;
  /** Round trip from RTCP, s. */
  roundTripTime?: number;
}

/** Picks the audio sender's report out of a getStats() result; null before the first RTCP receiver report. */
export function senderReport(stats: RTCStatsReport): SenderReport | null {
  let remote: Record<string, unknown> | null = null;
  let packetsSent = 0;
  stats.forEach((s: Record<string, unknown>) => {
    if (s.kind !== 'audio' && s.mediaType !== 'audio') return;
    if (s.type === 'remote-inbound-rtp') remote = s;
    else if (s.type === 'outbound-rtp') packetsSent = Number(s.packetsSent ?? 0);
  });
  if (remote === null) return null;
  const r = remote as Record<string, unknown>;
  return {
    timestamp: Number(r.timestamp),
    packetsLost: Number(r.packetsLost ?? 0),
    fractionLost: typeof r.fractionLost === 'number' ? r.fractionLost : undefined,
    packetsSent,
    roundTripTime: typeof r.roundTripTime === 'number' ? r.roundTripTime : undefined,
  };
}

/**
 * The share of packets lost since `prev`, 0-1; null when no new receiver report came in
 * between (nothing new is known). The report's own fraction covers exactly its interval; the
 * growth of the cumulative count over the packets sent meanwhile covers reports missed
 * between two readings. The larger of the two is taken: a receiver's fraction can read low
 * (the relay's read 3.5 % with one packet in five dropped), while the count, whose two
 * terms are taken at different moments, errs by up to one report interval either way (it
 * read 30 % there). For a decision between "under 2 %", "2-5 %" and "over 5 %" that is
 * enough.
 */
export function intervalLoss(prev: SenderReport | null, cur: SenderReport | null): number | null {
  if (cur === null) return null;
  if (prev !== null && cur.timestamp <= prev.timestamp) return null;
  const fraction = cur.fractionLost ?? 0;
  if (prev === null) return clamp01(fraction);
  const sent = cur.packetsSent - prev.packetsSent;
  const lost = cur.packetsLost - prev.packetsLost;
  const byCount = sent > 0 && lost > 0 ? lost / sent : 0;
  return clamp01(Math.max(fraction, byCount));
}

/** The fields of a receiver's audio `inbound-rtp` used here (cumulative counters). */
export interface ReceiverReport {
  timestamp: number;
  packetsReceived: number;
  packetsLost: number;
  /** Interarrival jitter, s (RFC 3550 §6.4.1). */
  jitter: number;
  /** Sum over emitted samples of the time each spent in the jitter buffer, s. */
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  jitterBufferTargetDelay: number;
  concealedSamples: number;
  totalSamplesReceived: number;
  /** Sum of (level²·duration) of the received audio; with totalSamplesDuration, its mean power. */
  totalAudioEnergy: number;
  totalSamplesDuration: number;
  /** Level of the latest received audio, 0-1 linear. */
  audioLevel: number;
  bytesReceived: number;
}

export function receiverReport(stats: RTCStatsReport): ReceiverReport | null {
  let found: ReceiverReport | null = null;
  stats.forEach((s: Record<string, unknown>) => {
    if (s.type !== 'inbound-rtp' || (s.kind !== 'audio' && s.mediaType !== 'audio')) return;
    const n = (k: string): number => (typeof s[k] === 'number' ? (s[k] as number) : 0);
    found = {
      timestamp: n('timestamp'),
      packetsReceived: n('packetsReceived'),
      packetsLost: n('packetsLost'),
      jitter: n('jitter'),
      jitterBufferDelay: n('jitterBufferDelay'),
      jitterBufferEmittedCount: n('jitterBufferEmittedCount'),
      jitterBufferTargetDelay: n('jitterBufferTargetDelay'),
      concealedSamples: n('concealedSamples'),
      totalSamplesReceived: n('totalSamplesReceived'),
      totalAudioEnergy: n('totalAudioEnergy'),
      totalSamplesDuration: n('totalSamplesDuration'),
      audioLevel: n('audioLevel'),
      bytesReceived: n('bytesReceived'),
    };
  });
  return found;
}

export interface PlayoutStats {
  /** Mean time a sample spent in the jitter buffer over the last interval (all since the start when there is no interval), ms. */
  jitterBufferMs: number | null;
  /** Loss over the last interval, 0-1; null when nothing was expected. */
  lossFraction: number | null;
  packetsLost: number;
  jitterMs: number;
  /** Share of the samples since the start that were concealment, 0-1. */
  concealedFraction: number;
  /** Mean power of the received audio over the last interval, dBFS (-120 floor); null before any audio. */
  energyDbfs: number | null;
  /** Received bitrate over the last interval, bits/s. */
  bitrateBps: number | null;
}

/** Playout figures from two readings of the same inbound-rtp (prev null: since the start). */
export function playoutStats(prev: ReceiverReport | null, cur: ReceiverReport): PlayoutStats {
  const d = (k: keyof ReceiverReport): number => cur[k] - (prev?.[k] ?? 0);
  const emitted = d('jitterBufferEmittedCount');
  const expected = d('packetsReceived') + d('packetsLost');
  const duration = d('totalSamplesDuration');
  const seconds = prev !== null ? (cur.timestamp - prev.timestamp) / 1000 : 0;
  return {
    jitterBufferMs: emitted > 0 ? (d('jitterBufferDelay') / emitted) * 1000 : null,
    lossFraction: expected > 0 ? clamp01(d('packetsLost') / expected) : null,
    packetsLost: cur.packetsLost,
    jitterMs: cur.jitter * 1000,
    concealedFraction: cur.totalSamplesReceived > 0 ? clamp01(cur.concealedSamples / cur.totalSamplesReceived) : 0,
    energyDbfs: duration > 0 ? powerDbfs(d('totalAudioEnergy') / duration) : null,
    bitrateBps: seconds > 0 ? (d('bytesReceived') * 8) / seconds : null,
  };
}

/** A mean power (level², level 0-1 full scale) in dBFS, floor -120. */
export function powerDbfs(power: number): number {
  return power > 1e-12 ? 10 * Math.log10(power) : -120;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
