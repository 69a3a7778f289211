import { describe, expect, it } from 'vitest';
import { RtpParseError } from './errors.ts';
import { Goodbye, ReceiverReport, SDES_ITEM, SenderReport, SourceDescription, UnknownRtcp, deSerializeRtcp } from './rtcp-packet.ts';
import { ReportBlock } from './rtcp-report-block.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof RtpParseError) return e.code;
    throw e;
  }
  return 'none';
}

const block = (over: Partial<ConstructorParameters<typeof ReportBlock>[0]> = {}) =>
  new ReportBlock({ ssrc: 0x11223344, fractionLost: 51, cumulativeLost: 2, extendedHighestSeq: 0x1_0005, jitter: 37, lsr: 0x5762_5a9f, dlsr: 0x8000, ...over });

describe('SenderReport', () => {
  // ffmpeg 5.1's SR at the end of a one-second PCMU stream: 45 packets, 8000 octets.
  const FFMPEG_SR = hex('80c80006 6d2aac72 eeb85762 5ae147ae fffdee82 0000002d 00001f40');

  it('reads a captured ffmpeg SR', () => {
    const sr = SenderReport.deSerialize(FFMPEG_SR);
    expect(sr).toMatchObject({ ssrc: 0x6d2aac72, ntpHi: 0xeeb85762, ntpLo: 0x5ae147ae, rtpTimestamp: 0xfffdee82, packetCount: 45, octetCount: 8000, reports: [] });
    expect(sr.extension.length).toBe(0);
    expect(sr.serialize()).toEqual(FFMPEG_SR);
  });

  it('round-trips report blocks, a profile extension and padding', () => {
    const sr = new SenderReport(1, 2, 3, 4, 5, 6, [block(), block({ ssrc: 9, cumulativeLost: -1 })], hex('cafebabe'), 4);
    const bytes = sr.serialize();
    expect(bytes.length).toBe(4 + 24 + 48 + 4 + 4);
    expect(bytes[0]).toBe(0xa2); // V=2, P, RC=2
    expect((bytes[2] << 8) | bytes[3]).toBe(bytes.length / 4 - 1);
    const back = SenderReport.deSerialize(bytes);
    expect(back.reports).toEqual(sr.reports);
    expect(toHex(back.extension)).toBe('cafebabe');
    expect(back.paddingBytes).toBe(4);
    expect(back.serialize()).toEqual(bytes);
  });

  it('refuses an SR too short for its report count', () => {
    expect(codeOf(() => SenderReport.deSerialize(hex('81c80006 00000001 00000000 00000000 00000000 00000000 00000000')))).toBe('bad_length');
  });
});

describe('ReportBlock', () => {
  it('keeps cumulativeLost as 24-bit signed, and clamps when building', () => {
    const rr = new ReceiverReport(7, [block({ cumulativeLost: -1 }), block({ cumulativeLost: -0x800000 }), block({ cumulativeLost: 0x7fffff }), block({ cumulativeLost: 1e9 })]);
    const bytes = rr.serialize();
    // fraction 51 (0x33) then the 24-bit field, in each block's second word.
    expect(toHex(bytes.subarray(12, 16))).toBe('33ffffff');
    expect(toHex(bytes.subarray(36, 40))).toBe('33800000');
    expect(toHex(bytes.subarray(60, 64))).toBe('337fffff');
    expect(toHex(bytes.subarray(84, 88))).toBe('337fffff');
    expect(ReceiverReport.deSerialize(bytes).reports.map((b) => b.cumulativeLost)).toEqual([-1, -0x800000, 0x7fffff, 0x7fffff]);
  });

  it('refuses a fraction outside 8 bits', () => {
    expect(() => new ReceiverReport(7, [block({ fractionLost: 256 })]).serialize()).toThrow(/fractionLost/);
  });
});

describe('ReceiverReport', () => {
  it('reads every field of a hand-written RR', () => {
    const rr = ReceiverReport.deSerialize(hex('81c90007 00000007 11223344 33000002 00010005 00000025 57625a9f 00008000'));
    expect(rr.ssrc).toBe(7);
    expect(rr.reports).toEqual([block()]);
  });

  it('parses an empty RR (RC=0)', () => {
    expect(ReceiverReport.deSerialize(hex('80c90001 00000007')).reports).toEqual([]);
  });
});

