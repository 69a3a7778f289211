/**
 * Parses live RTP and RTCP from Debian's ffmpeg (`-f rtp`), received on loopback sockets:
 * PCMU at 8 kHz and Opus at 48 kHz, one second each, starting 6 packets before the
 * sequence number wraps.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithout } from '../testing/tool-required.ts';
import { msFromNtp } from './ntp-time.ts';
import { parseCompound } from './rtcp-compound.ts';
import { Goodbye, SenderReport, SourceDescription } from './rtcp-packet.ts';
import { RtpPacket } from './rtp-packet.ts';

const hasFfmpeg = spawnSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore' }).status === 0;
const hasLibopus = hasFfmpeg && /\blibopus\b/.test(spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout ?? '');

const SSRC = 0x12345678;
const FIRST_SEQ = 65530;
const CNAME = 'tapwire-test';

interface Datagram {
  bytes: Uint8Array;
  arrivalMs: number;
}

interface Capture {
  rtp: Datagram[];
  rtcp: Datagram[];
  sdp: string;
}

async function bindPair(): Promise<[dgram.Socket, dgram.Socket]> {
  for (let attempt = 0; ; attempt++) {
    const rtp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => rtp.bind(0, '127.0.0.1', resolve));
    const rtcp = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        rtcp.once('error', reject);
        rtcp.bind(rtp.address().port + 1, '127.0.0.1', resolve);
      });
      return [rtp, rtcp];
    } catch (e) {
      rtp.close();
      rtcp.close();
      if (attempt === 9) throw e;
    }
  }
}

async function capture(dir: string, encoder: string, sampleRateHz: number): Promise<Capture> {
  const [rtpSocket, rtcpSocket] = await bindPair();
  const rtp: Datagram[] = [];
  const rtcp: Datagram[] = [];
  rtpSocket.on('message', (m) => rtp.push({ bytes: new Uint8Array(m), arrivalMs: Date.now() }));
  rtcpSocket.on('message', (m) => rtcp.push({ bytes: new Uint8Array(m), arrivalMs: Date.now() }));
  const sdpFile = join(dir, `${encoder}.sdp`);
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-f', 'lavfi', '-i', `sine=frequency=1000:duration=1:sample_rate=${sampleRateHz}:samples_per_frame=${sampleRateHz / 50}`,
    '-c:a', encoder,
    '-f', 'rtp', '-ssrc', String(SSRC), '-seq', String(FIRST_SEQ), '-cname', CNAME, '-rtpflags', 'send_bye',
    '-sdp_file', sdpFile,
    `rtp://127.0.0.1:${rtpSocket.address().port}`,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 300)); // the last datagrams in flight
  rtpSocket.close();
  rtcpSocket.close();
  if (code !== 0) throw new Error(`ffmpeg ${args.join(' ')} exited with ${code}: ${stderr}`);
  return { rtp, rtcp, sdp: readFileSync(sdpFile, 'utf8') };
}

function sdpPayloadType(sdp: string): number {
  const m = /^m=audio \d+ RTP\/AVP (\d+)$/m.exec(sdp);
  if (!m) throw new Error(`no m=audio line in the SDP:\n${sdp}`);
  return Number(m[1]);
}

function checkStream(c: Capture, expectMarker: boolean): RtpPacket[] {
  expect(c.rtp.length).toBeGreaterThan(40);
  const packets = c.rtp.map((d) => RtpPacket.deSerialize(d.bytes));
  packets.forEach((p, i) => {
    expect(p.serialize()).toEqual(c.rtp[i].bytes);
    expect(p.ssrc).toBe(SSRC);
    expect(p.csrcs).toEqual([]);
    expect(p.extension).toBeUndefined();
    expect(p.paddingBytes).toBe(0);
    expect(p.marker).toBe(expectMarker);
    expect(p.sequenceNumber).toBe((FIRST_SEQ + i) % 65536); // in order on loopback, through the wrap
  });
  return packets;
}

function checkRtcp(c: Capture, packets: RtpPacket[], clockHz: number): void {
  // One SR+SDES before the first RTP packet, one SR+SDES+BYE at the end (send_bye). The
  // two sockets' events may interleave either way, so counts are compared, not arrival order.
  expect(c.rtcp.length).toBe(2);
  const [first, last] = c.rtcp.map((d) => parseCompound(d.bytes));
  expect(first.map((p) => p.packetType)).toEqual([200, 202]);
  expect(last.map((p) => p.packetType)).toEqual([200, 202, 203]);

  const sr0 = first[0] as SenderReport;
  expect([sr0.ssrc, sr0.packetCount, sr0.octetCount]).toEqual([SSRC, 0, 0]);
  // ffmpeg stamps an SR with the RTP time elapsed since its first SR, which went out just
  // before the first packet.
  expect((sr0.rtpTimestamp - packets[0].timestamp) >>> 0).toBeLessThan(clockHz / 2);
  expect((first[1] as SourceDescription).cname(SSRC)).toBe(CNAME);

  const sr = last[0] as SenderReport;
  expect(sr.ssrc).toBe(SSRC);
  expect(sr.packetCount).toBe(packets.length);
  expect(sr.octetCount).toBe(packets.reduce((n, p) => n + p.payload.length, 0));
  for (const [i, compound] of [first, last].entries()) {
    const s = compound[0] as SenderReport;
    expect(Math.abs(msFromNtp(s.ntpHi, s.ntpLo) - c.rtcp[i].arrivalMs)).toBeLessThan(1000);
  }
  // Both SRs map the same instant: RTP time and NTP time advance together (±1 tick).
  const rtpElapsedMs = (((sr.rtpTimestamp - sr0.rtpTimestamp) >>> 0) * 1000) / clockHz;
  const ntpElapsedMs = msFromNtp(sr.ntpHi, sr.ntpLo) - msFromNtp(sr0.ntpHi, sr0.ntpLo);
  // ffmpeg's NTP clock has 1 ms steps (ff_ntp_time), and without -re it may send a second of
  // audio within one of them: the two reports can carry the same time.
  expect(ntpElapsedMs).toBeGreaterThanOrEqual(0);
  expect(Math.abs(rtpElapsedMs - ntpElapsedMs)).toBeLessThan(2000 / clockHz + 0.01);
  expect((last[1] as SourceDescription).cname()).toBe(CNAME);
  expect((last[2] as Goodbye).ssrcs).toEqual([SSRC]);
}

describe.skipIf(skipWithout('ffmpeg', hasFfmpeg))('RTP from ffmpeg', () => {
  let dir: string;
  let pcmu: Capture;
  let opus: Capture | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-rtp-'));
    [pcmu, opus] = await Promise.all([capture(dir, 'pcm_mulaw', 8000), hasLibopus ? capture(dir, 'libopus', 48000) : undefined]);
  }, 30_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('PCMU: static payload type 0, 160 ticks (20 ms at 8 kHz, one byte a tick) a packet, round-trips byte for byte', () => {
    expect(sdpPayloadType(pcmu.sdp)).toBe(0);
    // ffmpeg 5.1 leaves the marker clear on PCMU (RFC 3551 §4.1 makes it optional).
    const packets = checkStream(pcmu, false);
    expect(packets.every((p) => p.payloadType === 0)).toBe(true);
    for (let i = 1; i < packets.length; i++) {
      expect((packets[i].timestamp - packets[i - 1].timestamp) >>> 0).toBe(160);
      expect(packets[i - 1].payload.length).toBe(160);
    }
    // One second at 8000 samples/s, one byte a sample.
    expect(packets.reduce((n, p) => n + p.payload.length, 0)).toBe(8000);
  });

  it('PCMU: the SR counts what arrived and carries the CNAME; BYE at the end', () => {
    checkRtcp(pcmu, pcmu.rtp.map((d) => RtpPacket.deSerialize(d.bytes)), 8000);
  });

  describe.skipIf(skipWithout('ffmpeg with libopus', hasLibopus))('Opus', () => {
    it('dynamic payload type from the SDP, 960 ticks (20 ms at 48 kHz) a packet, round-trips byte for byte', () => {
      const c = opus as Capture;
      const pt = sdpPayloadType(c.sdp);
      expect(pt).toBeGreaterThanOrEqual(96);
      expect(c.sdp).toMatch(new RegExp(`^a=rtpmap:${pt} opus/48000/2$`, 'm'));
      // ffmpeg 5.1 sets the marker on every Opus packet.
      const packets = checkStream(c, true);
      expect(packets.every((p) => p.payloadType === pt)).toBe(true);
      for (let i = 1; i < packets.length; i++) expect((packets[i].timestamp - packets[i - 1].timestamp) >>> 0).toBe(960);
      // Each payload is one Opus packet: TOC config 31 (CELT FB 20 ms), one frame (code 0).
      expect(packets.every((p) => p.payload[0] >> 3 === 31 && (p.payload[0] & 3) === 0)).toBe(true);
    });

    it('the SR counts what arrived and carries the CNAME; BYE at the end', () => {
      const c = opus as Capture;
      checkRtcp(c, c.rtp.map((d) => RtpPacket.deSerialize(d.bytes)), 48000);
    });
  });
});
