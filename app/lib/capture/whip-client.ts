/**
 * The capture's WebRTC path to the relay: WHIP (RFC 9725). The microphone track goes out
 * through a peer connection, coded by the browser's own Opus (FEC on, mono: sdp-munge.ts);
 * the relay answers `POST /whip` with its SDP and a `Location` that `close()` DELETEs.
 *
 * It mirrors IngestLink (ingest-link.ts) for the capture session: the same states, a
 * `started` with the station's ids (the relay's `X-Tapwire-*` headers), reconnection with
 * backoff when the connection fails (each one a new station in the same trace), and a
 * refusal that no retry would fix (400, 401, 403, 404) reported once and not retried.
 */
import type { StartedMessage } from '$protocol/ingest';
import { BUCKET_MS } from '../../../protocol/metrics.ts';
import { iceGatheringComplete, PEER_CONFIG } from '../webrtc/ice';
import { deleteSession, postOffer, SdpExchangeError } from '../webrtc/sdp-exchange';
import { OPUS_FMTP, setOpusFmtp, stripMdnsCandidates } from '../webrtc/sdp-munge';
import { intervalLoss, senderReport, type SenderReport } from '../webrtc/rtc-stats';
import type { LinkState } from './ingest-link';

export interface WhipLinkOptions {
  /** The relay's WHIP endpoint, absolute (`http://host/whip`); the query is added here. */
  endpoint: string;
  token: string | null;
  label: string;
  traceId: string | null;
  /** The microphone track (the same one the worklet meters). */
  track: MediaStreamTrack;
  /** The sender's starting ceiling, bits/s. */
  maxBitrateBps: number;
  onState(state: LinkState, detail: string): void;
  onStarted(started: StartedMessage): void;
  /** A refusal no retry would fix, or a retryable one (then `retrying` is true). */
  onRefused(message: string, retrying: boolean): void;
}

/** What one look at the sender's statistics gives the adaptive bitrate and the page. */
export interface WhipSample {
  /** Loss the relay reported since the last sample, 0-1; null when it reported nothing new. */
  lossFraction: number | null;
  bytesSent: number;
  roundTripMs: number | null;
}

const BACKOFF_MS = [500, 1000, 2000, 4000, 5000];
/** A connection that stays `disconnected` this long is treated as failed, ms. */
const DISCONNECTED_GRACE_MS = 3000;

export class WhipLink {
  state: LinkState = 'connecting';
  bytesSent = 0;
  private pc: RTCPeerConnection | null = null;
  private sender: RTCRtpSender | null = null;
  private location: string | null = null;
  private closing = false;
  private attempt = 0;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;
  private traceId: string | null;
  private maxBitrateBps: number;
  private lastReport: SenderReport | null = null;
  /** The station's ids from the relay's answer, announced once the connection is up. */
  private pendingStarted: StartedMessage | null = null;

