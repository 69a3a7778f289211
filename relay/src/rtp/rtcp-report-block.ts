/**
 * A reception report block (RFC 3550 §6.4.1), 24 bytes, carried in SR and RR packets:
 *
 *   SSRC_n (32) | fraction lost (8) | cumulative number of packets lost (24, signed)
 *   extended highest sequence number received (32) | interarrival jitter (32)
 *   last SR (LSR, 32) | delay since last SR (DLSR, 32)
 */

export const REPORT_BLOCK_BYTES = 24;

export interface ReportBlockInit {
  ssrc: number;
  /** Fraction of packets lost since the last report, in units of 1/256 (§6.4.1, A.3). */
  fractionLost: number;
  /** Packets expected minus received since the start; negative when duplicates outnumber losses. 24-bit signed. */
  cumulativeLost: number;
  /** Cycles in the top 16 bits, highest sequence number in the low 16 (A.1). */
  extendedHighestSeq: number;
  /** Interarrival jitter in timestamp units (§6.4.1, A.8). */
  jitter: number;
  /** Middle 32 bits of the last SR's NTP timestamp; 0 when none was received. */
  lsr: number;
  /** Delay since that SR in 1/65536 s; 0 when none was received. */
  dlsr: number;
}

export class ReportBlock implements ReportBlockInit {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  extendedHighestSeq: number;
  jitter: number;
  lsr: number;
  dlsr: number;

  constructor(init: ReportBlockInit) {
    this.ssrc = init.ssrc;
    this.fractionLost = init.fractionLost;
    this.cumulativeLost = init.cumulativeLost;
    this.extendedHighestSeq = init.extendedHighestSeq;
    this.jitter = init.jitter;
    this.lsr = init.lsr;
    this.dlsr = init.dlsr;
  }

  /** Reads the block at view[offset]; the caller has checked that 24 bytes are there. */
  static deSerialize(view: DataView, offset: number): ReportBlock {
    const lost24 = view.getUint32(offset + 4) & 0xffffff;
    return new ReportBlock({
      ssrc: view.getUint32(offset),
      fractionLost: view.getUint8(offset + 4),
      cumulativeLost: lost24 & 0x800000 ? lost24 - 0x1000000 : lost24,
      extendedHighestSeq: view.getUint32(offset + 8),
      jitter: view.getUint32(offset + 12),
      lsr: view.getUint32(offset + 16),
      dlsr: view.getUint32(offset + 20),
    });
  }

  /**
   * Writes the block at view[offset]. cumulativeLost is clamped to the 24-bit signed range
   * (RFC 3550 §6.4.1 leaves overflow to the sender; clamping keeps the sign right).
   */
  serializeInto(view: DataView, offset: number): void {
    if (!Number.isInteger(this.fractionLost) || this.fractionLost < 0 || this.fractionLost > 255) {
      throw new TypeError(`fractionLost must be in [0, 255] (1/256 units), got ${this.fractionLost}`);
    }
    const lost = Math.max(-0x800000, Math.min(0x7fffff, Math.trunc(this.cumulativeLost)));
    view.setUint32(offset, this.ssrc >>> 0);
    view.setUint32(offset + 4, ((this.fractionLost << 24) | (lost & 0xffffff)) >>> 0);
    view.setUint32(offset + 8, this.extendedHighestSeq >>> 0);
    view.setUint32(offset + 12, this.jitter >>> 0);
    view.setUint32(offset + 16, this.lsr >>> 0);
    view.setUint32(offset + 20, this.dlsr >>> 0);
  }
}
