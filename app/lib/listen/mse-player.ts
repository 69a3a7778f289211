/**
 * The MSE player (seed 002 §8-9): the relay's live WebM (`mode=mse`: an init
 * segment, then whole clusters) appended to a SourceBuffer behind an <audio> element, which
 * plays through Web Audio so the page can meter what is heard.
 *
 *   socket -> AppendQueue -> SourceBuffer ('sequence' mode) -> <audio> -> MediaElementSource
 *          -> AnalyserNode (LevelProbe) -> speakers
 *
 * - The SourceBuffer runs in 'sequence' mode: every appended cluster is placed right after
 *   the previous one, whatever its own timestamps. A reconnection (a new init segment, the
 *   relay's timestamps restarting at 0 when the stream restarts, or clusters missed while
 *   away) therefore continues the same timeline: the browser moves timestampOffset itself
 *   (MSE §3.5.8 coded frame processing, "sequence" mode), and the parser is reset with
 *   abort() before the new init segment.
 * - Playback starts once `targetS` is buffered (default 1 s), `targetS` before the newest
 *   audio; the LatencyController then holds the latency near the target (playbackRate
 *   1.02-1.05 when behind, a seek to the live edge when more than 2 s behind).
 * - An underrun (a 'waiting' event or under 0.1 s ahead while playing) pauses the element,
 *   shows "buffering" and counts a stall; playback resumes by itself once `targetS` is
 *   buffered again.
 * - Audio more than 10 s behind the playhead is removed, so memory stays bounded.
 * - A media error (the element or the SourceBuffer failed) rebuilds the MediaSource and
 *   appends the last init segment again; it is counted as a decode error.
 */
import { LISTEN_MSE_MIME, type ListenBurst } from '../../../protocol/listen.ts';
import { AppendQueue, isInitSegment } from './append-queue';
import { LatencyController, LiveEdge, startPosition, trimRange, UNDERRUN_AHEAD_S } from './latency-controller';
import { resumeWithin } from './audio-context';
import { LevelProbe } from './level';
import { chooseMediaSource, type MediaSourceCtor } from './media-source';
import type { ListenPlayer, PlayerEvents, PlayerFigures, PlayerState } from './player';

/** How often the player looks at its buffer, ms. */
const TICK_MS = 200;
/** Played audio kept behind the playhead, s. */
const KEEP_BEHIND_S = 10;
/** Messages held while the MediaSource opens. */
const MAX_EARLY_MESSAGES = 64;
/** After a reconnection, when its first cluster has been appended (one cluster of the relay, 200 ms, and some), ms. */
const REANCHOR_AFTER_MS = 400;
/** ...and how far over the target the playhead must be then for a jump to the target, s. */
const REANCHOR_OVER_S = 0.25;

export interface MsePlayerOptions {
  /** Initial buffer and latency target, s. */
  targetS: number;
  events: PlayerEvents;
}

export class MsePlayer implements ListenPlayer {
  readonly mode = 'mse' as const;
  needsGesture = false;

  private readonly targetS: number;
  private readonly events: PlayerEvents;
  private readonly controller: LatencyController;
  private readonly edge = new LiveEdge();
  private audio: HTMLAudioElement | null = null;
  private ctx: AudioContext | null = null;
  private probe: LevelProbe | null = null;
  private ctor: MediaSourceCtor | null = null;
  private managed = false;
  private ms: MediaSource | null = null;
  private objectUrl: string | null = null;
  private sb: SourceBuffer | null = null;
  private queue: AppendQueue | null = null;
  private early: { data: ArrayBuffer; arrivalMs: number }[] = [];
  /** The last init segment, appended again after a rebuild. */
  private initSegment: ArrayBuffer | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private state: PlayerState = 'idle';
  private openedAtMs = 0;
  private firstAudioMs: number | null = null;
  private stalls = 0;
  private decodeErrors = 0;
  private userPaused = false;
  /** After a resume: the end of the stale audio to skip. */
  private resumeMark: number | null = null;
  /**
   * After a reconnection, when to look at the latency once: the new socket goes on from the
   * relay's next cluster (burst `none`), appended right after what was buffered, so the
   * playhead is as far further behind as the outage lasted; it jumps to the target then
   * rather than catching up over many seconds.
   */
  private reanchorAtMs: number | null = null;
  private ending = false;
  private closed = false;
  private readonly listeners: [string, EventListener][] = [];

  constructor(opts: MsePlayerOptions) {
    this.targetS = opts.targetS;
    this.events = opts.events;
    this.controller = new LatencyController({ targetS: opts.targetS });
  }

