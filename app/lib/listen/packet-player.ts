/**
 * The low-latency player (seed 004 §5): Opus packets from the relay
 * (`mode=packets`), decoded in a worker, played by an AudioWorklet that holds the adaptive
 * jitter buffer.
 *
 *   socket -> decoder worker (comlink; WebCodecs AudioDecoder or WebAssembly libopus)
 *          -> FrameRing on a SharedArrayBuffer (cross-origin isolated) | MessagePort
 *          -> playout worklet (PlayoutBuffer: order, 20-200 ms target, concealment, late drop)
 *          -> AnalyserNode (LevelProbe) -> speakers
 *
 * The page only forwards messages and reads the worklet's published figures (a shared
 * seqlock block, or posted about 20 times a second): buffer, target, jitter, concealed and
 * late frames, underruns, the first audible frame (time to first audio) and bursts heard
 * after silence (for timing the whole path with a marker).
 */
import * as Comlink from 'comlink';
import processorUrl from '../../../worklets/processors/playout-processor.ts?worker&url';
import { FrameRing } from '../../../worklets/processors/frame-ring.ts';
import { PLAYOUT, PLAYOUT_PROCESSOR, PLAYOUT_RING_FRAMES, PLAYOUT_VALUES, type PlayoutCommand, type PlayoutProcessorOptions, type PlayoutStatsMessage } from '../../../worklets/processors/playout-protocol.ts';
import { StatsBlock } from '../../../worklets/processors/stats-block.ts';
import { LISTEN_FRAME_MS, LISTEN_SAMPLE_RATE, type ListenBurst } from '../../../protocol/listen.ts';
import type { DecoderApi, DecoderKind, DecoderStats } from './decoder-api';
import { resumeWithin } from './audio-context';
import { LevelProbe } from './level';
import type { ListenPlayer, PlayerEvents, PlayerFigures, PlayerState } from './player';

const FRAME_SAMPLES = (LISTEN_SAMPLE_RATE * LISTEN_FRAME_MS) / 1000;
/** The longest frame accepted: a 60 ms Opus packet. */
const MAX_FRAME_SAMPLES = FRAME_SAMPLES * 3;
/** Messages held while the decoder loads (a second of packets)... */
const MAX_EARLY_MESSAGES = 50;
/** ...of which the newest are decoded once it is ready (60 ms: enough to start, none stale). */
const EARLY_KEPT = 3;
/** How often the page reads the worklet's figures, ms. */
const POLL_MS = 50;
/** ...and the decoder's counters. */
const DECODER_POLL_MS = 1000;

export interface PacketPlayerOptions {
  events: PlayerEvents;
  /** Jitter buffer bounds, ms (seed 004 §5: 20-200). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Force a decoder (tests, comparisons); 'auto' by default. */
  decoder?: DecoderKind | 'auto';
}

export class PacketPlayer implements ListenPlayer {
  readonly mode = 'packets' as const;
  needsGesture = false;

  private readonly opts: PacketPlayerOptions;
  private ctx: AudioContext | null = null;
  private node: AudioWorkletNode | null = null;
  private probe: LevelProbe | null = null;
  private worker: Worker | null = null;
  private decoder: Comlink.Remote<DecoderApi> | null = null;
  private decoderKind: DecoderKind | null = null;
  private decoderStats: DecoderStats | null = null;
  private block: StatsBlock | null = null;
  private readonly values = new Float64Array(PLAYOUT_VALUES).fill(0);
  private isolated = false;
  private poll: ReturnType<typeof setInterval> | null = null;
  private decoderPoll: ReturnType<typeof setInterval> | null = null;
  private openedAtMs = 0;
  private firstAudioMs: number | null = null;
  private lastOnsets = 0;
  private lastOnsetWallMs: number | null = null;
  private lastUnderruns = 0;
  private paused = false;
  private ended = false;
  private closed = false;
  private early: { data: ArrayBuffer; arrivalMs: number }[] = [];

  constructor(opts: PacketPlayerOptions) {
    this.opts = opts;
    this.values[PLAYOUT.firstAudioFrame] = -1;
    this.values[PLAYOUT.lastOnsetFrame] = -1;
  }

