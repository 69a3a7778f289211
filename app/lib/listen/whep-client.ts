/**
 * The WebRTC player: WHEP (the egress twin of RFC 9725). A recvonly peer connection offers
 * Opus (FEC on, mono: sdp-munge.ts) to `POST /whep/<stream_id>`; the relay answers with a
 * track carrying the station's POST tap, and `close()` DELETEs the session's Location.
 *
 *   RTP -> the browser's own jitter buffer, decoder and concealment (NetEq)
 *       -> an <audio> element -> speakers
 *       -> MediaStreamAudioSourceNode -> AnalyserNode (LevelProbe), for the played level
 *
 * The element plays: Chromium renders a remote track (and computes its getStats audio
 * level and energy) only through a media element; Web Audio taps the same track for the
 * meter, without a second output. No socket is involved: the session's other callbacks
 * (`connected`, `receive`) have nothing to do here.
 *
 * Figures come from the receiver's getStats once a second (rtc-stats.ts): jitter buffer
 * delay (jitterBufferDelay / jitterBufferEmittedCount), loss, jitter, concealment and the
 * received audio's energy.
 */
import type { ListenBurst } from '../../../protocol/listen.ts';
import { iceGatheringComplete, PEER_CONFIG } from '../webrtc/ice.ts';
import { playoutStats, receiverReport, type ReceiverReport } from '../webrtc/rtc-stats.ts';
import { deleteSession, postOffer } from '../webrtc/sdp-exchange.ts';
import { OPUS_FMTP, setOpusFmtp, stripMdnsCandidates } from '../webrtc/sdp-munge.ts';
import { resumeWithin } from './audio-context';
import { LevelProbe } from './level';
import type { ListenPlayer, PlayerEvents, PlayerFigures, PlayerState, WebRtcFigures } from './player';

/** How often the receiver's statistics are read, ms. */
const STATS_MS = 1000;
/** A connection that stays `disconnected` this long has ended, ms. */
const DISCONNECTED_GRACE_MS = 3000;

export interface WhepPlayerOptions {
  /** The relay's WHEP endpoint for the stream (listen-link.ts whepUrl). */
  endpoint: string;
  token: string | null;
  events: PlayerEvents;
}

export class WhepPlayer implements ListenPlayer {
  readonly mode = 'webrtc' as const;
  needsGesture = false;

  private readonly opts: WhepPlayerOptions;
  private pc: RTCPeerConnection | null = null;
  private location: string | null = null;
  private ctx: AudioContext | null = null;
  private probe: LevelProbe | null = null;
  private element: HTMLAudioElement | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;
  private lastReport: ReceiverReport | null = null;
  private figuresNow: WebRtcFigures = emptyFigures();
  private state: PlayerState = 'buffering';
  private openedAtMs = 0;
  private firstAudioMs: number | null = null;
  private wasConnected = false;
  private paused = false;
  private closed = false;

  constructor(opts: WhepPlayerOptions) {
    this.opts = opts;
  }

  async open(): Promise<void> {
    this.openedAtMs = performance.now();
    if (typeof RTCPeerConnection === 'undefined') throw new Error('this browser has no WebRTC (RTCPeerConnection); use another player');
    const ctx = new AudioContext({ latencyHint: 'interactive' });
    this.ctx = ctx;
    // An AnalyserNode is processed without an output: nothing here is heard twice.
    this.probe = new LevelProbe(ctx);

    const pc = new RTCPeerConnection(PEER_CONFIG);
    this.pc = pc;
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = (e) => this.onTrack(e.track, e.streams[0] ?? new MediaStream([e.track]));
    pc.onconnectionstatechange = () => this.onConnectionState(pc);

    const offer = await pc.createOffer();
    await pc.setLocalDescription({ type: 'offer', sdp: setOpusFmtp(offer.sdp ?? '', OPUS_FMTP) });
    await iceGatheringComplete(pc);
    if (this.closed) return;
    const { sdp } = stripMdnsCandidates(pc.localDescription?.sdp ?? '');
    const res = await postOffer(this.opts.endpoint, sdp, { kind: 'whep', token: this.opts.token });
    this.location = res.location;
    if (this.closed) {
      void deleteSession(res.location, this.opts.token);
      return;
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: res.answerSdp });

