import { describe, expect, it } from 'vitest';
import { deterministicIntervalMs, rtcpIntervalMs, updateAvgRtcpSize, type RtcpIntervalInput } from './rtcp-scheduler.ts';

const receiver: RtcpIntervalInput = {
  members: 2,
  senders: 1,
  sessionBandwidthBytesPerS: 10_000,
  weSent: false,
  avgRtcpSizeBytes: 100,
  initial: false,
  minIntervalMs: 5000,
};
const COMPENSATION = Math.E - 1.5;

describe('RTCP interval (RFC 3550 A.7)', () => {
  it('is the minimum for a two-member session, halved before the first report', () => {
    // 5% of 10 kB/s, and the sender is half the members (> 1/4): all share it. 100 B x 2 / 500 B/s = 0.4 s < 5 s.
    expect(deterministicIntervalMs(receiver)).toBe(5000);
    expect(deterministicIntervalMs({ ...receiver, initial: true })).toBe(2500);
    expect(deterministicIntervalMs({ ...receiver, minIntervalMs: 1000, initial: true })).toBe(500);
  });

  it('grows with the members sharing the bandwidth: receivers take 75% when senders are a quarter or less', () => {
    // 1 sender of 100: receivers share 0.75 x 500 B/s among 99: 99 x 100 / 375 = 26.4 s.
    expect(deterministicIntervalMs({ ...receiver, members: 100 })).toBeCloseTo(26_400, 6);
    // The sender's share: 25% among the senders: 1 x 100 / 125 = 0.8 s, under the minimum.
    expect(deterministicIntervalMs({ ...receiver, members: 100, weSent: true })).toBe(5000);
    // Two senders of 4 members, more than a quarter: all 4 share 500 B/s, 4 x 100 / 500 = 0.8 s.
    expect(deterministicIntervalMs({ ...receiver, members: 4, senders: 2, minIntervalMs: 100 })).toBeCloseTo(800, 6);
  });

  it('draws from [0.5, 1.5] x the interval, over e - 3/2', () => {
    expect(rtcpIntervalMs(receiver, () => 0)).toBeCloseTo((0.5 * 5000) / COMPENSATION, 6);
    expect(rtcpIntervalMs(receiver, () => 0.5)).toBeCloseTo(5000 / COMPENSATION, 6);
    expect(rtcpIntervalMs(receiver, () => 0.999999)).toBeCloseTo((1.499999 * 5000) / COMPENSATION, 3);
  });

  it('averages compound sizes with UDP and IP headers, 1/16 new (§6.3.3)', () => {
    expect(updateAvgRtcpSize(100, 52)).toBeCloseTo((52 + 28) / 16 + (100 * 15) / 16, 9);
    let avg = 0;
    for (let i = 0; i < 200; i++) avg = updateAvgRtcpSize(avg, 52);
    expect(avg).toBeCloseTo(80, 3);
  });
});
