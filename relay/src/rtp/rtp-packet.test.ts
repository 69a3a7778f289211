import { describe, expect, it } from 'vitest';
import { RtpParseError } from './errors.ts';
import { RtpPacket } from './rtp-packet.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// The first 16 bytes of a PCMU packet from ffmpeg 5.1 (`-f rtp -seq 65530`), and an Opus one.
const FFMPEG_PCMU_HEAD = hex('8000fffa fffdee7a 6d2aac72 d6b9afb8');
const FFMPEG_OPUS_HEAD = hex('80e1fffa df42de89 8718fe4d f89ef311');

function parseError(buf: Uint8Array): RtpParseError {
  try {
    RtpPacket.deSerialize(buf);
  } catch (e) {
    if (e instanceof RtpParseError) return e;
    throw e;
  }
  throw new Error('expected an RtpParseError');
}

describe('RtpPacket', () => {
  it('reads the fixed header of captured ffmpeg packets', () => {
    const pcmu = RtpPacket.deSerialize(FFMPEG_PCMU_HEAD);
    expect(pcmu).toMatchObject({ marker: false, payloadType: 0, sequenceNumber: 0xfffa, timestamp: 0xfffdee7a, ssrc: 0x6d2aac72, csrcs: [], extension: undefined, paddingBytes: 0 });
    expect([...pcmu.payload]).toEqual([0xd6, 0xb9, 0xaf, 0xb8]);
    const opus = RtpPacket.deSerialize(FFMPEG_OPUS_HEAD);
    expect(opus).toMatchObject({ marker: true, payloadType: 97, sequenceNumber: 0xfffa, timestamp: 0xdf42de89, ssrc: 0x8718fe4d });
  });

  it('returns the payload as a view into the input, not a copy', () => {
    const p = RtpPacket.deSerialize(FFMPEG_PCMU_HEAD);
    expect(p.payload.buffer).toBe(FFMPEG_PCMU_HEAD.buffer);
    expect(p.payload.byteOffset).toBe(12);
  });

  it('round-trips CSRCs, an extension and padding byte for byte', () => {
    const built = new RtpPacket({
      marker: true,
      payloadType: 111,
      sequenceNumber: 65535,
      timestamp: 0xffffffff,
      ssrc: 0xdeadbeef,
      csrcs: [1, 0x80000000],
      extension: { profile: 0xbede, data: hex('10ff 2201 0203 0000') },
      payload: hex('0102030405'),
      paddingBytes: 3,
    });
    const bytes = built.serialize();
    expect(bytes.length).toBe(12 + 8 + 4 + 8 + 5 + 3);
    expect(Buffer.from(bytes).toString('hex')).toBe(
      'b2ef' + 'ffff' + 'ffffffff' + 'deadbeef' + '00000001' + '80000000' + 'bede0002' + '10ff220102030000' + '0102030405' + '000003',
    );
    const parsed = RtpPacket.deSerialize(bytes);
    expect(parsed).toMatchObject({ marker: true, payloadType: 111, sequenceNumber: 65535, timestamp: 0xffffffff, ssrc: 0xdeadbeef, csrcs: [1, 0x80000000], paddingBytes: 3 });
    expect([...parsed.payload]).toEqual([1, 2, 3, 4, 5]);
    expect(parsed.headerExtensions().map((e) => [e.id, [...e.data]])).toEqual([
      [1, [0xff]],
      [2, [0x01, 0x02, 0x03]],
    ]);
    expect(parsed.serialize()).toEqual(bytes);
  });

  it('accepts an empty payload and a packet that is all padding after the header', () => {
    const p = RtpPacket.deSerialize(hex('a0000001 00000002 00000003 00000004'));
    expect(p.payload.length).toBe(0);
    expect(p.paddingBytes).toBe(4);
  });

  it.each([
    ['too_short', '80000001 00000002 000000', /11 bytes; the fixed header needs 12/],
    ['bad_version', '40000001 00000002 00000003', /version is 1; expected 2/],
    ['bad_version', '00000001 00000002 00000003', /version is 0/],
    ['csrc_overflow', '82000001 00000002 00000003 00000004', /CSRC count 2 needs 20 header bytes; the packet has 16/],
    ['bad_extension', '90000001 00000002 00000003 bede', /extension header needs 4/],
    ['bad_extension', '90000001 00000002 00000003 bede0002 00000000', /declares 8 bytes; only 4 follow/],
    ['bad_padding', 'a0000001 00000002 00000003 aabbcc00', /padding count is 0; expected 1 to 4/],
    ['bad_padding', 'a0000001 00000002 00000003 aabbcc05', /padding count is 5; expected 1 to 4/],
  ])('refuses %s: %s', (code, bytes, message) => {
    const e = parseError(hex(bytes));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });

  it('refuses to serialize fields out of range', () => {
    const base = { payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: new Uint8Array(0) };
    expect(() => new RtpPacket({ ...base, payloadType: 128 }).serialize()).toThrow(/payloadType/);
    expect(() => new RtpPacket({ ...base, csrcs: new Array(16).fill(1) }).serialize()).toThrow(/15 CSRCs/);
    expect(() => new RtpPacket({ ...base, paddingBytes: 256 }).serialize()).toThrow(/paddingBytes/);
  });

  it('writes sequence numbers and timestamps modulo 2^16 and 2^32', () => {
    const p = RtpPacket.deSerialize(new RtpPacket({ payloadType: 0, sequenceNumber: 65536 + 7, timestamp: 2 ** 32 + 9, ssrc: -1, payload: new Uint8Array(0) }).serialize());
    expect([p.sequenceNumber, p.timestamp, p.ssrc]).toEqual([7, 9, 0xffffffff]);
  });
});
