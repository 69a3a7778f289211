/**
 * When to send the next RTCP report: RFC 3550 §6.3 and the `rtcp_interval` of Appendix A.7.
 *
 * The relay is a receiver in a two-member session (the sender and itself). RTCP gets 5% of
 * the session bandwidth, of which receivers share 75% when senders are a quarter or less of
 * the members, else all members share all of it; the deterministic interval is the average
 * compound size times the members sharing, over that bandwidth, but never less than the
 * minimum (5 s in the RFC, halved before the first report). The interval is then drawn
 * uniformly from [0.5, 1.5] times that and divided by e - 3/2, which compensates the timer
 * reconsideration's bias (§6.3.1). Reconsideration itself changes nothing with a fixed
 * membership of two, so it is left out.
 */

/** e - 3/2: the compensation of §6.3.1 / A.7. */
const COMPENSATION = Math.E - 1.5;
/** Fraction of the session bandwidth RTCP takes (§6.2). */
const RTCP_FRACTION = 0.05;
/** IPv4 + UDP header bytes counted in the average RTCP size (§6.3.1). */
export const UDP_IP_OVERHEAD_BYTES = 28;

export interface RtcpIntervalInput {
  members: number;
  senders: number;
  /** Session bandwidth, bytes/s (the media stream's, headers included). */
  sessionBandwidthBytesPerS: number;
  weSent: boolean;
  /** Average compound RTCP size, bytes, UDP/IP included. */
  avgRtcpSizeBytes: number;
  /** True until the first report has been sent: the minimum is halved. */
  initial: boolean;
  /** T_min, ms (§6.2: 5 s). */
  minIntervalMs: number;
}

/** The deterministic interval of A.7 before randomization, ms. */
export function deterministicIntervalMs(i: RtcpIntervalInput): number {
  const tMin = i.initial ? i.minIntervalMs / 2 : i.minIntervalMs;
  let rtcpBw = i.sessionBandwidthBytesPerS * RTCP_FRACTION;
  let n = i.members;
  const senderShare = 0.25;
  if (i.senders <= i.members * senderShare) {
    if (i.weSent) {
      rtcpBw *= senderShare;
      n = i.senders;
    } else {
      rtcpBw *= 1 - senderShare;
      n -= i.senders;
    }
  }
  const t = (i.avgRtcpSizeBytes * n) / rtcpBw;
  return Math.max(t * 1000, tMin);
}

/** One draw of the interval to the next report (A.7 `rtcp_interval`), ms. */
export function rtcpIntervalMs(i: RtcpIntervalInput, random: () => number = Math.random): number {
  return (deterministicIntervalMs(i) * (random() + 0.5)) / COMPENSATION;
}

/** The running average of compound RTCP sizes (§6.3.3: avg_rtcp_size = 1/16 new + 15/16 old). */
export function updateAvgRtcpSize(avg: number, packetBytes: number): number {
  return (packetBytes + UDP_IP_OVERHEAD_BYTES) / 16 + (avg * 15) / 16;
}
