/**
 * One WHEP session: a werift peer connection with one sendonly Opus track, fed the packets
 * of a station's POST-tap egress encoder (whep-audience.ts). Each session numbers its own
 * RTP stream: a random first sequence number and timestamp (RFC 3550 §5.1), the sequence
 * one up per packet sent, the timestamp following the packets' media time at 48 ticks per
 * ms, so a restarted encoder (its sequence back at 0) goes on in the same RTP timeline.
 *
 * A player that goes away without its DELETE is noticed by its silence: players send RTCP
 * receiver reports every few seconds, and none for the idle timeout closes the session.
 * (werift does not report a peer that vanished as a failed connection soon enough.)
 */
import { randomBytes } from 'node:crypto';
import { RtpHeader, RtpPacket, type RTCPeerConnection, type RTCRtpSender } from 'werift';
import type { EgressPacket } from '../media/station-handle.ts';
import type { LiveStation } from '../live/live-registry.ts';
import { closePeer, OPUS_TICKS_PER_MS } from './peer.ts';

/** A packet this long after its audio arrived on the relay is late for a session's first packet, ms. */
const START_LATE_MS = 40;
/** At most this many late packets are passed over before a session starts anyway (1 s). */
const START_SKIP_MAX = 50;

const epochNowMs = (): number => performance.timeOrigin + performance.now();

export interface WhepSessionDeps {
  connectTimeoutMs: number;
  /** No RTCP from the player for this long closes the session, ms. */
  idleTimeoutMs: number;
  closed(session: WhepSession, reason: string): void;
}

export class WhepSession {
  readonly id = randomBytes(16).toString('base64url');
  private connected = false;
  private closedReason: string | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly openedAtMs = Date.now();
  private lastRtcpMs = Date.now();
  private sequence = randomBytes(2).readUInt16BE(0);
  private readonly rtpBase = randomBytes(4).readUInt32BE(0);
  /** Media time of the first packet sent, ms: the RTP timestamp counts from it. */
  private firstMediaMs: number | null = null;
  packetsSent = 0;
  /** Packets passed over at the start because they were late (see `send`). */
  skippedAtStart = 0;

  constructor(
    readonly station: LiveStation,
    private readonly pc: RTCPeerConnection,
    private readonly sender: RTCRtpSender,
    private readonly deps: WhepSessionDeps,
  ) {
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        this.connected = true;
        this.lastRtcpMs = Date.now();
      } else if (state === 'failed' || state === 'closed') {
        this.close('disconnect');
      }
    });
    sender.onRtcp.subscribe(() => (this.lastRtcpMs = Date.now()));
    this.timer = setInterval(() => this.checkTimeouts(Date.now()), Math.min(1000, Math.max(50, Math.floor(Math.min(deps.connectTimeoutMs, deps.idleTimeoutMs) / 4))));
    this.timer.unref();
  }

  private checkTimeouts(nowMs: number): void {
    if (this.closedReason !== null) return;
    if (!this.connected) {
      if (nowMs - this.openedAtMs > this.deps.connectTimeoutMs) this.close('connect_timeout');
    } else if (nowMs - this.lastRtcpMs > this.deps.idleTimeoutMs) {
      this.close('idle');
    }
  }

  get isClosed(): boolean {
    return this.closedReason !== null;
  }

  /**
   * One egress packet as RTP (nothing until ICE and DTLS are up). The stream starts at the
   * live edge: while the egress still delivers packets late (an encoder just started, a
   * pipeline catching up, which come in bursts), they are passed over, for at most
   * START_SKIP_MAX packets. A browser's jitter buffer sizes itself on the jitter it sees
   * first and shrinks only slowly: a burst at the start would hold its delay up for seconds.
   */
  send(p: EgressPacket): void {
    if (!this.connected || this.closedReason !== null) return;
    const first = this.firstMediaMs === null;
    if (first && this.skippedAtStart < START_SKIP_MAX && epochNowMs() - p.arrivalMs > START_LATE_MS) {
      this.skippedAtStart++;
      return;
    }
    this.firstMediaMs ??= p.timestampMs;
    const timestamp = (this.rtpBase + Math.round((p.timestampMs - this.firstMediaMs) * OPUS_TICKS_PER_MS)) >>> 0;
    this.sequence = (this.sequence + 1) & 0xffff;
    // The marker bit starts a talkspurt (RFC 3551 §4.1): the first packet of the stream.
    const header = new RtpHeader({ sequenceNumber: this.sequence, timestamp, marker: first });
    this.packetsSent++;
    this.sender.sendRtp(new RtpPacket(header, Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength))).catch(() => undefined);
  }

  /** Closes the connection. Safe twice. */
  close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    clearInterval(this.timer);
    closePeer(this.pc);
    this.deps.closed(this, reason);
  }
}
