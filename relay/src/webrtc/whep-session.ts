/**
 * One WHEP session: a werift peer connection with one sendonly Opus track, fed the packets
 * of a station's POST-tap egress encoder (whep-audience.ts). Each session numbers its own
 * RTP stream: a random first sequence number and timestamp (RFC 3550 §5.1), the sequence
 * one up per packet sent, the timestamp following the packets' media time at 48 ticks per
 * ms, so a restarted encoder (its sequence back at 0) goes on in the same RTP timeline.
 */
import { randomBytes } from 'node:crypto';
import { RtpHeader, RtpPacket, type RTCPeerConnection, type RTCRtpSender } from 'werift';
import type { EgressPacket } from '../media/station-handle.ts';
import type { LiveStation } from '../live/live-registry.ts';
import { closePeer, OPUS_TICKS_PER_MS } from './peer.ts';

export interface WhepSessionDeps {
  connectTimeoutMs: number;
  closed(session: WhepSession, reason: string): void;
}

export class WhepSession {
  readonly id = randomBytes(16).toString('base64url');
  private connected = false;
  private closedReason: string | null = null;
  private readonly connectTimer: NodeJS.Timeout;
  private sequence = randomBytes(2).readUInt16BE(0);
  private readonly rtpBase = randomBytes(4).readUInt32BE(0);
  /** Media time of the first packet sent, ms: the RTP timestamp counts from it. */
  private firstMediaMs: number | null = null;
  packetsSent = 0;

  constructor(
    readonly station: LiveStation,
    private readonly pc: RTCPeerConnection,
    private readonly sender: RTCRtpSender,
    private readonly deps: WhepSessionDeps,
  ) {
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        this.connected = true;
        clearTimeout(this.connectTimer);
      } else if (state === 'failed' || state === 'closed') {
        this.close('disconnect');
      }
    });
    this.connectTimer = setTimeout(() => this.close('connect_timeout'), deps.connectTimeoutMs);
    this.connectTimer.unref();
  }

  get isClosed(): boolean {
    return this.closedReason !== null;
  }

  /** One egress packet as RTP (nothing until ICE and DTLS are up). */
  send(p: EgressPacket): void {
    if (!this.connected || this.closedReason !== null) return;
    const first = this.firstMediaMs === null;
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
    clearTimeout(this.connectTimer);
    closePeer(this.pc);
    this.deps.closed(this, reason);
  }
}
