/**
 * Real RTP senders into a real relay: ffmpeg streams a speech-like WAV in real time (`-re`)
 * as PCMU and as Opus to RTP sessions, and ends each with its RTCP BYE. A UDP middlebox in
 * the test forwards both ways between ffmpeg and the relay, so the test sees the relay's
 * receiver reports on their way back to ffmpeg's RTCP port. The stored PRE audio must be
 * the WAV (aligned by cross-correlation).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speechLike, toInt16 } from '../audio/signals.ts';
import { encodeWav } from '../audio/wav.ts';
import { startTestRelay, type TestRelay } from '../testing/harness.ts';
import { skipWithout } from '../testing/tool-required.ts';
import { ntpMiddle32 } from './ntp-time.ts';
import { parseCompound } from './rtcp-compound.ts';
import { ReceiverReport, SenderReport } from './rtcp-packet.ts';
import { RtpPacket } from './rtp-packet.ts';
import { align, http, shifts, stationAudio, TestSocket } from './rtp-test-kit.ts';

const hasFfmpeg = spawnSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore' }).status === 0;
const hasLibopus = hasFfmpeg && /\blibopus\b/.test(spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout ?? '');

const SECONDS = 3.5;
const PORT_BASE = 45000 + 2 * Math.floor(Math.random() * 4000);

interface Run {
  sent: Float32Array;
  session: any;
  /** The relay's RTCP as it reached the middlebox, with the SRs ffmpeg sent before each. */
  reports: { rr: ReceiverReport; atMs: number }[];
  /** The interarrival jitter (RFC 3550 A.8) of the RTP packets as the middlebox saw them, ticks, after each packet. */
  jitterSeen: { atMs: number; jitter: number }[];
  senderReports: SenderReport[];
  audio: { samples: Float32Array; sampleRate: number };
  stats: any;
  /** The session as GET answered it 2 s into the stream. */
  midway: any;
  /** When the first RTP packet reached the middlebox, ms. */
  firstPacketMs: number;
}

/**
 *   ffmpeg ──RTP──► a (port P) ──► relay RTP port        (from a)
 *   ffmpeg ──RTCP─► b (P + 1)  ──► relay RTCP port       (from b)
 *   ffmpeg ◄─────── b ◄──────────── relay RTCP (receiver reports, to the port the SRs came from)
 */
async function stream(t: TestRelay, dir: string, codec: 'pcmu' | 'opus', rate: number, clockRate: number, encoder: string[], urlOptions = ''): Promise<Run> {
  const admin = t.relay.adminToken as string;
  const sent = speechLike(-20, SECONDS, rate, codec === 'pcmu' ? 3 : 4);
  const wav = join(dir, `${codec}.wav`);
  writeFileSync(wav, encodeWav(toInt16(sent), rate));
  const opened = await http(t.httpUrl, admin, 'POST', '/api/rtp/sessions', { codec, station_key: `ffmpeg-${codec}` });
  expect(opened.status, opened.text).toBe(201);
  const session = opened.json;

  const [a, b] = await TestSocket.pair();
  const reports: Run['reports'] = [];
  const senderReports: SenderReport[] = [];
  const jitterSeen: Run['jitterSeen'] = [];
  let ffmpegRtcp: { port: number } | null = null;
  let lastTransit: number | null = null;
  let jitter = 0;
  let firstPacketMs = 0;
  a.socket.on('message', (m) => {
    const arrivalMs = performance.timeOrigin + performance.now();
    if (firstPacketMs === 0) firstPacketMs = arrivalMs;
    a.socket.send(m, session.port, '127.0.0.1');
    // The same A.8 estimate the relay makes, from this side of the link.
    const transit = (arrivalMs * clockRate) / 1000 - RtpPacket.deSerialize(m).timestamp;
    if (lastTransit !== null) jitter += (Math.abs(transit - lastTransit) - jitter) / 16;
    lastTransit = transit;
    jitterSeen.push({ atMs: Date.now(), jitter });
  });
  b.socket.on('message', (m, from) => {
    if (from.port === session.rtcp_port) {
      const first = parseCompound(m)[0];
      if (first instanceof ReceiverReport) reports.push({ rr: first, atMs: Date.now() });
      if (ffmpegRtcp !== null) b.socket.send(m, ffmpegRtcp.port, '127.0.0.1');
      return;
    }
    ffmpegRtcp = { port: from.port };
    const first = parseCompound(m)[0];
    if (first instanceof SenderReport) senderReports.push(first);
    b.socket.send(m, session.rtcp_port, '127.0.0.1');
  });

  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-i', wav, ...encoder, '-f', 'rtp', '-rtpflags', 'send_bye', `rtp://127.0.0.1:${a.port}${urlOptions}`];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const midway = (await http(t.httpUrl, admin, 'GET', `/api/rtp/sessions/${session.session_id}`)).json;
  const code = await exited;
  if (code !== 0) throw new Error(`ffmpeg ${args.join(' ')} exited with ${code}: ${stderr}`);
  // ffmpeg's BYE ends the station; its buckets are then finalized and written.
  const audio = await stationAudio(t.relay, session.trace_id, session.station_key);
  const stats = t.relay.store.getStation(session.trace_id, session.station_key);
  a.close();
  b.close();
  return { sent, session, reports, jitterSeen, senderReports, audio, stats, midway, firstPacketMs };
}

