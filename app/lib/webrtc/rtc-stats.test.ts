import { describe, expect, it } from 'vitest';
import { intervalLoss, playoutStats, powerDbfs, type ReceiverReport, type SenderReport } from './rtc-stats.ts';

const sent = (timestamp: number, packetsSent: number, packetsLost: number, fractionLost?: number): SenderReport => ({ timestamp, packetsSent, packetsLost, fractionLost });

describe('intervalLoss (remote-inbound-rtp)', () => {
  it('is null before any receiver report and when no new report came in', () => {
    expect(intervalLoss(null, null)).toBeNull();
    const a = sent(1000, 50, 0, 0);
    expect(intervalLoss(a, { ...a, packetsSent: 100 })).toBeNull();
  });

  it("takes the report's fraction for its interval", () => {
    expect(intervalLoss(null, sent(1000, 50, 0, 0.04))).toBeCloseTo(0.04);
    expect(intervalLoss(sent(1000, 50, 0, 0), sent(2000, 100, 0, 0.1))).toBeCloseTo(0.1);
  });

  it('takes the growth of the cumulative count over the packets sent when that is larger (reports missed between readings)', () => {
    // 5 lost of 50 sent = 10 %, while the last report alone said 2 %.
    expect(intervalLoss(sent(1000, 50, 0, 0), sent(2000, 100, 5, 0.02))).toBeCloseTo(0.1);
  });

  it('ignores a count that went down (duplicates) and stays within 0-1', () => {
    expect(intervalLoss(sent(1000, 50, 5, 0), sent(2000, 100, 3, 0))).toBe(0);
    expect(intervalLoss(sent(1000, 50, 0, 0), sent(2000, 51, 10, 0))).toBe(1);
  });
});

const base: ReceiverReport = {
  timestamp: 0,
  packetsReceived: 0,
  packetsLost: 0,
  jitter: 0,
  jitterBufferDelay: 0,
  jitterBufferEmittedCount: 0,
  jitterBufferTargetDelay: 0,
  concealedSamples: 0,
  totalSamplesReceived: 0,
  totalAudioEnergy: 0,
  totalSamplesDuration: 0,
  audioLevel: 0,
  bytesReceived: 0,
};

describe('playoutStats (inbound-rtp)', () => {
  it('computes the mean jitter buffer delay, loss, jitter, energy and bitrate over an interval', () => {
    const a = { ...base, timestamp: 1000, packetsReceived: 50, jitterBufferDelay: 48 * 0.05, jitterBufferEmittedCount: 48_000, totalSamplesDuration: 1, totalAudioEnergy: 0.001, totalSamplesReceived: 48_000, bytesReceived: 4000 };
    // One second later: 48,000 more samples that spent 60 ms each; 2 of 50 packets lost;
    // the second's energy is 0.0316² (-30 dBFS) over 1 s.
    const b = { ...a, timestamp: 2000, packetsReceived: 98, packetsLost: 2, jitter: 0.004, jitterBufferDelay: a.jitterBufferDelay + 48_000 * 0.06, jitterBufferEmittedCount: 96_000, totalSamplesDuration: 2, totalAudioEnergy: 0.001 + 0.001, totalSamplesReceived: 96_000, concealedSamples: 960, bytesReceived: 8000 };
    const p = playoutStats(a, b);
    expect(p.jitterBufferMs).toBeCloseTo(60);
    expect(p.lossFraction).toBeCloseTo(0.04);
    expect(p.packetsLost).toBe(2);
    expect(p.jitterMs).toBeCloseTo(4);
    expect(p.concealedFraction).toBeCloseTo(0.01);
    expect(p.energyDbfs).toBeCloseTo(-30, 1);
    expect(p.bitrateBps).toBeCloseTo(32_000);
  });

  it('gives nulls where nothing happened yet', () => {
    const p = playoutStats(null, base);
    expect(p).toMatchObject({ jitterBufferMs: null, lossFraction: null, energyDbfs: null, bitrateBps: null, concealedFraction: 0 });
  });

  it('floors silence at -120 dBFS', () => {
    expect(powerDbfs(0)).toBe(-120);
    expect(powerDbfs(1)).toBe(0);
  });
});
