/**
 * One RTP session: a UDP socket for RTP on an even port and one for RTCP on the next
 * (RFC 3550 §11), feeding one station. RTP packets go into the station's handle in arrival
 * order, exactly as WebSocket frames do: their RTP timestamps become media milliseconds and
 * their sequence numbers pass through; reordering, loss and timing are the station's to
 * handle.
 *
 * The first packet locks the session to its source: its address and port, and its SSRC.
 * Datagrams from anywhere else, packets of another SSRC or payload type, and datagrams that
 * are not RTP are counted and dropped; nothing a sender sends can throw out of here.
 *
 * RTCP (RFC 3550 §6): sender reports give the sender's NTP/RTP clock pair, kept for the
 * stats and for the LSR/DLSR of our reports. Our receiver reports (one report block: loss
 * by A.3, jitter by A.8) go with an SDES CNAME, at the interval of A.7 (rtcp-scheduler.ts),
 * to the port the sender's RTCP comes from, or before any, to its RTP port plus one. A BYE
 * from the sender ends the session and its station; closing the session ourselves sends
 * our BYE.
 */
import type { Socket, RemoteInfo } from 'node:dgram';
import { CODEC_IDS } from '../../../protocol/frame.ts';
import type { RtpCodec, RtpSessionInfo, RtpSessionStats } from '../../../protocol/rtp.ts';
import type { IngestCounters } from '../ingest/ingest-counters.ts';
import type { LiveRegistry, LiveStation } from '../live/live-registry.ts';
import type { StationHandle } from '../media/station-handle.ts';
import { dlsrFromMs, msFromNtp, ntpMiddle32 } from './ntp-time.ts';
import { parseCompound, serializeCompound } from './rtcp-compound.ts';
import { Goodbye, ReceiverReport, SenderReport, SourceDescription } from './rtcp-packet.ts';
import { ReportBlock } from './rtcp-report-block.ts';
import { rtcpIntervalMs, updateAvgRtcpSize } from './rtcp-scheduler.ts';
import { RtpPacket } from './rtp-packet.ts';
import { SequenceTracker } from './sequence.ts';

/**
 * The longest G.711 or G.722 payload taken: 120 ms (960 bytes at 8 bytes a ms), the longest
 * frame the station decodes (an Opus packet's maximum, RFC 6716 §3.2.5). ffmpeg fills PCM
 * packets up to its packet size unless told otherwise (docs/RTP.md).
 */
const MAX_SAMPLE_PAYLOAD_BYTES = 960;

/** Session bandwidth assumed for the RTCP interval: 64 kbit/s of audio plus headers, bytes/s. */
const SESSION_BANDWIDTH_BYTES_PER_S = 10_000;

export interface RtpSessionOptions {
  id: string;
  /** Address the sockets are bound to, as the sender should be told. */
  host: string;
  rtp: Socket;
  rtcp: Socket;
  codec: RtpCodec;
  /** null: the first dynamic payload type to arrive (Opus without one named). */
  payloadType: number | null;
  clockRate: number;
  ptimeMs: number | null;
  station: LiveStation;
  registry: LiveRegistry;
  counters: IngestCounters;
  startTimeoutMs: number;
  idleTimeoutMs: number;
  rtcpMinIntervalMs: number;
  /** Told once the session has closed, with why. */
  onClosed: (session: RtpSession, reason: string) => void;
  random?: () => number;
}

interface ClockPair {
  ntpMs: number;
  rtpTimestamp: number;
  arrivalMs: number;
}

interface Source {
  address: string;
  port: number;
  ssrc: number;
}

export class RtpSession {
  readonly id: string;
  readonly createdAtMs = Date.now();
  readonly port: number;
  readonly rtcpPort: number;
  private readonly o: RtpSessionOptions;
  /** Our SSRC in the RTCP we send (§8.1: random). */
  private readonly ssrc: number;
  private readonly cname: string;
  private payloadType: number | null;
  private source: Source | null = null;
  /** Where our RTCP goes once the sender's RTCP has been heard (§6: its source port). */
  private rtcpPeer: { address: string; port: number } | null = null;
  private readonly seq = new SequenceTracker();
  private handle: StationHandle | null = null;
  private closeReason: string | null = null;
  private lastHeardMs = 0;

  /** RTP timestamp of the first packet: media time 0. */
  private firstTimestamp = 0;
  /** The newest packet's timestamp, and its distance from the first (unwrapped, in RTP ticks). */
  private lastTimestamp = 0;
  private lastExtended = 0;
  /** A.8: previous transit time, and the jitter estimate, both in RTP ticks. */
  private lastTransit: number | null = null;
  private jitter = 0;

