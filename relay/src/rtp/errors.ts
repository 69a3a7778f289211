/**
 * The one error class of RTP and RTCP parsing. Each refusal has a stable `code` for callers
 * and counters, and a message saying what was wrong and what was expected.
 */

export type RtpParseErrorCode =
  /** Fewer bytes than the fixed header (or a declared length) needs. */
  | 'too_short'
  /** Version field other than 2 (RFC 3550 §5.1). */
  | 'bad_version'
  /** Padding bit set with a zero count, or a count larger than what follows the header (§5.1). */
  | 'bad_padding'
  /** Header extension longer than the packet, or an RFC 8285 element overrunning its block. */
  | 'bad_extension'
  /** CSRC count says more identifiers than the packet holds (§5.1, CC). */
  | 'csrc_overflow'
  /** An RTCP length field that does not fit the datagram, or a body too short for its type (§6.4). */
  | 'bad_length'
  /** A compound RTCP packet breaking a §6.1 rule (first not SR/RR, padding before the last, ...). */
  | 'bad_compound';

export class RtpParseError extends Error {
  constructor(
    readonly code: RtpParseErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RtpParseError';
  }
}
