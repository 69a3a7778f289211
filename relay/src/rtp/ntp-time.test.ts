import { describe, expect, it } from 'vitest';
import { NTP_UNIX_OFFSET_S, dlsrFromMs, msFromNtp, ntpFromMs, ntpMiddle32, roundTripMs } from './ntp-time.ts';

describe('NTP timestamps', () => {
  it('maps the Unix epoch to 2208988800 s after 1900', () => {
    expect(ntpFromMs(0)).toEqual({ hi: NTP_UNIX_OFFSET_S, lo: 0 });
    expect(msFromNtp(NTP_UNIX_OFFSET_S, 0)).toBe(0);
  });

  it('writes the fraction in 2^-32 s', () => {
    expect(ntpFromMs(1500)).toEqual({ hi: NTP_UNIX_OFFSET_S + 1, lo: 0x80000000 });
    expect(ntpFromMs(250).lo).toBe(0x40000000);
    expect(ntpFromMs(-500)).toEqual({ hi: NTP_UNIX_OFFSET_S - 1, lo: 0x80000000 });
  });

  it('reads the captured ffmpeg SR time (2026-11-30T20:13Z) to the ms and round-trips within a microsecond', () => {
    const ms = msFromNtp(0xeeb85762, 0x5ae147ae);
    expect(new Date(ms).toISOString()).toBe('2026-11-30T20:13:22.355Z');
    const t = 1_796_069_602_355.25;
    const { hi, lo } = ntpFromMs(t);
    expect(Math.abs(msFromNtp(hi, lo) - t)).toBeLessThan(1e-3);
  });

  it('takes the middle 32 bits for LSR (RFC 3550 §6.4.1)', () => {
    expect(ntpMiddle32(0xeeb85762, 0x5ae147ae).toString(16)).toBe('57625ae1');
    expect(ntpMiddle32(0xffffffff, 0xffffffff)).toBe(0xffffffff);
  });

  it('computes DLSR and the round trip of §6.4.1 Figure 2', () => {
    // The RFC's example: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
    // DLSR = 0x0005:4000 (5.250 s) -> 6.125 s round trip.
    expect(dlsrFromMs(5250)).toBe(0x0005_4000);
    expect(roundTripMs(0xb710_8000, 0xb705_2000, 0x0005_4000)).toBe(6125);
    expect(dlsrFromMs(-1)).toBe(0);
  });
});
