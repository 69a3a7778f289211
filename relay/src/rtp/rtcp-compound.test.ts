import { describe, expect, it } from 'vitest';
import { RtpParseError } from './errors.ts';
import { parseCompound, serializeCompound } from './rtcp-compound.ts';
import { Goodbye, ReceiverReport, SenderReport, SourceDescription, UnknownRtcp } from './rtcp-packet.ts';
import { ReportBlock } from './rtcp-report-block.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function codeOf(buf: Uint8Array): string {
  try {
    parseCompound(buf);
  } catch (e) {
    if (e instanceof RtpParseError) return e.code;
    throw e;
  }
  return 'none';
}

// Captured from ffmpeg 5.1 (`-f rtp -rtpflags send_bye -cname tapwire-test`): the SR+SDES it
// sends before the first RTP packet, and the SR+SDES+BYE it sends when the stream ends.
const FFMPEG_FIRST = hex('80c80006 6d2aac72 eeb85762 5a9fbe76 fffdee7a 00000000 00000000 81ca0005 6d2aac72 010c7461 70776972 652d7465 73740000');
const FFMPEG_LAST = hex(
  '80c80006 6d2aac72 eeb85762 5ae147ae fffdee82 0000002d 00001f40 81ca0005 6d2aac72 010c7461 70776972 652d7465 73740000 81cb0001 6d2aac72',
);

describe('compound RTCP', () => {
  it('splits ffmpeg datagrams and rebuilds them byte for byte', () => {
    const first = parseCompound(FFMPEG_FIRST);
    expect(first.map((p) => p.constructor.name)).toEqual(['SenderReport', 'SourceDescription']);
    expect((first[1] as SourceDescription).cname()).toBe('tapwire-test');
    const last = parseCompound(FFMPEG_LAST);
    expect(last.map((p) => p.packetType)).toEqual([200, 202, 203]);
    expect((last[0] as SenderReport).packetCount).toBe(45);
    expect((last[2] as Goodbye).ssrcs).toEqual([0x6d2aac72]);
    expect(serializeCompound(first)).toEqual(FFMPEG_FIRST);
    expect(serializeCompound(last)).toEqual(FFMPEG_LAST);
  });

  it('round-trips built SR, RR, SDES, BYE and unknown packets', () => {
    const rb = new ReportBlock({ ssrc: 5, fractionLost: 255, cumulativeLost: -3, extendedHighestSeq: 0x2_fffe, jitter: 1, lsr: 2, dlsr: 3 });
    const packets = [
      new SenderReport(1, 0xeeb85762, 0x80000000, 160, 10, 1600, [rb]),
      new ReceiverReport(1, [rb, rb]),
      SourceDescription.withCname(1, 'relay@tapwire'),
      new UnknownRtcp(205, 1, hex('00000001 00000005')),
      new Goodbye([1], 'bye', 8),
    ];
    const bytes = serializeCompound(packets);
    const back = parseCompound(bytes);
    expect(back.map((p) => p.packetType)).toEqual([200, 201, 202, 205, 203]);
    expect((back[1] as ReceiverReport).reports[1]).toEqual(rb);
    expect((back[4] as Goodbye).reason).toBe('bye');
    expect(back[4].paddingBytes).toBe(8);
    expect(serializeCompound(back)).toEqual(bytes);
  });

  it('refuses a compound that starts with anything but SR or RR', () => {
    expect(codeOf(hex('81ca0005 6d2aac72 010c7461 70776972 652d7465 73740000'))).toBe('bad_compound');
    expect(() => serializeCompound([new Goodbye([1])])).toThrow(TypeError);
    expect(() => serializeCompound([])).toThrow(TypeError);
  });

  it('refuses padding anywhere but the last packet', () => {
    const padded = new ReceiverReport(1, [], undefined, 4).serialize();
    const bye = new Goodbye([1]).serialize();
    const buf = new Uint8Array(padded.length + bye.length);
    buf.set(padded);
    buf.set(bye, padded.length);
    expect(codeOf(buf)).toBe('bad_compound');
    expect(() => serializeCompound([new ReceiverReport(1, [], undefined, 4), new Goodbye([1])])).toThrow(/only the last/);
    expect(parseCompound(serializeCompound([new ReceiverReport(1), new Goodbye([1], undefined, 4)]))).toHaveLength(2);
  });

  it('refuses lengths that do not add up to the datagram', () => {
    expect(codeOf(FFMPEG_LAST.subarray(0, FFMPEG_LAST.length - 4))).toBe('bad_length'); // BYE's length overruns
    const extra = new Uint8Array(FFMPEG_FIRST.length + 2);
    extra.set(FFMPEG_FIRST);
    expect(codeOf(extra)).toBe('bad_length'); // 2 stray bytes after the last packet
    expect(codeOf(new Uint8Array(3))).toBe('too_short');
  });

  it('refuses a later packet with the wrong version', () => {
    const bad = FFMPEG_LAST.slice();
    bad[FFMPEG_LAST.length - 8] = 0x41; // the BYE's first byte: V=1
    expect(codeOf(bad)).toBe('bad_version');
  });
});
