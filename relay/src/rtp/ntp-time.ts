/**
 * 64-bit NTP timestamps as RTCP carries them (RFC 3550 §4): seconds since 1900-01-01 UTC in
 * the high word, a binary fraction of a second in the low word. The era wraps in 2036; the
 * high word is taken modulo 2^32 and read back into the era that contains 1970 to 2106.
 */

/** Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_32 = 2 ** 32;

export interface NtpTimestamp {
  /** Whole seconds since the NTP epoch, modulo 2^32. */
  hi: number;
  /** Fraction of a second in units of 2^-32 s. */
  lo: number;
}

/** The NTP timestamp of a Unix time in ms (e.g. Date.now()), rounded to the nearest 2^-32 s. */
export function ntpFromMs(unixMs: number): NtpTimestamp {
  const seconds = Math.floor(unixMs / 1000);
  let lo = Math.round(((unixMs - seconds * 1000) / 1000) * TWO_32);
  let hi = seconds + NTP_UNIX_OFFSET_S;
  if (lo >= TWO_32) {
    lo -= TWO_32;
    hi += 1;
  }
  return { hi: hi % TWO_32 >>> 0, lo: lo >>> 0 };
}

/** The Unix time in ms of an NTP timestamp (fractional ms kept). */
export function msFromNtp(hi: number, lo: number): number {
  return (hi - NTP_UNIX_OFFSET_S) * 1000 + (lo / TWO_32) * 1000;
}

/**
 * The middle 32 bits of an NTP timestamp: 16 bits of seconds, 16 of fraction. This is what
 * a receiver puts in a report block's LSR field for the last SR it got (RFC 3550 §6.4.1).
 */
export function ntpMiddle32(hi: number, lo: number): number {
  return (((hi & 0xffff) << 16) | (lo >>> 16)) >>> 0;
}

/**
 * DLSR, the delay since the last SR in units of 1/65536 s (§6.4.1), from a delay in ms;
 * clamped to the 32-bit field.
 */
export function dlsrFromMs(delayMs: number): number {
  return Math.min(0xffffffff, Math.max(0, Math.round((delayMs * 65536) / 1000)));
}

/**
 * Round-trip time in ms as a sender computes it from a report block (§6.4.1, Figure 2):
 * A - LSR - DLSR, where A is the middle 32 bits of the NTP time the block arrived, all in
 * 1/65536 s modulo 2^32.
 */
export function roundTripMs(arrivalMiddle32: number, lsr: number, dlsr: number): number {
  return ((((arrivalMiddle32 - lsr - dlsr) % TWO_32) + TWO_32) % TWO_32) * (1000 / 65536);
}