  async open(): Promise<void> {
    const choice = chooseMediaSource(window, LISTEN_MSE_MIME);
    if (!choice.ok) throw new Error(choice.message);
    this.ctor = choice.ctor;
    this.managed = choice.managed;
    this.openedAtMs = performance.now();

    const audio = document.createElement('audio');
    audio.hidden = true;
    // ManagedMediaSource plays only when the element cannot be sent to another device (AirPlay).
    if (this.managed) audio.disableRemotePlayback = true;
    document.body.append(audio);
    this.audio = audio;
    // An underrun shows as 'waiting' (or 'stalled'); check() counts it if the buffer is dry.
    this.listen(audio, 'waiting', () => this.check());
    this.listen(audio, 'stalled', () => this.check());
    this.listen(audio, 'playing', () => this.onPlaying());
    this.listen(audio, 'error', () => this.onMediaError('the audio element reported a media error'));

    const ctx = new AudioContext({ latencyHint: 'playback' });
    this.ctx = ctx;
    this.probe = new LevelProbe(ctx);
    ctx.createMediaElementSource(audio).connect(this.probe.node);
    this.probe.node.connect(ctx.destination);
    // Without a user gesture, resume() may stay pending until one comes (autoplay policy):
    // do not wait for it; the page offers a "Start audio" button instead.
    if (!(await resumeWithin(ctx))) this.needsGesture = true;

    await this.openMediaSource();
    this.timer = setInterval(() => this.check(), TICK_MS);
  }

  connected(): void {
    // A new socket sends a new init segment: reset the parser; the timeline carries on.
    this.queue?.restart();
    this.early = [];
    if (this.firstAudioMs !== null) this.reanchorAtMs = performance.now() + REANCHOR_AFTER_MS;
  }

  joinBurst(): ListenBurst {
    // Once playing, the buffer holds audio: a reconnection goes on from the next cluster.
    return this.firstAudioMs === null ? 'default' : 'none';
  }

  receive(data: ArrayBuffer, arrivalMs: number): void {
    if (this.closed) return;
    if (isInitSegment(data)) this.initSegment = data;
    if (this.queue === null) {
      if (this.early.length < MAX_EARLY_MESSAGES) this.early.push({ data, arrivalMs });
      return;
    }
    this.queue.append(data, arrivalMs);
  }

  streamEnded(): void {
    this.ending = true;
    this.check();
  }

  pause(): void {
    this.userPaused = true;
    this.resumeMark = null;
    this.audio?.pause();
    this.controller.reset();
    this.state = 'paused';
  }

  resume(): void {
    if (!this.userPaused) return;
    this.userPaused = false;
    // Jump to live: what is buffered now is stale; play from what arrives after it.
    this.resumeMark = this.bufferedEnd();
    this.state = 'buffering';
    this.check();
  }

  async unlock(): Promise<void> {
    await this.ctx?.resume().catch(() => undefined);
    this.needsGesture = this.ctx?.state !== 'running';
    // Still inside the click's user activation: play() is allowed now.
    this.check();
  }

  figures(): PlayerFigures {
    const a = this.audio;
    const t = a?.currentTime ?? 0;
    const edge = this.edge.at(performance.now());
    return {
      state: this.state,
      currentTime: t,
      bufferedAheadS: Math.max(0, this.bufferedEnd() - t),
      latencyS: edge === null || this.firstAudioMs === null ? null : Math.max(0, edge - t),
      stalls: this.stalls,
      timeToFirstAudioMs: this.firstAudioMs === null ? null : this.firstAudioMs - this.openedAtMs,
      firstAudioAtMs: this.firstAudioMs,
      decodeErrors: this.decodeErrors,
      playbackRate: a?.playbackRate ?? 1,
      playout: null,
    };
  }

  level(): { rmsDbfs: number; peakDbfs: number } {
    return this.probe?.read() ?? { rmsDbfs: -120, peakDbfs: -120 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const [type, fn] of this.listeners) this.audio?.removeEventListener(type, fn);
    this.closeMediaSource();
    this.audio?.pause();
    this.audio?.remove();
    void this.ctx?.close().catch(() => undefined);
    this.audio = null;
    this.ctx = null;
  }

  private async openMediaSource(): Promise<void> {
    const audio = this.audio as HTMLAudioElement;
    const ms = new (this.ctor as MediaSourceCtor)();
    this.ms = ms;
    const opened = new Promise<void>((resolve, reject) => {
      ms.addEventListener('sourceopen', () => resolve(), { once: true });
      setTimeout(() => reject(new Error('the MediaSource did not open within 5 s')), 5000);
    });
    // Safari's ManagedMediaSource is attached as srcObject; a MediaSource through an object URL.
    if (this.managed && 'srcObject' in audio) {
      (audio as HTMLMediaElement & { srcObject: unknown }).srcObject = ms;
    } else {
      this.objectUrl = URL.createObjectURL(ms);
      audio.src = this.objectUrl;
    }
    await opened;
    if (this.closed || this.ms !== ms) return;
    const sb = ms.addSourceBuffer(LISTEN_MSE_MIME);
    sb.mode = 'sequence';
    this.sb = sb;
    this.queue = new AppendQueue(sb, {
      appended: (arrivalMs) => this.onAppended(arrivalMs),
      full: () => this.makeRoom(),
      failed: (message) => this.onMediaError(message),
    });
    const early = this.early;
    this.early = [];
    for (const m of early) this.queue.append(m.data, m.arrivalMs);
  }

