/**
 * One WHIP session: a werift peer connection that receives a station's audio. Its RTP
 * becomes the one internal packet stream every transport feeds (the station handle's
 * `push`), in arrival order: the RTP sequence number as the packet's sequence, the 48 kHz
 * RTP timestamp as media time in ms from the session's first packet. The station's
 * pipeline orders, de-duplicates and conceals from there, as for any transport.
 *
 * Nothing a session holds lasts for ever: no ICE and DTLS connection within the connect
 * timeout closes it (its reserved station goes, nothing stored), no audio for the idle
 * timeout ends its station, and a connection that fails or closes ends it too.
 */
import { randomBytes } from 'node:crypto';
import type { MediaStreamTrack, RTCPeerConnection, RtpPacket } from 'werift';
import { CODEC_IDS, TIMESTAMP_MODULUS } from '../../../protocol/frame.ts';
import type { LiveRegistry, LiveStation } from '../live/live-registry.ts';
import type { StationHandle } from '../media/station-handle.ts';
import { closePeer, OPUS_TICKS_PER_MS } from './peer.ts';

export interface WhipSessionDeps {
  registry: LiveRegistry;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** The session has closed (whatever the reason): the service forgets it. */
  closed(session: WhipSession, reason: string): void;
  /** A packet arrived (the relay's ingest counters). */
  received(bytes: number): void;
}

export class WhipSession {
  /** The session's URL part: 128 random bits, as hard to guess as a stream id. */
  readonly id = randomBytes(16).toString('base64url');
  private handle: StationHandle | null = null;
  private connected = false;
  private closedReason: string | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly openedAtMs = Date.now();
  /** RTP timestamp of the first packet, and the ticks since it (unwrapped past 2^32). */
  private firstRtpTs = -1;
  private lastRtpTs = 0;
  private ticks = 0;
  /** RTP packets pushed, and those of another payload type than Opus (ignored). */
  packets = 0;
  otherPayloads = 0;

  constructor(
    readonly station: LiveStation,
    private readonly pc: RTCPeerConnection,
    /** The payload type the answer gave Opus. */
    private readonly opusPayloadType: number,
    /** The remote tracks werift made while it took the offer (before this session existed). */
    tracks: readonly MediaStreamTrack[],
    private readonly deps: WhipSessionDeps,
  ) {
    for (const track of tracks) if (track.kind === 'audio') track.onReceiveRtp.subscribe((rtp) => this.onRtp(rtp));
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') this.connected = true;
      else if (state === 'failed') this.close('disconnect');
      else if (state === 'closed') this.close('disconnect');
    });
    // One check a second covers both the connect timeout and the idle timeout.
    this.timer = setInterval(() => this.checkTimeouts(Date.now()), Math.min(1000, Math.max(50, Math.floor(Math.min(deps.connectTimeoutMs, deps.idleTimeoutMs) / 4))));
    this.timer.unref();
  }

  get isClosed(): boolean {
    return this.closedReason !== null;
  }

  private checkTimeouts(nowMs: number): void {
    if (this.closedReason !== null) return;
    if (!this.connected) {
      if (nowMs - this.openedAtMs > this.deps.connectTimeoutMs) this.close('connect_timeout');
      return;
    }
    if (nowMs - this.station.lastAudioMs > this.deps.idleTimeoutMs) this.close('idle');
  }

  private onRtp(rtp: RtpPacket): void {
    if (this.closedReason !== null || this.station.ended) return;
    const arrivalMs = performance.timeOrigin + performance.now();
    const { header, payload } = rtp;
    if (header.payloadType !== this.opusPayloadType) {
      this.otherPayloads++;
      return;
    }
    if (payload.length === 0) return;
    const now = Date.now();
    this.station.lastAudioMs = now;
    this.deps.received(payload.length);
    this.packets++;
    this.handle ??= this.attach(this.deps.registry.materialize(this.station, now));
    this.handle.push(this.mediaTimeMs(header.timestamp), header.sequenceNumber, CODEC_IDS.opus, 0, arrivalMs, payload);
  }

  /** The RTP timestamp as ms from the first packet, modulo 2^32 (protocol/frame.ts). */
  private mediaTimeMs(rtpTs: number): number {
    if (this.firstRtpTs < 0) {
      this.firstRtpTs = rtpTs;
      this.lastRtpTs = rtpTs;
    }
    // The signed 32-bit step from the newest timestamp: a reordered packet steps back.
    const step = (rtpTs - this.lastRtpTs) | 0;
    const ticks = this.ticks + step;
    if (step > 0) {
      this.ticks = ticks;
      this.lastRtpTs = rtpTs;
    }
    const ms = Math.round(ticks / OPUS_TICKS_PER_MS);
    return ((ms % TIMESTAMP_MODULUS) + TIMESTAMP_MODULUS) % TIMESTAMP_MODULUS;
  }

  private attach(handle: StationHandle): StationHandle {
    handle.on('lost', () => this.close('media_worker_failed'));
    return handle;
  }

  /** Ends the station (if it streamed) with `reason` and closes the connection. Safe twice. */
  close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    clearInterval(this.timer);
    this.deps.registry.end(this.station, reason, Date.now());
    closePeer(this.pc);
    this.deps.closed(this, reason);
  }
}