  private firstSr: ClockPair | null = null;
  private lastSr: (ClockPair & { ssrc: number; lsr: number }) | null = null;
  private senderReports = 0;

  /** Average compound RTCP size with UDP/IP, bytes (§6.3.2: start from the likely size of our first). */
  private avgRtcpSize = 100;
  private reportTimer: NodeJS.Timeout | null = null;
  private initialReport = true;

  private readonly stats = {
    packets_received: 0,
    bytes_received: 0,
    malformed: 0,
    foreign_source: 0,
    foreign_ssrc: 0,
    wrong_payload_type: 0,
    bad_sequence: 0,
    too_long: 0,
    rtcp_received: 0,
    rtcp_malformed: 0,
    receiver_reports_sent: 0,
  };

  constructor(o: RtpSessionOptions) {
    this.o = o;
    this.id = o.id;
    this.port = o.rtp.address().port;
    this.rtcpPort = o.rtcp.address().port;
    this.payloadType = o.payloadType;
    const random = o.random ?? Math.random;
    this.ssrc = Math.floor(random() * 0x1_0000_0000) >>> 0;
    this.cname = `tapwire-${o.id}@${o.host}`;
    o.rtp.on('message', (msg, rinfo) => this.onRtp(msg, rinfo));
    o.rtcp.on('message', (msg, rinfo) => this.onRtcp(msg, rinfo));
    // A send refused (no route, the sender gone): nothing to do but keep going.
    o.rtp.on('error', () => undefined);
    o.rtcp.on('error', () => undefined);
  }

  get station(): LiveStation {
    return this.o.station;
  }

  get closed(): boolean {
    return this.closeReason !== null;
  }

  private onRtp(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    const arrivalMs = performance.timeOrigin + performance.now();
    if (this.source !== null && (rinfo.address !== this.source.address || rinfo.port !== this.source.port)) {
      this.stats.foreign_source++;
      return;
    }
    let packet: RtpPacket;
    try {
      packet = RtpPacket.deSerialize(msg);
    } catch {
      // RtpParseError says what was wrong; whatever a datagram holds, it never throws out of here.
      this.stats.malformed++;
      this.o.counters.protocolErrors++;
      return;
    }
    if (this.source !== null && packet.ssrc !== this.source.ssrc) {
      this.stats.foreign_ssrc++;
      return;
    }
    if (!this.acceptsPayloadType(packet.payloadType)) {
      this.stats.wrong_payload_type++;
      this.o.counters.protocolErrors++;
      return;
    }
    if (this.source === null) this.lock(packet, rinfo);
    this.lastHeardMs = Date.now();
    if (this.o.codec !== 'opus' && packet.payload.length > MAX_SAMPLE_PAYLOAD_BYTES) {
      this.stats.too_long++;
      this.o.counters.protocolErrors++;
      return;
    }
    if (this.seq.update(packet.sequenceNumber) === 'bad') {
      this.stats.bad_sequence++;
      return;
    }
    const ticks = this.extend(packet.timestamp);
    this.updateJitter(ticks, arrivalMs);
    this.feed(packet, ticks, arrivalMs);
  }

  private acceptsPayloadType(pt: number): boolean {
    if (this.payloadType !== null) return pt === this.payloadType;
    if (pt < 96 || pt > 127) return false;
    this.payloadType = pt;
    return true;
  }

  private lock(packet: RtpPacket, rinfo: RemoteInfo): void {
    this.source = { address: rinfo.address, port: rinfo.port, ssrc: packet.ssrc };
    this.firstTimestamp = packet.timestamp;
    this.lastTimestamp = packet.timestamp;
    this.lastExtended = 0;
    this.scheduleReport();
  }

  /** The packet's RTP time relative to the first packet's, unwrapped across 2^32. */
  private extend(timestamp: number): number {
    const delta = (timestamp - this.lastTimestamp) | 0;
    const extended = this.lastExtended + delta;
    if (delta > 0) {
      this.lastTimestamp = timestamp;
      this.lastExtended = extended;
    }
    return extended;
  }