  constructor(private readonly opts: WhipLinkOptions) {
    this.traceId = opts.traceId;
    this.maxBitrateBps = opts.maxBitrateBps;
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  /** Opens a session; failures are reported through the callbacks (and retried when they may pass). */
  connect(): void {
    if (this.closing) return;
    void this.open().catch((err: unknown) => this.failed(err));
  }

  private async open(): Promise<void> {
    this.setState(this.attempt === 0 ? 'connecting' : 'offline', this.attempt === 0 ? 'connecting to the relay (WebRTC)' : 'reconnecting (WebRTC)');
    const pc = new RTCPeerConnection(PEER_CONFIG);
    this.pc = pc;
    this.lastReport = null;
    const transceiver = pc.addTransceiver(this.opts.track, { direction: 'sendonly' });
    this.sender = transceiver.sender;
    pc.onconnectionstatechange = () => this.onConnectionState(pc);

    const offer = await pc.createOffer();
    await pc.setLocalDescription({ type: 'offer', sdp: setOpusFmtp(offer.sdp ?? '', OPUS_FMTP) });
    await iceGatheringComplete(pc);
    if (this.closing || this.pc !== pc) return;
    const { sdp } = stripMdnsCandidates(pc.localDescription?.sdp ?? '');

    const url = new URL(this.opts.endpoint);
    if (this.traceId !== null) url.searchParams.set('trace_id', this.traceId);
    if (this.opts.label) url.searchParams.set('label', this.opts.label);
    const res = await postOffer(url.href, sdp, { kind: 'whip', token: this.opts.token });
    this.location = res.location;
    if (this.closing || this.pc !== pc) {
      void deleteSession(res.location, this.opts.token);
      return;
    }
    // The station's ids first: ICE may connect as soon as the answer is applied.
    const traceId = res.headers.get('X-Tapwire-Trace-Id');
    const stationKey = res.headers.get('X-Tapwire-Station-Key');
    const streamId = res.headers.get('X-Tapwire-Stream-Id');
    const mixStreamId = res.headers.get('X-Tapwire-Mix-Stream-Id');
    if (traceId !== null && stationKey !== null && streamId !== null) {
      this.traceId = traceId;
      this.pendingStarted = { type: 'started', trace_id: traceId, station_key: stationKey, stream_id: streamId, mix_stream_id: mixStreamId ?? streamId, bucket_ms: BUCKET_MS };
    }
    this.setState('connecting', 'ICE and DTLS connecting');
    // The answer's fmtp is what our encoder follows: FEC on, mono, whatever the relay wrote.
    await pc.setRemoteDescription({ type: 'answer', sdp: setOpusFmtp(res.answerSdp, OPUS_FMTP) });
    await this.applyMaxBitrate();
    this.onConnectionState(pc);
  }

  private onConnectionState(pc: RTCPeerConnection): void {
    if (this.pc !== pc || this.closing) return;
    const s = pc.connectionState;
    if (s === 'connected') {
      if (this.graceTimer !== null) clearTimeout(this.graceTimer);
      this.graceTimer = null;
      if (this.state !== 'live') {
        this.attempt = 0;
        const started = this.pendingStarted;
        this.setState('live', started ? `streaming as ${started.station_key} (WebRTC)` : 'streaming (WebRTC)');
        if (started !== null) this.opts.onStarted(started);
        this.pendingStarted = null;
      }
    } else if (s === 'failed') {
      this.failed(new Error('the WebRTC connection failed (ICE or DTLS)'));
    } else if (s === 'disconnected' && this.graceTimer === null) {
      // ICE may come back by itself; if not, a new session.
      this.graceTimer = setTimeout(() => {
        this.graceTimer = null;
        if (this.pc === pc && pc.connectionState !== 'connected') this.failed(new Error('the WebRTC connection was lost'));
      }, DISCONNECTED_GRACE_MS);
    }
  }

  private failed(err: unknown): void {
    if (this.closing) return;
    const stale = this.dropPeer();
    // The relay ends the session itself when its connection goes; saying so is only quicker.
    if (stale !== null) void deleteSession(stale, this.opts.token);
    if (err instanceof SdpExchangeError && !err.retryable) {
      this.closing = true;
      this.setState('closed', `refused: ${err.message}`);
      this.opts.onRefused(err.message, false);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof SdpExchangeError) this.opts.onRefused(message, true);
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt++;
    this.setState('offline', message);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect();
    }, delay);
  }

  /** Tries at once (the browser says the network is back). */
  retryNow(): void {
    if (this.closing || this.retry === null) return;
    clearTimeout(this.retry);
    this.retry = null;
    this.connect();
  }

  /** The sender's ceiling (RTCRtpSender.setParameters, encodings[0].maxBitrate), bits/s. */
  async setMaxBitrate(bps: number): Promise<void> {
    this.maxBitrateBps = bps;
    await this.applyMaxBitrate();
  }

  private async applyMaxBitrate(): Promise<void> {
    const sender = this.sender;
    if (sender === null) return;
    const params = sender.getParameters();
    if (params.encodings.length === 0) params.encodings = [{}];
    params.encodings[0].maxBitrate = this.maxBitrateBps;
    await sender.setParameters(params);
  }

  /** One look at the sender's statistics (remote-inbound-rtp: the relay's RTCP receiver reports). */
  async sample(): Promise<WhipSample | null> {
    const pc = this.pc;
    if (pc === null || this.state !== 'live') return null;
    const stats = await pc.getStats(this.sender?.track ?? null);
    let bytesSent = 0;
    stats.forEach((s: Record<string, unknown>) => {
      if (s.type === 'outbound-rtp' && (s.kind === 'audio' || s.mediaType === 'audio')) bytesSent = Number(s.bytesSent ?? 0);
    });
    this.bytesSent = bytesSent;
    const report = senderReport(stats);
    const lossFraction = intervalLoss(this.lastReport, report);
    if (report !== null && (this.lastReport === null || report.timestamp > this.lastReport.timestamp)) this.lastReport = report;
    return { lossFraction, bytesSent, roundTripMs: report?.roundTripTime !== undefined ? report.roundTripTime * 1000 : null };
  }

  /** Ends the session: DELETE its Location, close the connection. Idempotent. */
  async close(): Promise<void> {
    const first = !this.closing;
    this.closing = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    const location = this.dropPeer();
    if (first && location !== null) await deleteSession(location, this.opts.token);
    this.setState('closed', 'stopped');
  }

  /** Closes the connection; returns the session's Location (now forgotten), if there was one. */
  private dropPeer(): string | null {
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    const pc = this.pc;
    this.pc = null;
    this.sender = null;
    if (pc !== null) {
      pc.onconnectionstatechange = null;
      pc.close();
    }
    const location = this.location;
    this.location = null;
    return location;
  }

  private setState(state: LinkState, detail: string): void {
    this.state = state;
    this.opts.onState(state, detail);
  }
}
