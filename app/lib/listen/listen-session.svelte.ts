/**
 * One listener, wired end to end: the listen socket (listen-socket.ts) feeds one player
 * (MSE or low-latency, chosen by the page's options), and this class turns what both say
 * into what the page shows: a status (connecting / buffering / live / paused / ended /
 * error), the player's figures, the played level, reconnections. It also reports
 * `client_metrics` to the relay every 5 s and at every stall, sends pause/resume requests,
 * and publishes its state on `window.__tapwireListen` for tests and for people poking at
 * the page from the console.
 *
 * Reactive fields (runes) are what the listen page renders.
 */
import type { StreamMetadataMessage } from '../../../protocol/listen.ts';
import { MeterBallistics } from '$lib/meters/ballistics';
import { buildClientMetrics, CLIENT_METRICS_INTERVAL_MS } from './client-metrics';
import { session as signIn } from '$lib/session.svelte';
import { listenSocketUrl, whepUrl, type ListenOptions } from './listen-link';
import { ListenSocket, type SocketState } from './listen-socket';
import { MsePlayer } from './mse-player';
import { PacketPlayer } from './packet-player';
import type { ListenPlayer, PlayerFigures } from './player';
import { WhepPlayer } from './whep-client';

export type ListenStatus = 'connecting' | 'buffering' | 'live' | 'paused' | 'ended' | 'error';

/** What `window.__tapwireListen` holds (refreshed every UI_MS). */
export interface ListenProbe {
  status: ListenStatus;
  mode: ListenOptions['mode'];
  tap: ListenOptions['tap'];
  label: string | null;
  currentTime: number;
  bufferedAhead: number;
  latency: number | null;
  stalls: number;
  timeToFirstAudioMs: number | null;
  /** From the page's navigation start to the first audible sample, ms. */
  pageToFirstAudioMs: number | null;
  /** RMS of the played audio over the last ~400 ms (AnalyserNode), dBFS. */
  level: number;
  peak: number;
  reconnects: number;
  decodeErrors: number;
  playbackRate: number;
  needsGesture: boolean;
  metricsSent: number;
  playout: PlayerFigures['playout'];
  /** WebRTC mode: the receiver's getStats figures. */
  webrtc: PlayerFigures['webrtc'] | null;
}

declare global {
  interface Window {
    __tapwireListen?: ListenProbe;
  }
}

/** How often the page's figures and meter refresh, ms. */
const UI_MS = 100;
/** Problems kept for display. */
const MAX_PROBLEMS = 5;

export class ListenSession {
  status = $state<ListenStatus>('connecting');
  /** What the socket is doing, for people ("reconnecting in 2.0 s"). */
  link = $state('');
  linkState = $state<SocketState>('connecting');
  error = $state<string | null>(null);
  /** Set when MSE cannot play here: the page offers the low-latency mode instead. */
  unsupported = $state<string | null>(null);
  problems = $state<string[]>([]);
  metadata = $state<StreamMetadataMessage | null>(null);
  figures = $state<PlayerFigures | null>(null);
  meter = $state({ rms: -90, peak: -90, hold: -90 });
  reconnects = $state(0);
  needsGesture = $state(false);
  paused = $state(false);
  metricsSent = $state(0);

  readonly options: ListenOptions;
  private readonly ballistics = new MeterBallistics({ floorDbfs: -90 });
  private player: ListenPlayer | null = null;
  private socket: ListenSocket | null = null;
  private uiTimer: ReturnType<typeof setInterval> | null = null;
  private metricsTimer: ReturnType<typeof setInterval> | null = null;
  private gotAudio = false;
  private ended = false;
  private closed = false;
  private readonly onOnline = (): void => this.socket?.retryNow();