  async open(): Promise<void> {
    this.openedAtMs = performance.now();
    if (typeof AudioWorkletNode === 'undefined') throw new Error('this browser has no AudioWorklet, which the low-latency mode needs; use the MSE mode');
    const ctx = new AudioContext({ sampleRate: LISTEN_SAMPLE_RATE, latencyHint: 'interactive' });
    this.ctx = ctx;
    await ctx.audioWorklet.addModule(processorUrl);

    // A SharedArrayBuffer needs cross-origin isolation (the relay sends COOP/COEP).
    this.isolated = globalThis.crossOriginIsolated === true;
    const ring = this.isolated ? FrameRing.allocate(PLAYOUT_RING_FRAMES, MAX_FRAME_SAMPLES) : null;
    const stats = this.isolated ? StatsBlock.allocate(PLAYOUT_VALUES) : null;
    this.block = stats ? new StatsBlock(stats) : null;
    const processorOptions: PlayoutProcessorOptions = {
      ring,
      stats,
      frameSamples: FRAME_SAMPLES,
      maxFrameSamples: MAX_FRAME_SAMPLES,
      minDelayMs: this.opts.minDelayMs ?? 20,
      maxDelayMs: this.opts.maxDelayMs ?? 200,
    };
    const node = new AudioWorkletNode(ctx, PLAYOUT_PROCESSOR, { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1], processorOptions });
    this.node = node;
    this.probe = new LevelProbe(ctx);
    node.connect(this.probe.node);
    this.probe.node.connect(ctx.destination);

    let port: MessagePort | null = null;
    if (!this.isolated) {
      node.port.onmessage = (e: MessageEvent<PlayoutStatsMessage>) => this.values.set(e.data.values);
      const channel = new MessageChannel();
      this.command({ type: 'frames', port: channel.port1 }, [channel.port1]);
      port = channel.port2;
    }

    // Without a user gesture, resume() may stay pending until one comes (autoplay policy):
    // do not wait for it; the page offers a "Start audio" button, and packets are not
    // decoded until then.
    if (!(await resumeWithin(ctx))) this.needsGesture = true;

    this.worker = new Worker(new URL('./decoder.worker.ts', import.meta.url), { type: 'module', name: 'opus-decoder' });
    this.decoder = Comlink.wrap<DecoderApi>(this.worker);
    const options = { ring, port, prefer: this.opts.decoder ?? 'auto' };
    this.decoderKind = await this.decoder.start(port ? Comlink.transfer(options, [port]) : options);
    // Only the newest few: older ones would only queue stale audio ahead of live.
    const early = this.early.slice(-EARLY_KEPT);
    this.early = [];
    for (const m of early) this.receive(m.data, m.arrivalMs);

