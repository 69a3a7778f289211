/**
 * Sequence number extension and validation for one source, and the loss figures of its
 * reception reports: RFC 3550 Appendix A.1 (update_seq, init_seq) and A.3 (expected, lost,
 * fraction lost), kept pure so a socket wrapper can feed it.
 *
 * A source is valid once MIN_SEQUENTIAL packets arrived in sequence (probation). After that
 * a jump forward of less than MAX_DROPOUT counts as loss, a jump back of less than
 * MAX_MISORDER as a late or duplicate packet; anything else is a "bad" sequence number,
 * and if the very next packet follows it, the source is taken to have restarted.
 */

const RTP_SEQ_MOD = 1 << 16;
export const MIN_SEQUENTIAL = 2;
export const MAX_DROPOUT = 3000;
export const MAX_MISORDER = 100;

export type SequenceVerdict =
  /** Counted: in order, after a gap, or a late packet within MAX_MISORDER. */
  | 'accepted'
  /** Still in probation; not counted (A.1: the caller may hold the packet). */
  | 'probation'
  /** A large jump or a very late packet; dropped unless the next packet confirms a restart. */
  | 'bad';

export interface LossReport {
  /** Packets lost since the previous report over those expected, in 1/256 units (A.3). */
  fractionLost: number;
  /** Expected minus received since the start; negative with duplicates. Clamped to 24-bit signed. */
  cumulativeLost: number;
  /** Cycles << 16 | highest sequence number. */
  extendedHighestSeq: number;
}

export class SequenceTracker {
  /** Highest sequence number seen (max_seq). */
  private maxSeq = 0;
  /** Shifted count of wraps: a multiple of 2^16 (cycles). */
  private cycles = 0;
  /** Sequence number of the packet that ended probation or confirmed a restart (base_seq). */
  private baseSeq = 0;
  /** The sequence number that would confirm a restart (bad_seq); outside 16 bits when none. */
  private badSeq = RTP_SEQ_MOD + 1;
  private probation: number;
  private received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private started = false;

  constructor(private readonly minSequential = MIN_SEQUENTIAL) {
    this.probation = minSequential;
  }

  /** True once probation is over. */
  get valid(): boolean {
    return this.started && this.probation === 0;
  }

  /** Packets counted (A.1 `received`), duplicates included. */
  get receivedPackets(): number {
    return this.received;
  }

  /** Cycles << 16 | max_seq (A.3 extended_max). */
  get extendedHighestSeq(): number {
    return this.cycles + this.maxSeq;
  }

  /** extended_max - base_seq + 1 (A.3); 0 before the first packet. */
  get expectedPackets(): number {
    return this.started ? this.extendedHighestSeq - this.baseSeq + 1 : 0;
  }

  /** expected - received since the start (A.3 `lost`), unclamped. */
  get cumulativeLost(): number {
    return this.expectedPackets - this.received;
  }

  private initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = RTP_SEQ_MOD + 1;
    this.cycles = 0;
    this.received = 0;
    this.receivedPrior = 0;
    this.expectedPrior = 0;
  }

  /** Feeds one packet's 16-bit sequence number (A.1 update_seq). */
  update(seq: number): SequenceVerdict {
    seq &= 0xffff;
    if (!this.started) {
      // A.1: "init_seq(s, seq); s->max_seq = seq - 1; s->probation = MIN_SEQUENTIAL;"
      this.started = true;
      this.initSeq(seq);
      this.maxSeq = (seq - 1) & 0xffff;
      this.probation = this.minSequential;
    }
    const udelta = (seq - this.maxSeq + RTP_SEQ_MOD) % RTP_SEQ_MOD;
    if (this.probation > 0) {
      if (seq === ((this.maxSeq + 1) & 0xffff)) {
        this.probation--;
        this.maxSeq = seq;
        if (this.probation === 0) {
          this.initSeq(seq);
          this.received++;
          return 'accepted';
        }
      } else {
        this.probation = this.minSequential - 1;
        this.maxSeq = seq;
      }
      return 'probation';
    }
    if (udelta < MAX_DROPOUT) {
      if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD; // wrapped
      this.maxSeq = seq;
    } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
      // A very large jump: a restart if the next packet follows this one.
      if (seq === this.badSeq) {
        this.initSeq(seq);
      } else {
        this.badSeq = (seq + 1) & 0xffff;
        return 'bad';
      }
    }
    // else: duplicate or reordered within MAX_MISORDER
    this.received++;
    return 'accepted';
  }

  /**
   * The loss figures for a reception report, and the start of the next interval (A.3):
   * fraction = (expected_interval - received_interval) << 8 / expected_interval, 0 when
   * nothing was lost (or more arrived than expected, duplicates).
   */
  report(): LossReport {
    const expected = this.expectedPackets;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    // 256 would be "all of them" but the field has 8 bits: everything lost reads 255/256.
    const fractionLost = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    const lost = this.cumulativeLost;
    return {
      fractionLost,
      cumulativeLost: Math.max(-0x800000, Math.min(0x7fffff, lost)),
      extendedHighestSeq: this.extendedHighestSeq >>> 0,
    };
  }
}