  constructor(options: ListenOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const events = {
      stall: () => this.sendMetrics(),
      problem: (message: string) => this.noteProblem(message),
    };
    const page = new URL(window.location.href);
    const o = this.options;
    let player: ListenPlayer;
    if (o.mode === 'webrtc') player = new WhepPlayer({ endpoint: whepUrl(page, o.streamId), token: signIn.token, events });
    else if (o.mode === 'mse') player = new MsePlayer({ targetS: o.bufferS, events });
    else player = new PacketPlayer({ events, decoder: o.decoder });
    this.player = player;

    // WebRTC brings its audio itself (RTP); the other players are fed by the listen socket.
    if (o.mode !== 'webrtc') this.openSocket(page, { streamId: o.streamId, tap: o.tap, mode: o.mode }, player);
    window.addEventListener('online', this.onOnline);

    try {
      await player.open();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.options.mode === 'mse') this.unsupported = message;
      this.socket?.close();
      this.fail(message);
      return;
    }
    if (this.closed) return;
    this.uiTimer = setInterval(() => this.refresh(), UI_MS);
    this.metricsTimer = setInterval(() => this.sendMetrics(), CLIENT_METRICS_INTERVAL_MS);
    this.refresh();
  }

  /** The socket opens while the player sets up its audio graph (both take a round trip or two); players hold what arrives before they are ready. */
  private openSocket(page: URL, target: Parameters<typeof listenSocketUrl>[1], player: ListenPlayer): void {
    this.socket = new ListenSocket(() => listenSocketUrl(page, target, player.joinBurst()), {
      opened: () => player.connected(),
      metadata: (m) => (this.metadata = m),
      binary: (data, arrivalMs) => {
        this.gotAudio = true;
        player.receive(data, arrivalMs);
      },
      ended: () => {
        this.ended = true;
        player.streamEnded();
      },
      failed: (message) => this.fail(message),
      state: (state, detail) => {
        this.linkState = state;
        this.link = detail;
      },
      problem: (message) => this.noteProblem(message),
    });
    this.socket.connect();
  }

  pause(): void {
    if (this.paused || this.player === null) return;
    this.paused = true;
    this.player.pause();
    this.socket?.setPaused(true);
    this.socket?.send({ type: 'pause_request' });
    this.refresh();
  }

  resume(): void {
    if (!this.paused || this.player === null) return;
    this.paused = false;
    this.socket?.send({ type: 'resume_request' });
    this.socket?.setPaused(false);
    this.player.resume();
    this.refresh();
  }

  /** From a click: starts audio the browser held back for want of a gesture. */
  async unlock(): Promise<void> {
    await this.player?.unlock();
    this.refresh();
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.uiTimer !== null) clearInterval(this.uiTimer);
    if (this.metricsTimer !== null) clearInterval(this.metricsTimer);
    window.removeEventListener('online', this.onOnline);
    this.socket?.close();
    this.player?.close();
    this.socket = null;
    this.player = null;
    if (window.__tapwireListen !== undefined) delete window.__tapwireListen;
  }

  private fail(message: string): void {
    this.error = message;
    this.status = 'error';
    this.publish();
  }

  private noteProblem(message: string): void {
    this.problems = [...this.problems.slice(-(MAX_PROBLEMS - 1)), message];
  }

  private sendMetrics(): void {
    const p = this.player;
    if (p === null || this.socket === null || this.paused) return;
    if (this.socket.send(buildClientMetrics(p.figures()))) this.metricsSent++;
  }

  private refresh(): void {
    const p = this.player;
    if (p === null || this.closed) return;
    const f = p.figures();
    this.figures = f;
    this.reconnects = this.socket?.reconnects ?? 0;
    this.needsGesture = p.needsGesture;
    const level = p.level();
    this.ballistics.update({ rmsDbfs: level.rmsDbfs, peakDbfs: level.peakDbfs, clippedSamples: 0, momentaryLufs: level.rmsDbfs }, performance.now());
    this.meter = { rms: this.ballistics.rmsDbfs, peak: this.ballistics.peakDbfs, hold: this.ballistics.peakHoldDbfs };
    if (this.error === null) {
      if (f.state === 'ended' || (this.ended && f.state !== 'playing')) this.status = 'ended';
      else if (this.paused) this.status = 'paused';
      else if (f.state === 'playing') this.status = 'live';
      else this.status = this.gotAudio ? 'buffering' : 'connecting';
    }
    this.publish(level);
  }

  private publish(level = { rmsDbfs: -120, peakDbfs: -120 }): void {
    const f = this.figures;
    window.__tapwireListen = {
      status: this.status,
      mode: this.options.mode,
      tap: this.options.tap,
      label: this.metadata?.label ?? null,
      currentTime: f?.currentTime ?? 0,
      bufferedAhead: f?.bufferedAheadS ?? 0,
      latency: f?.latencyS ?? null,
      stalls: f?.stalls ?? 0,
      timeToFirstAudioMs: f?.timeToFirstAudioMs ?? null,
      pageToFirstAudioMs: f?.firstAudioAtMs ?? null,
      level: level.rmsDbfs,
      peak: level.peakDbfs,
      reconnects: this.reconnects,
      decodeErrors: f?.decodeErrors ?? 0,
      playbackRate: f?.playbackRate ?? 1,
      needsGesture: this.needsGesture,
      metricsSent: this.metricsSent,
      playout: f?.playout ?? null,
      webrtc: f?.webrtc ?? null,
    };
  }
}