    this.poll = setInterval(() => this.read(), POLL_MS);
    this.decoderPoll = setInterval(() => void this.readDecoder(), DECODER_POLL_MS);
  }

  /** Packets start at the live edge whatever is asked (the relay sends no history in this mode). */
  joinBurst(): ListenBurst {
    return 'default';
  }

  connected(): void {
    // A new connection numbers its packets afresh and starts at the live edge.
    this.early = [];
    void this.decoder?.restart();
    this.command({ type: 'reset' });
  }

  receive(data: ArrayBuffer, arrivalMs: number): void {
    // Paused, or waiting for a click to start audio: nothing would play these.
    if (this.closed || this.paused || this.needsGesture) return;
    if (this.decoderKind === null) {
      // Still opening: hold the first packets (bounded) rather than lose them.
      if (this.early.length < MAX_EARLY_MESSAGES) this.early.push({ data, arrivalMs });
      return;
    }
    void this.decoder?.push(Comlink.transfer(data, [data]), arrivalMs);
  }

  streamEnded(): void {
    this.ended = true;
  }

  pause(): void {
    this.paused = true;
    this.command({ type: 'paused', paused: true });
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // The relay resumes at the live edge: nothing queued before the pause is worth playing.
    void this.decoder?.restart();
    this.command({ type: 'reset' });
    this.command({ type: 'paused', paused: false });
  }

  async unlock(): Promise<void> {
    await this.ctx?.resume().catch(() => undefined);
    const was = this.needsGesture;
    this.needsGesture = this.ctx?.state !== 'running';
    // Start from the live edge, not from what the decoder had before the wait.
    if (was && !this.needsGesture) this.connected();
  }

  figures(): PlayerFigures {
    const v = this.values;
    const bufferMs = v[PLAYOUT.bufferMs];
    const ctx = this.ctx;
    const outputMs = ctx ? ((ctx.baseLatency || 0) + (ctx.outputLatency || 0)) * 1000 : 0;
    return {
      state: this.state(),
      currentTime: ((v[PLAYOUT.playedFrames] + v[PLAYOUT.concealedFrames]) * LISTEN_FRAME_MS) / 1000,
      bufferedAheadS: bufferMs / 1000,
      latencyS: this.firstAudioMs === null ? null : (bufferMs + outputMs) / 1000,
      stalls: v[PLAYOUT.underruns],
      timeToFirstAudioMs: this.firstAudioMs === null ? null : this.firstAudioMs - this.openedAtMs,
      firstAudioAtMs: this.firstAudioMs,
      decodeErrors: this.decoderStats?.decodeErrors ?? 0,
      playbackRate: 1,
      playout: {
        decoder: this.decoderKind,
        path: this.isolated ? 'shared ring' : 'messages',
        bufferMs,
        targetMs: v[PLAYOUT.targetMs],
        jitterMs: v[PLAYOUT.jitterMs],
        concealedFrames: v[PLAYOUT.concealedFrames],
        lateFrames: v[PLAYOUT.lateFrames],
        skippedFrames: v[PLAYOUT.skippedFrames],
        overflowFrames: v[PLAYOUT.overflowFrames] + v[PLAYOUT.ringOverruns],
        receivedFrames: v[PLAYOUT.receivedFrames],
        playedFrames: v[PLAYOUT.playedFrames],
        onsets: v[PLAYOUT.onsets],
        lastOnsetWallMs: this.lastOnsetWallMs,
      },
    };
  }

  level(): { rmsDbfs: number; peakDbfs: number } {
    return this.probe?.read() ?? { rmsDbfs: -120, peakDbfs: -120 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poll !== null) clearInterval(this.poll);
    if (this.decoderPoll !== null) clearInterval(this.decoderPoll);
    this.poll = this.decoderPoll = null;
    this.node?.disconnect();
    if (this.node) this.node.port.onmessage = null;
    void this.decoder?.close().catch(() => undefined);
    this.worker?.terminate();
    void this.ctx?.close().catch(() => undefined);
    this.node = null;
    this.worker = null;
    this.decoder = null;
    this.ctx = null;
  }

  private state(): PlayerState {
    if (this.paused) return 'paused';
    const mode = this.values[PLAYOUT.mode];
    if (this.ended && (mode !== 2 || this.values[PLAYOUT.bufferMs] < 1)) return 'ended';
    return mode === 2 ? 'playing' : mode === 1 ? 'buffering' : 'idle';
  }

  private command(cmd: PlayoutCommand, transfer: Transferable[] = []): void {
    this.node?.port.postMessage(cmd, transfer);
  }

  /** Reads the worklet's figures and turns its frame counts into wall times. */
  private read(): void {
    if (this.block !== null) this.block.read(this.values);
    const v = this.values;
    if (this.firstAudioMs === null && v[PLAYOUT.firstAudioFrame] >= 0) this.firstAudioMs = this.frameToPerfMs(v[PLAYOUT.firstAudioFrame]);
    if (v[PLAYOUT.onsets] !== this.lastOnsets && v[PLAYOUT.lastOnsetFrame] >= 0) {
      this.lastOnsets = v[PLAYOUT.onsets];
      this.lastOnsetWallMs = performance.timeOrigin + this.frameToPerfMs(v[PLAYOUT.lastOnsetFrame]);
    }
    if (v[PLAYOUT.underruns] > this.lastUnderruns) {
      this.lastUnderruns = v[PLAYOUT.underruns];
      if (!this.ended) this.opts.events.stall();
    }
  }

  private async readDecoder(): Promise<void> {
    this.decoderStats = (await this.decoder?.stats().catch(() => null)) ?? this.decoderStats;
  }

  /**
   * When the context frame `frame` comes out of the speakers, as performance.now() ms:
   * getOutputTimestamp pairs the frame being output now with its performance time (so
   * the output latency is included); without it, the render clock plus the reported
   * output latency.
   */
  private frameToPerfMs(frame: number): number {
    const ctx = this.ctx as AudioContext;
    const sr = ctx.sampleRate;
    const ts = typeof ctx.getOutputTimestamp === 'function' ? ctx.getOutputTimestamp() : null;
    if (ts && (ts.performanceTime ?? 0) > 0 && (ts.contextTime ?? 0) > 0) return (ts.performanceTime as number) + (frame / sr - (ts.contextTime as number)) * 1000;
    return performance.now() - (ctx.currentTime - frame / sr) * 1000 + ((ctx.baseLatency || 0) + (ctx.outputLatency || 0)) * 1000;
  }
}