  private closeMediaSource(): void {
    this.queue?.close();
    this.queue = null;
    this.sb = null;
    this.ms = null;
    if (this.objectUrl !== null) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
  }

  /** The element or the SourceBuffer failed: count it, start a fresh MediaSource with the last init segment. */
  private onMediaError(message: string): void {
    if (this.closed || this.ms === null) return;
    this.decodeErrors++;
    this.events.problem(`${message}; restarting the player`);
    this.closeMediaSource();
    this.edge.reset();
    this.resumeMark = null;
    if (!this.userPaused) this.state = 'buffering';
    if (this.initSegment !== null) this.early.push({ data: this.initSegment, arrivalMs: performance.now() });
    this.openMediaSource().catch((err: Error) => this.events.problem(err.message));
  }

  private onAppended(arrivalMs: number): void {
    const end = this.bufferedEnd();
    if (end > 0) this.edge.appended(end, arrivalMs);
    this.check();
  }

  private onPlaying(): void {
    if (this.firstAudioMs === null) this.firstAudioMs = performance.now();
  }

  /** QuotaExceededError: drop everything more than 2 s behind the playhead, ahead of the waiting append. */
  private makeRoom(): void {
    const t = this.audio?.currentTime ?? 0;
    const start = this.bufferedStart();
    if (t - 2 > start) this.queue?.remove(start, t - 2, true);
  }

  /** The player's loop: start, catch up, detect underruns, trim. Runs every TICK_MS and on events. */
  private check(): void {
    const audio = this.audio;
    if (this.closed || audio === null || this.sb === null) return;
    const t = audio.currentTime;
    const start = this.bufferedStart();
    const end = this.bufferedEnd();
    const ahead = end - t;

    const trim = trimRange(t, start, KEEP_BEHIND_S);
    if (trim !== null) this.queue?.remove(trim.start, trim.end);

    if (this.userPaused) return;
    if (this.ending) {
      this.endStreamWhenDrained();
      if (this.state !== 'playing' || ahead < 0.05 || audio.ended) {
        this.state = 'ended';
        audio.pause();
      }
      return;
    }
    if (this.state === 'playing') {
      // Paused by someone else (the OS took the audio, a headset was unplugged): carry on.
      if (audio.paused && ahead >= UNDERRUN_AHEAD_S) this.play(audio);
      if (ahead < UNDERRUN_AHEAD_S) {
        this.stalls++;
        this.state = 'buffering';
        this.controller.reset();
        audio.pause();
        this.events.stall();
        return;
      }
      const now = performance.now();
      const edge = this.edge.at(now);
      if (edge === null) return;
      if (this.reanchorAtMs !== null && now >= this.reanchorAtMs) {
        this.reanchorAtMs = null;
        if (edge - t > this.targetS + REANCHOR_OVER_S) {
          audio.currentTime = startPosition(start, end, this.targetS);
          this.controller.reset();
          return;
        }
      }
      const d = this.controller.decide({ currentTime: t, bufferedStart: start, bufferedEnd: end, liveEdge: edge });
      if (d.seekTo !== null) audio.currentTime = d.seekTo;
      if (Math.abs(audio.playbackRate - d.playbackRate) > 1e-4) audio.playbackRate = d.playbackRate;
      return;
    }

    // Buffering (first start, after an underrun, after a resume): wait for the target, and
    // for the listener's click where the browser wants one before sound.
    const from = this.resumeMark ?? t;
    if (end - from < this.targetS || this.needsGesture) return;
    const at = Math.max(from, startPosition(start, end, this.targetS));
    if (Math.abs(at - t) > 0.05) audio.currentTime = at;
    this.resumeMark = null;
    this.state = 'playing';
    audio.playbackRate = 1;
    this.play(audio);
  }

  private play(audio: HTMLAudioElement): void {
    audio.play().catch((err: unknown) => {
      if (err instanceof DOMException && err.name === 'NotAllowedError') {
        this.needsGesture = true;
        this.state = 'buffering';
      }
    });
  }

  private endStreamWhenDrained(): void {
    const ms = this.ms;
    if (ms === null || ms.readyState !== 'open' || this.sb?.updating || (this.queue?.length ?? 0) > 0) return;
    try {
      ms.endOfStream();
    } catch {
      // Already ended or closed: nothing to do.
    }
  }

  private bufferedStart(): number {
    const b = this.sb?.buffered;
    return b && b.length > 0 ? b.start(0) : 0;
  }

  private bufferedEnd(): number {
    const b = this.sb?.buffered;
    return b && b.length > 0 ? b.end(b.length - 1) : 0;
  }

  private listen(target: EventTarget, type: string, fn: () => void): void {
    target.addEventListener(type, fn);
    this.listeners.push([type, fn]);
  }
}