    if (!(await resumeWithin(ctx))) this.needsGesture = true;
    this.statsTimer = setInterval(() => void this.readStats(), STATS_MS);
  }

  private onTrack(track: MediaStreamTrack, stream: MediaStream): void {
    const ctx = this.ctx;
    if (ctx === null || this.probe === null || track.kind !== 'audio') return;
    const el = new Audio();
    el.srcObject = stream;
    this.element = el;
    void el.play().catch(() => {
      // The autoplay policy: the page's "Start audio" button calls unlock().
      this.needsGesture = true;
    });
    ctx.createMediaStreamSource(stream).connect(this.probe.node);
    // A remote track unmutes when its first packets arrive.
    const first = (): void => {
      if (this.firstAudioMs === null) this.firstAudioMs = performance.now();
    };
    if (!track.muted) first();
    track.addEventListener('unmute', first, { once: true });
  }

  private onConnectionState(pc: RTCPeerConnection): void {
    if (this.pc !== pc || this.closed) return;
    const s = pc.connectionState;
    this.figuresNow = { ...this.figuresNow, connection: s };
    if (s === 'connected') {
      this.wasConnected = true;
      if (this.graceTimer !== null) clearTimeout(this.graceTimer);
      this.graceTimer = null;
    } else if (s === 'failed' || s === 'closed') {
      this.end(this.wasConnected ? 'the relay closed the WebRTC session: the station has ended, or the connection was lost' : 'the WebRTC connection to the relay failed (ICE or DTLS)');
    } else if (s === 'disconnected' && this.graceTimer === null) {
      this.graceTimer = setTimeout(() => {
        this.graceTimer = null;
        if (this.pc === pc && pc.connectionState !== 'connected') this.end('the WebRTC connection was lost');
      }, DISCONNECTED_GRACE_MS);
    }
  }

  private end(message: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.opts.events.problem(message);
  }

  private async readStats(): Promise<void> {
    const pc = this.pc;
    if (pc === null || this.closed) return;
    const report = receiverReport(await pc.getStats());
    if (report === null) return;
    const p = playoutStats(this.lastReport, report);
    const concealedBefore = this.lastReport?.concealedSamples ?? 0;
    this.lastReport = report;
    this.figuresNow = {
      connection: pc.connectionState,
      jitterBufferMs: p.jitterBufferMs,
      targetDelayMs: report.jitterBufferEmittedCount > 0 ? (report.jitterBufferTargetDelay / report.jitterBufferEmittedCount) * 1000 : null,
      packetsReceived: report.packetsReceived,
      packetsLost: report.packetsLost,
      lossPercent: p.lossFraction === null ? null : p.lossFraction * 100,
      jitterMs: p.jitterMs,
      concealedPercent: p.concealedFraction * 100,
      bitrateBps: p.bitrateBps,
      energyDbfs: p.energyDbfs,
      audioLevel: report.audioLevel,
      totalAudioEnergy: report.totalAudioEnergy,
    };
    if (this.state !== 'ended' && !this.paused) this.state = report.packetsReceived > 0 && pc.connectionState === 'connected' ? 'playing' : 'buffering';
    // Concealment grew while playing: an underrun as the other players count them.
    if (report.concealedSamples > concealedBefore && this.state === 'playing' && concealedBefore > 0) this.opts.events.stall();
  }

  joinBurst(): ListenBurst {
    return 'default';
  }

  connected(): void {
    // No socket in this mode.
  }

  receive(): void {
    // Media arrives as RTP, not through the listen socket.
  }

  streamEnded(): void {
    this.end('the station ended');
  }

  pause(): void {
    this.paused = true;
    this.state = 'paused';
    this.element?.pause();
  }

  /** A live track has no past: playing again is at the live edge. */
  resume(): void {
    this.paused = false;
    this.state = 'buffering';
    void this.element?.play().catch(() => (this.needsGesture = true));
  }

  async unlock(): Promise<void> {
    await this.ctx?.resume();
    let playing = true;
    await this.element?.play().catch(() => (playing = false));
    this.needsGesture = !playing || this.ctx?.state !== 'running';
  }

  figures(): PlayerFigures {
    const f = this.figuresNow;
    return {
      state: this.state,
      currentTime: this.ctx?.currentTime ?? 0,
      bufferedAheadS: (f.jitterBufferMs ?? 0) / 1000,
      // What the receiver adds; the network's share is not known to it.
      latencyS: f.jitterBufferMs === null ? null : f.jitterBufferMs / 1000,
      stalls: 0,
      timeToFirstAudioMs: this.firstAudioMs === null ? null : this.firstAudioMs - this.openedAtMs,
      firstAudioAtMs: this.firstAudioMs,
      decodeErrors: 0,
      playbackRate: 1,
      playout: null,
      webrtc: { ...f },
    };
  }

  level(): { rmsDbfs: number; peakDbfs: number } {
    return this.probe?.read() ?? { rmsDbfs: -120, peakDbfs: -120 };
  }

  /** Idempotent: DELETEs the session and closes the connection and the audio graph. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    const location = this.location;
    this.location = null;
    if (location !== null) void deleteSession(location, this.opts.token);
    if (this.pc !== null) {
      this.pc.onconnectionstatechange = null;
      this.pc.ontrack = null;
      this.pc.close();
    }
    this.pc = null;
    if (this.element !== null) this.element.srcObject = null;
    this.element = null;
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
  }
}

function emptyFigures(): WebRtcFigures {
  return {
    connection: 'new',
    jitterBufferMs: null,
    targetDelayMs: null,
    packetsReceived: 0,
    packetsLost: 0,
    lossPercent: null,
    jitterMs: 0,
    concealedPercent: 0,
    bitrateBps: null,
    energyDbfs: null,
    audioLevel: 0,
    totalAudioEnergy: 0,
  };
}