/** The session midway: receiving from one source, and the sender's clock as its SR maps it. */
function checkMidway(run: Run): void {
  const m = run.midway;
  expect(m).toMatchObject({ success: true, state: 'receiving', source: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  expect(m.stats).toMatchObject({ malformed: 0, foreign_source: 0, foreign_ssrc: 0, wrong_payload_type: 0, bad_sequence: 0, too_long: 0, packets_lost: 0 });
  const c = m.stats.sender_clock;
  console.log(`${m.codec}: sender clock ${JSON.stringify(c)}; first packet at the middlebox ${new Date(run.firstPacketMs).toISOString()}`);
  expect(c.reports).toBeGreaterThanOrEqual(1);
  // The same machine's clock, a loopback hop away.
  expect(Math.abs(c.clock_offset_ms)).toBeLessThan(50);
  // ffmpeg's first SR goes out just before its first packet: media time 0 is then, by its clock.
  expect(Math.abs(Date.parse(c.media_origin) - run.firstPacketMs)).toBeLessThan(100);
}

function checkReports(run: Run, ticksPerMs: number): void {
  const { reports } = run;
  console.log(
    `${run.session.codec}: ${reports.length} receiver reports: ` +
      reports.map(({ rr, atMs }) => `seq ${rr.reports[0]?.extendedHighestSeq} lost ${rr.reports[0]?.cumulativeLost} jitter ${((rr.reports[0]?.jitter ?? 0) / ticksPerMs).toFixed(2)} ms (seen ${((run.jitterSeen.filter((j) => j.atMs <= atMs).at(-1)?.jitter ?? 0) / ticksPerMs).toFixed(2)})`).join('; '),
  );
  // 3.5 s at a 1 s minimum: the first within 0.6 s, then one every 0.4-1.2 s.
  expect(reports.length).toBeGreaterThanOrEqual(2);
  let previous = -1;
  for (const { rr, atMs } of reports) {
    expect(rr.reports).toHaveLength(1);
    const b = rr.reports[0];
    expect(b.ssrc).toBe(run.session.ssrc ?? b.ssrc);
    expect(b.fractionLost).toBe(0);
    expect(b.cumulativeLost).toBe(0);
    expect(b.extendedHighestSeq).toBeGreaterThan(previous);
    previous = b.extendedHighestSeq;
    // Jitter as the middlebox measured it by A.8 up to the report (loopback adds next to nothing):
    // ffmpeg -re sends in small bursts, so it is not zero, but it must be the same figure.
    const seen = run.jitterSeen.filter((j) => j.atMs <= atMs).at(-1)?.jitter ?? 0;
    expect(Math.abs(b.jitter - seen) / ticksPerMs).toBeLessThan(Math.max(1, (0.25 * seen) / ticksPerMs));
    expect(b.jitter / ticksPerMs).toBeLessThan(100);
    // ffmpeg's first SR goes out before its first packet: every report answers it.
    const sr = run.senderReports[0];
    expect(b.lsr).toBe(ntpMiddle32(sr.ntpHi, sr.ntpLo));
    expect(b.dlsr).toBeGreaterThan(0);
  }
}

describe.skipIf(skipWithout('ffmpeg', hasFfmpeg))('ffmpeg streaming RTP into a session', () => {
  let t: TestRelay;
  let dir: string;
  let pcmu: Run;
  let opus: Run | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-rtp-ffmpeg-'));
    t = await startTestRelay({ rtpPortMin: PORT_BASE, rtpPortMax: PORT_BASE + 19, rtcpMinIntervalMs: 1000 });
    [pcmu, opus] = await Promise.all([
      // At most 160 bytes a packet, as docs/RTP.md says (ffmpeg would otherwise fill 1460-byte, 182 ms packets).
      stream(t, dir, 'pcmu', 8000, 8000, ['-c:a', 'pcm_mulaw', '-ar', '8000', '-ac', '1'], '?pkt_size=172'),
      hasLibopus ? stream(t, dir, 'opus', 48000, 48000, ['-c:a', 'libopus', '-b:a', '128k', '-ar', '48000', '-ac', '1']) : undefined,
    ]);
  }, 25_000);

  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('PCMU: ffmpeg\'s BYE ends the station; the stored PRE audio is the WAV (r > 0.95), every half second in place', () => {
    expect(pcmu.stats).toMatchObject({ codec: 'pcmu', sample_rate: 8000, end_reason: 'bye' });
    expect(pcmu.audio.sampleRate).toBe(8000);
    const { lag, r } = align(pcmu.sent, pcmu.audio.samples);
    console.log(`pcmu: r = ${r.toFixed(4)} at lag ${lag} samples`);
    expect(r).toBeGreaterThan(0.95);
    expect(shifts(pcmu.sent, pcmu.audio.samples, lag, 8000)).toEqual([]);
  });

  it('PCMU: receiver reports reach ffmpeg\'s RTCP port: nothing lost, the sequence advancing, jitter small, LSR of its SR', () => {
    checkReports(pcmu, 8);
  });

  it('PCMU: midway, one clean source and the sender\'s clock from its SR', () => {
    expect(pcmu.midway.payload_type).toBe(0);
    checkMidway(pcmu);
  });

  describe.skipIf(skipWithout('ffmpeg with libopus', hasLibopus))('Opus', () => {
    it('no payload type named, the first dynamic one taken: the stored PRE audio is the WAV (r > 0.9), every half second in place', () => {
      const run = opus as Run;
      expect(run.stats).toMatchObject({ codec: 'opus', sample_rate: 48000, end_reason: 'bye' });
      expect(run.audio.sampleRate).toBe(48000);
      const { lag, r } = align(run.sent, run.audio.samples);
      console.log(`opus: r = ${r.toFixed(4)} at lag ${lag} samples`);
      // Every half second in place: nothing dropped or inserted along the way (the parts that
      // are noise-like, Opus codes by their spectrum rather than their waveform: r is lower there).
      expect(shifts(run.sent, run.audio.samples, lag, 48000)).toEqual([]);
      expect(r).toBeGreaterThan(0.9);
    });

    it('receiver reports: nothing lost, the sequence advancing, jitter small, LSR of its SR', () => {
      checkReports(opus as Run, 48);
    });

    it('midway: ffmpeg\'s dynamic payload type taken, one clean source, the sender\'s clock from its SR', () => {
      const run = opus as Run;
      expect(run.midway.payload_type).toBeGreaterThanOrEqual(96);
      checkMidway(run);
    });
  });
});
