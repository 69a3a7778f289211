/**
 * A/B listening of one bucket: its PRE (A, before the knob chain) and POST (B, after it)
 * segments play through one transport. Both AudioBufferSourceNodes start on the same
 * context time from the same offset, each into its own GainNode, and switching sides only
 * moves the gains (a 5 ms ramp, so the switch does not click): the switch is instant, at
 * the same sample, and the position does not move.
 *
 *   PRE source  -> gain A -┐
 *                          ├-> AnalyserNode (LevelProbe) -> speakers
 *   POST source -> gain B -┘
 *
 * The two segments of a bucket normally have the same length; when they do not (a
 * resampled or damaged file), both are trimmed to the shorter, so that every position
 * exists on both sides.
 */
import type { SnapshotEntry } from '../../../protocol/optimizer-api.ts';
import { resumeWithin } from '../listen/audio-context.ts';
import { LevelProbe } from '../listen/level.ts';
import { AbTransport } from './ab-transport.ts';
import { fetchSegment, SegmentError, type FetchFn } from './segment-fetch.ts';

/** A: PRE, B: POST. */
export type AbSide = 'A' | 'B';
export const AB_SIDE_TAP = { A: 'PRE', B: 'POST' } as const;

/** Gain ramp of a side switch, ms: short enough to sound instant, long enough not to click. */
export const AB_SWITCH_RAMP_MS = 5;
/** How far ahead the sources are (re)started, s: both get the same future start sample. */
const START_AHEAD_S = 0.02;

export interface AbLoaded {
  /** Decoded lengths before trimming, s. */
  preDurationS: number;
  postDurationS: number;
  /** What both sides play (the shorter), s. */
  durationS: number;
  sampleRate: number;
}

export class AbPlayer {
  #ctx: AudioContext | null = null;
  #gains: Record<AbSide, GainNode> | null = null;
  #probe: LevelProbe | null = null;
  #buffers: { PRE: AudioBuffer; POST: AudioBuffer } | null = null;
  #sources: AudioBufferSourceNode[] = [];
  #transport: AbTransport | null = null;
  #side: AbSide = 'A';
  #loop = true;
  #load: AbortController | null = null;
  #starts = 0;
  #closed = false;

  /** `fetchFn`: a fetch that sends the bearer token (session.fetch). */
  constructor(private readonly fetchFn: FetchFn) {}

  get side(): AbSide {
    return this.#side;
  }

  get loaded(): boolean {
    return this.#transport !== null;
  }

  get playing(): boolean {
    this.#settle();
    return this.#transport?.playing ?? false;
  }

  get durationS(): number {
    return this.#transport?.durationS ?? 0;
  }

  get loop(): boolean {
    return this.#loop;
  }

  /** How many times the sources were started (play and seek start them; a side switch does not). */
  get starts(): number {
    return this.#starts;
  }

  /** The context is suspended (autoplay policy): play() must come from a click. */
  get suspended(): boolean {
    return this.#ctx !== null && this.#ctx.state !== 'running';
  }

  /** Position in the bucket, s, from the context clock. */
  positionS(): number {
    return this.clock().positionS;
  }