describe('SourceDescription', () => {
  it('reads the CNAME ffmpeg sends', () => {
    const sdes = SourceDescription.deSerialize(hex('81ca0005 6d2aac72 010c7461 70776972 652d7465 73740000'));
    expect(sdes.cname()).toBe('tapwire-test');
    expect(sdes.cname(0x6d2aac72)).toBe('tapwire-test');
    expect(sdes.cname(1)).toBeUndefined();
  });

  it('keeps other items and several chunks, each null-terminated to 32 bits', () => {
    const sdes = new SourceDescription([
      { ssrc: 1, items: [{ type: SDES_ITEM.CNAME, data: new TextEncoder().encode('a@b') }, { type: SDES_ITEM.TOOL, data: new TextEncoder().encode('tapwire') }] },
      { ssrc: 2, items: [] },
      { ssrc: 3, items: [{ type: SDES_ITEM.NOTE, data: new Uint8Array(0) }] },
    ]);
    const bytes = sdes.serialize();
    // chunk 1: 4 + (2+3) + (2+7) = 18 -> 20; chunk 2: 4 + END -> 8; chunk 3: 4 + 2 + END -> 8
    expect(bytes.length).toBe(4 + 20 + 8 + 8);
    expect(toHex(bytes.subarray(24, 32))).toBe('0000000200000000');
    const back = SourceDescription.deSerialize(bytes);
    expect(back.chunks.map((c) => [c.ssrc, c.items.map((i) => [i.type, new TextDecoder().decode(i.data)])])).toEqual([
      [1, [[1, 'a@b'], [6, 'tapwire']]],
      [2, []],
      [3, [[7, '']]],
    ]);
    expect(back.serialize()).toEqual(bytes);
  });

  it('builds the one-chunk CNAME packet', () => {
    expect(toHex(SourceDescription.withCname(0x6d2aac72, 'tapwire-test').serialize())).toBe('81ca00056d2aac72010c746170776972652d746573740000');
  });

  it('refuses a chunk without END and an item overrunning the packet', () => {
    expect(codeOf(() => SourceDescription.deSerialize(hex('81ca0002 00000001 01026162')))).toBe('bad_length');
    expect(codeOf(() => SourceDescription.deSerialize(hex('81ca0002 00000001 01096162')))).toBe('bad_length');
    expect(codeOf(() => SourceDescription.deSerialize(hex('82ca0002 00000001 00000000')))).toBe('bad_length');
  });
});

describe('Goodbye', () => {
  it('reads the BYE ffmpeg sends (no reason)', () => {
    const bye = Goodbye.deSerialize(hex('81cb0001 6d2aac72'));
    expect(bye.ssrcs).toEqual([0x6d2aac72]);
    expect(bye.reason).toBeUndefined();
  });

  it('round-trips several SSRCs and a reason padded to 32 bits', () => {
    const bytes = new Goodbye([1, 2], 'camera unplugged').serialize();
    expect(bytes.length).toBe(4 + 8 + 20); // 1 + 16 bytes of reason -> 20
    expect(bytes[0]).toBe(0x82);
    expect(Goodbye.deSerialize(bytes)).toMatchObject({ ssrcs: [1, 2], reason: 'camera unplugged' });
    expect(Goodbye.deSerialize(bytes).serialize()).toEqual(bytes);
  });

  it('refuses a reason longer than the packet', () => {
    expect(codeOf(() => Goodbye.deSerialize(hex('81cb0002 00000001 09616263')))).toBe('bad_length');
  });
});

describe('single packets', () => {
  it('keeps unknown types raw (an APP packet, PT 204)', () => {
    const bytes = hex('81cc0003 00000001 74657374 deadbeef');
    const p = deSerializeRtcp(bytes);
    expect(p).toBeInstanceOf(UnknownRtcp);
    expect(p).toMatchObject({ packetType: 204, count: 1 });
    expect(p.serialize()).toEqual(bytes);
  });

  it.each([
    ['too_short', '80c9'],
    ['bad_version', '40c90001 00000007'],
    ['bad_length', '80c90002 00000007'],
    ['bad_padding', 'a0c90001 00000000'],
    ['bad_padding', 'a0c90001 00000009'],
  ])('refuses %s: %s', (code, bytes) => {
    expect(codeOf(() => deSerializeRtcp(hex(bytes)))).toBe(code);
  });
});