  /** A.8: J += (|D(i-1, i)| - J) / 16, with arrival times in RTP ticks. */
  private updateJitter(ticks: number, arrivalMs: number): void {
    const transit = (arrivalMs * this.o.clockRate) / 1000 - ticks;
    if (this.lastTransit !== null) {
      const d = Math.abs(transit - this.lastTransit);
      this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
  }

  private feed(packet: RtpPacket, ticks: number, arrivalMs: number): void {
    const station = this.o.station;
    if (station.ended) {
      this.close('station_ended');
      return;
    }
    const now = Date.now();
    station.lastAudioMs = now;
    this.handle ??= this.attach(this.o.registry.materialize(station, now));
    // A copy of its own: the parsed payload is a view into the datagram, and the handle keeps
    // what it is given until its batch goes to the worker.
    const payload = new Uint8Array(packet.payload);
    // Media milliseconds from the first packet (G.722's 8 kHz RTP clock included: 8 ticks a ms).
    const mediaMs = Math.floor((ticks * 1000) / this.o.clockRate);
    this.stats.packets_received++;
    this.stats.bytes_received += payload.length;
    this.o.counters.framesReceived++;
    this.o.counters.bytesReceived += payload.length;
    this.handle.push(mediaMs >>> 0, packet.sequenceNumber, CODEC_IDS[this.o.codec], 0, arrivalMs, payload);
  }

  private attach(handle: StationHandle): StationHandle {
    handle.on('decodeError', () => this.o.counters.decodeErrors++);
    handle.on('lost', () => this.close('media_worker_failed'));
    return handle;
  }

  private onRtcp(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    // Before the first RTP packet, RTCP from anywhere may be the sender's (ffmpeg sends an SR first).
    if (this.source !== null && rinfo.address !== this.source.address) {
      this.stats.foreign_source++;
      return;
    }
    let packets;
    try {
      packets = parseCompound(msg);
    } catch {
      this.stats.rtcp_malformed++;
      return;
    }
    const arrivalMs = Date.now();
    this.stats.rtcp_received++;
    this.avgRtcpSize = updateAvgRtcpSize(this.avgRtcpSize, msg.length);
    let bye = false;
    for (const p of packets) {
      if (p instanceof SenderReport) this.onSenderReport(p, arrivalMs);
      else if (p instanceof Goodbye && this.source !== null && p.ssrcs.includes(this.source.ssrc)) bye = true;
    }
    if (this.source !== null) {
      this.lastHeardMs = arrivalMs;
      this.rtcpPeer = { address: rinfo.address, port: rinfo.port };
    }
    if (bye) this.close('bye', false);
  }

  private onSenderReport(sr: SenderReport, arrivalMs: number): void {
    if (this.source !== null && sr.ssrc !== this.source.ssrc) {
      this.stats.foreign_ssrc++;
      return;
    }
    const pair = { ntpMs: msFromNtp(sr.ntpHi, sr.ntpLo), rtpTimestamp: sr.rtpTimestamp, arrivalMs };
    if (this.lastSr === null || this.lastSr.ssrc !== sr.ssrc) {
      this.firstSr = pair;
      this.senderReports = 0;
    }
    this.senderReports++;
    this.lastSr = { ...pair, ssrc: sr.ssrc, lsr: ntpMiddle32(sr.ntpHi, sr.ntpLo) };
  }

  private scheduleReport(): void {
    if (this.closed) return;
    const delay = rtcpIntervalMs(
      {
        members: 2,
        senders: 1,
        sessionBandwidthBytesPerS: SESSION_BANDWIDTH_BYTES_PER_S,
        weSent: false,
        avgRtcpSizeBytes: this.avgRtcpSize,
        initial: this.initialReport,
        minIntervalMs: this.o.rtcpMinIntervalMs,
      },
      this.o.random,
    );
    this.reportTimer = setTimeout(() => {
      this.reportTimer = null;
      this.initialReport = false;
      this.sendReport(false);
      this.scheduleReport();
    }, delay);
    this.reportTimer.unref();
  }

  /** Our report block about the sender (§6.4.2), or none while it is not yet valid (A.1 probation). */
  private reportBlock(nowMs: number): ReportBlock[] {
    if (this.source === null || !this.seq.valid) return [];
    const loss = this.seq.report();
    const sr = this.lastSr !== null && this.lastSr.ssrc === this.source.ssrc ? this.lastSr : null;
    return [
      new ReportBlock({
        ssrc: this.source.ssrc,
        fractionLost: loss.fractionLost,
        cumulativeLost: loss.cumulativeLost,
        extendedHighestSeq: loss.extendedHighestSeq,
        jitter: Math.floor(this.jitter) >>> 0,
        lsr: sr?.lsr ?? 0,
        dlsr: sr === null ? 0 : dlsrFromMs(nowMs - sr.arrivalMs),
      }),
    ];
  }

  /**
   * RR + SDES CNAME (+ BYE): every compound carries a CNAME (§6.1). `sent` runs once the
   * datagram has left (or at once when there is nothing to send).
   */
  private sendReport(withBye: boolean, sent: () => void = () => undefined): void {
    if (this.source === null) {
      sent();
      return;
    }
    const dest = this.rtcpPeer ?? { address: this.source.address, port: this.source.port + 1 };
    const packets = [new ReceiverReport(this.ssrc, this.reportBlock(Date.now())), SourceDescription.withCname(this.ssrc, this.cname)] as (ReceiverReport | SourceDescription | Goodbye)[];
    if (withBye) packets.push(new Goodbye([this.ssrc], 'session closed'));
    let buf: Uint8Array;
    try {
      buf = serializeCompound(packets);
    } catch {
      // A field out of range must not take the relay down from a timer: this report is skipped.
      sent();
      return;
    }
    this.avgRtcpSize = updateAvgRtcpSize(this.avgRtcpSize, buf.length);
    this.stats.receiver_reports_sent++;
    try {
      this.o.rtcp.send(buf, dest.port, dest.address, () => sent());
    } catch {
      // A socket closing under us: the report is simply not sent.
      sent();
    }
  }

  /** Closes the no-show and the quiet: true when it closed the session. */
  checkTimeouts(nowMs: number): boolean {
    if (this.closed) return false;
    if (this.source === null) {
      if (nowMs - this.createdAtMs <= this.o.startTimeoutMs) return false;
      this.close('start_timeout');
      return true;
    }
    if (nowMs - this.lastHeardMs <= this.o.idleTimeoutMs) return false;
    this.close('idle');
    return true;
  }

  /**
   * Ends the station and frees the ports. `sayBye`: send our BYE first (not when the sender
   * has just said its own). Safe to call twice.
   */
  close(reason: string, sayBye = true): void {
    if (this.closed) return;
    this.closeReason = reason;
    if (this.reportTimer !== null) clearTimeout(this.reportTimer);
    this.o.registry.end(this.o.station, reason, Date.now());
    this.o.rtp.close();
    // The RTCP socket closes once our BYE has left: closing it at once could drop the datagram.
    const closeRtcp = (): void => {
      try {
        this.o.rtcp.close();
      } catch {
        // already closed
      }
    };
    if (sayBye) this.sendReport(true, closeRtcp);
    else closeRtcp();
    this.o.onClosed(this, reason);
  }

  info(): RtpSessionInfo {
    const s = this.o.station;
    return {
      session_id: this.id,
      state: this.closed ? 'closed' : this.source === null ? 'waiting' : 'receiving',
      host: this.o.host,
      port: this.port,
      rtcp_port: this.rtcpPort,
      trace_id: s.traceId,
      station_key: s.stationKey,
      stream_id: s.streamId,
      mix_stream_id: s.mixStreamId,
      codec: this.o.codec,
      payload_type: this.payloadType,
      clock_rate: this.o.clockRate,
      sample_rate: s.sampleRate,
      ptime_ms: this.o.ptimeMs,
      ssrc: this.source?.ssrc ?? null,
      source: this.source === null ? null : `${this.source.address}:${this.source.port}`,
      created_at: new Date(this.createdAtMs).toISOString(),
      close_reason: this.closeReason,
      stats: this.statsJson(),
    };
  }

  private statsJson(): RtpSessionStats {
    return {
      ...this.stats,
      packets_lost: this.seq.cumulativeLost,
      extended_highest_seq: this.seq.extendedHighestSeq >>> 0,
      jitter_ms: (this.jitter * 1000) / this.o.clockRate,
      sender_clock: this.senderClock(),
    };
  }

  /** The sender's wall clock against its RTP clock, from its sender reports. */
  private senderClock(): RtpSessionStats['sender_clock'] {
    const sr = this.lastSr;
    // Reports of another SSRC than the stream's say nothing about its clock.
    if (sr === null || (this.source !== null && sr.ssrc !== this.source.ssrc)) return null;
    const rate = this.o.clockRate;
    // RTP ticks of the report after the first packet (before it: negative), as media ms.
    const mediaMsAtReport = (((sr.rtpTimestamp - this.firstTimestamp) | 0) * 1000) / rate;
    const first = this.firstSr as ClockPair;
    const ntpElapsedMs = sr.ntpMs - first.ntpMs;
    const rtpElapsedMs = ((((sr.rtpTimestamp - first.rtpTimestamp) | 0) * 1000) / rate);
    return {
      reports: this.senderReports,
      ntp_time: new Date(sr.ntpMs).toISOString(),
      rtp_timestamp: sr.rtpTimestamp,
      received_at: new Date(sr.arrivalMs).toISOString(),
      clock_offset_ms: sr.ntpMs - sr.arrivalMs,
      media_origin: new Date(sr.ntpMs - (this.source === null ? 0 : mediaMsAtReport)).toISOString(),
      drift_ppm: this.senderReports < 2 || ntpElapsedMs <= 0 ? null : ((rtpElapsedMs - ntpElapsedMs) / ntpElapsedMs) * 1e6,
    };
  }
}