  /**
   * The position and the context time it was read at, from one reading of the clock: while
   * playing, positionS - contextTimeS stays the same (modulo the bucket) until a seek.
   */
  clock(): { positionS: number; contextTimeS: number } {
    this.#settle();
    if (this.#transport === null || this.#ctx === null) return { positionS: 0, contextTimeS: this.#ctx?.currentTime ?? 0 };
    const now = this.#ctx.currentTime;
    return { positionS: this.#transport.positionS(now), contextTimeS: now };
  }

  /** The samples a side plays (after trimming), for drawing. */
  samples(side: AbSide): Float32Array | null {
    return this.#buffers?.[AB_SIDE_TAP[side]].getChannelData(0) ?? null;
  }

  /** Level of what is heard now: RMS over ~400 ms, peak over ~50 ms, dBFS (-120 when nothing). */
  outputLevel(): { rmsDbfs: number; peakDbfs: number } {
    return this.#probe?.read() ?? { rmsDbfs: -120, peakDbfs: -120 };
  }

  /**
   * Loads a bucket's two segments (in parallel) and stops what played; the side and loop
   * stay. A load started later supersedes this one, which then rejects with an AbortError.
   * Refusals reject with a SegmentError.
   */
  async load(audio: SnapshotEntry['audio']): Promise<AbLoaded> {
    if (this.#closed) throw new Error('AbPlayer is closed');
    this.#load?.abort();
    const ac = new AbortController();
    this.#load = ac;
    this.#stopSources();
    this.#transport = null;
    this.#buffers = null;
    const ctx = this.#context();
    try {
      const [pre, post] = await Promise.all(
        (['PRE', 'POST'] as const).map(async (tap) => {
          const bytes = await fetchSegment(this.fetchFn, audio[tap].endpoint, tap, ac.signal);
          ac.signal.throwIfAborted();
          return ctx.decodeAudioData(bytes).catch((e: unknown) => {
            throw new SegmentError('decode', tap, `The ${tap} segment is not audio this browser decodes: ${e instanceof Error ? e.message : String(e)}.`);
          });
        }),
      );
      ac.signal.throwIfAborted();
      const length = Math.min(pre.length, post.length);
      if (length === 0) throw new SegmentError('decode', pre.length === 0 ? 'PRE' : 'POST', 'The bucket\'s audio is empty.');
      this.#buffers = { PRE: trimmed(pre, length), POST: trimmed(post, length) };
      this.#transport = new AbTransport(length / ctx.sampleRate, this.#loop);
      return { preDurationS: pre.duration, postDurationS: post.duration, durationS: this.#transport.durationS, sampleRate: ctx.sampleRate };
    } catch (e) {
      // Whichever failed first: stop the other fetch too.
      ac.abort();
      throw e;
    } finally {
      if (this.#load === ac) this.#load = null;
    }
  }

  /**
   * Plays from the current position. Call it from a click: a context the autoplay policy
   * keeps suspended resumes only on a user gesture. False when it stayed suspended.
   */
  async play(): Promise<boolean> {
    const ctx = this.#ctx;
    if (this.#closed || ctx === null || this.#transport === null) return false;
    if (ctx.state !== 'running' && !(await resumeWithin(ctx))) return false;
    if (this.#transport === null || this.#transport.playing) return this.#transport !== null;
    const when = ctx.currentTime + START_AHEAD_S;
    this.#startSources(this.#transport.start(when), when);
    return true;
  }

  pause(): void {
    if (this.#ctx === null || this.#transport === null) return;
    this.#stopSources();
    this.#transport.pause(this.#ctx.currentTime);
  }

  /** Moves both sides to `offsetS` (clamped into the bucket); while playing, both restart there together. */
  seek(offsetS: number): void {
    const ctx = this.#ctx;
    if (ctx === null || this.#transport === null) return;
    const playing = this.playing;
    this.#stopSources();
    const when = ctx.currentTime + START_AHEAD_S;
    const from = this.#transport.seek(offsetS, when);
    if (playing) this.#startSources(from, when);
  }

  setLoop(loop: boolean): void {
    this.#loop = loop;
    if (this.#ctx === null || this.#transport === null) return;
    this.#transport.setLoop(loop, this.#ctx.currentTime);
    for (const s of this.#sources) s.loop = loop;
  }

  /** Makes `side` the audible one, by gain only: the sources keep playing where they are. */
  setSide(side: AbSide): void {
    this.#side = side;
    const ctx = this.#ctx;
    if (ctx === null || this.#gains === null) return;
    const t = ctx.currentTime;
    for (const s of ['A', 'B'] as const) {
      const g = this.#gains[s].gain;
      g.cancelScheduledValues(t);
      g.setValueAtTime(g.value, t);
      g.linearRampToValueAtTime(s === side ? 1 : 0, t + AB_SWITCH_RAMP_MS / 1000);
    }
  }

  toggleSide(): AbSide {
    this.setSide(this.#side === 'A' ? 'B' : 'A');
    return this.#side;
  }

  /** Stops, releases the nodes and the context. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#load?.abort();
    this.#stopSources();
    if (this.#gains !== null) for (const g of Object.values(this.#gains)) g.disconnect();
    this.#probe?.node.disconnect();
    void this.#ctx?.close().catch(() => undefined);
    this.#ctx = null;
    this.#gains = null;
    this.#probe = null;
    this.#buffers = null;
    this.#transport = null;
  }

  #context(): AudioContext {
    if (this.#ctx !== null) return this.#ctx;
    const ctx = new AudioContext({ latencyHint: 'interactive' });
    const probe = new LevelProbe(ctx);
    probe.node.connect(ctx.destination);
    const gains = {
      A: new GainNode(ctx, { gain: this.#side === 'A' ? 1 : 0 }),
      B: new GainNode(ctx, { gain: this.#side === 'B' ? 1 : 0 }),
    };
    gains.A.connect(probe.node);
    gains.B.connect(probe.node);
    this.#ctx = ctx;
    this.#probe = probe;
    this.#gains = gains;
    return ctx;
  }

  #startSources(offsetS: number, whenCtxS: number): void {
    const ctx = this.#ctx;
    if (ctx === null || this.#buffers === null || this.#gains === null) return;
    for (const side of ['A', 'B'] as const) {
      const src = new AudioBufferSourceNode(ctx, { buffer: this.#buffers[AB_SIDE_TAP[side]], loop: this.#loop });
      src.connect(this.#gains[side]);
      src.start(whenCtxS, offsetS);
      this.#sources.push(src);
    }
    this.#starts++;
  }

  #stopSources(): void {
    for (const s of this.#sources) {
      try {
        s.stop();
      } catch {
        // Never started: nothing to stop.
      }
      s.disconnect();
    }
    this.#sources = [];
  }

  /** A play without loop that reached the end is paused there (the sources ended by themselves). */
  #settle(): void {
    if (this.#ctx !== null && this.#transport !== null && this.#transport.playing && this.#transport.ended(this.#ctx.currentTime)) {
      this.#stopSources();
      this.#transport.pause(this.#ctx.currentTime);
    }
  }
}

/** The first `length` frames of mono `buf` (itself when it has no more). */
function trimmed(buf: AudioBuffer, length: number): AudioBuffer {
  if (buf.length === length && buf.numberOfChannels === 1) return buf;
  const out = new AudioBuffer({ length, numberOfChannels: 1, sampleRate: buf.sampleRate });
  out.copyToChannel(buf.getChannelData(0).subarray(0, length), 0);
  return out;
}
