/**
 * The low-latency player's adaptive jitter buffer (seed 004 §5): decoded frames in, a
 * steady stream of samples out, one render quantum at a time. It runs inside the
 * AudioWorklet (worklets/processors/playout-processor.ts); everything is allocated in the
 * constructor and nothing in `push` or `pull`.
 *
 * Frames carry an extended sequence number (an integer that does not wrap: the decoder
 * worker unwraps the wire's 16 bits) and are played strictly in sequence order:
 *
 *   - Start: the first frame anchors playout; output stays silent ("buffering") until that
 *     frame has waited the target delay (JitterEstimator: 2·J + 20 ms, raised to recent
 *     lateness, clamped 20-200 ms), counted in output samples, so each frame then plays
 *     `target` ms after it arrived and the queue never runs below about `target` ms (just
 *     before each arrival) nor above target + one frame (just after it). A start with more
 *     queued than that (a burst, or frames held while the decoder loaded) first drops the
 *     oldest, which nobody has heard, so it starts at the live edge.
 *   - A missing frame while later ones are queued is lost: it is concealed and playout
 *     moves on. If it arrives after all, it is late and dropped (counted).
 *   - An empty buffer: the next frame is not lost yet, only late, so playout waits for it
 *     while concealing (at most `underrunFrames` frames, which stretch time); after that it
 *     is an underrun (counted as a stall): silence until the target is queued again.
 *   - Latency hold: the smallest queue over the last `trimWindowMs` is the delay frames
 *     really get. When it is at least target + one frame, one frame is dropped (counted as
 *     skipped), at most once per window (20 ms per 0.5 s: 4 %, like the MSE player's
 *     playbackRate of 1.02-1.05); when it is three frames or more over, once per fifth of
 *     a window, so a burst does not keep the latency up for seconds.
 *
 * Concealment is repeat-with-fade of the last good frame (worklets/dsp/plc.ts's gains:
 * 0.9, 0.81, then -6 dB a frame, silence from the 6th), not the decoder's own PLC: the
 * decoder runs in another thread, ahead of playout, and WebCodecs' AudioDecoder has no way
 * to ask for concealment. A frame that follows concealment or a dropped frame is
 * crossfaded in over `crossfadeSamples` from what would have played next, so neither a
 * splice nor the end of a concealment clicks.
 */
import { concealmentGain } from './plc.ts';
import { JitterEstimator, type JitterEstimatorOptions } from './jitter-estimator.ts';

export interface PlayoutBufferOptions extends JitterEstimatorOptions {
  sampleRate: number;
  /** Samples of one nominal frame (960: 20 ms at 48 kHz). */
  frameSamples: number;
  /** The longest frame `push` accepts (default 3 frames: a 60 ms Opus packet). */
  maxFrameSamples?: number;
  /** Frames the buffer holds (default 32: 640 ms of 20 ms frames, over the 200 ms maximum target). */
  capacityFrames?: number;
  /** Frames concealed on an empty buffer before it counts as an underrun (default 3). */
  underrunFrames?: number;
  /** The window of each latency-hold decision, ms (default 500). */
  trimWindowMs?: number;
  /** Crossfade length after concealment or a dropped frame (default 64 samples, 1.3 ms). */
  crossfadeSamples?: number;
}

/** What `push` did with a frame. */
export const PUSH = { stored: 0, late: 1, duplicate: 2, overflow: 3, restart: 4, invalid: 5 } as const;
export type PushResult = (typeof PUSH)[keyof typeof PUSH];

/** Playout modes. */
export const MODE = { idle: 0, buffering: 1, playing: 2 } as const;
export type PlayoutMode = (typeof MODE)[keyof typeof MODE];

/** Where the samples of the frame being played came from. */
const SOURCE_SILENCE = 0;
const SOURCE_FRAME = 1;
const SOURCE_CONCEALED = 2;

export class PlayoutBuffer {
  readonly frameSamples: number;
  readonly frameMs: number;
  readonly capacityFrames: number;
  readonly estimator: JitterEstimator;

  mode: PlayoutMode = MODE.idle;
  /** Frames received and stored. */
  receivedFrames = 0;
  /** Real frames started. */
  playedFrames = 0;
  /** Frames concealed (lost, or waited for on an empty buffer). */
  concealedFrames = 0;
  /** Frames that arrived after their playout time. */
  lateFrames = 0;
  /** Frames dropped to hold the latency near the target. */
  skippedFrames = 0;
  /** Frames dropped because the buffer was full (playout stopped while frames kept coming). */
  overflowFrames = 0;
  /** Underruns: the buffer ran dry and playout went back to buffering. */
  underruns = 0;
  /** Samples `pull` has produced since construction. */
  samplesOut = 0;
  /** `samplesOut` at the first sample of the first real frame, or -1. */
  firstAudioSample = -1;

  private readonly maxFrame: number;
  private readonly slotSeq: Float64Array;
  private readonly slotLen: Int32Array;
  private readonly slotPcm: Float32Array;
  private readonly underrunFrames: number;
  /** trimWindowMs in output samples. */
  private readonly trimWindow: number;
  private readonly xf: number;
  /** The frame being played (a copy: its slot is free as soon as it starts). */
  private readonly play: Float32Array;
  private playLen = 0;
  private playPos = 0;
  private source = SOURCE_SILENCE;
  /** The last real frame, for concealment. */
  private readonly lastGood: Float32Array;
  private lastGoodLen = 0;
  /** Consecutive concealed frames (the k of concealmentGain). */
  private losses = 0;
  private emptyRun = 0;
  private nextSeq = 0;
  private newestSeq = 0;
  private stored = 0;
  /** Output samples into the current latency-hold window, and the smallest queue in it (samples). */
  private windowSamples = 0;
  private windowMin = Infinity;
  /** Output samples the oldest frame has waited while buffering. */
  private waited = 0;
  private trimDue = false;
  /** The output sample index at which the frame being chosen starts. */
  private outPos = 0;

  constructor(opts: PlayoutBufferOptions) {
    const { sampleRate, frameSamples } = opts;
    if (!(Number.isInteger(frameSamples) && frameSamples > 0)) throw new RangeError(`frameSamples must be a positive integer, got ${frameSamples}`);
    if (!(sampleRate > 0)) throw new RangeError(`sampleRate must be positive, got ${sampleRate}`);
    this.frameSamples = frameSamples;
    this.frameMs = (frameSamples * 1000) / sampleRate;
    this.maxFrame = opts.maxFrameSamples ?? frameSamples * 3;
    this.capacityFrames = opts.capacityFrames ?? 32;
    this.underrunFrames = opts.underrunFrames ?? 3;
    this.trimWindow = Math.round((sampleRate * (opts.trimWindowMs ?? 500)) / 1000);
    this.xf = Math.min(opts.crossfadeSamples ?? 64, frameSamples);
    if (!(Number.isInteger(this.capacityFrames) && this.capacityFrames >= 4)) throw new RangeError(`capacityFrames must be an integer >= 4, got ${this.capacityFrames}`);
    if (this.maxFrame < frameSamples) throw new RangeError(`maxFrameSamples (${this.maxFrame}) must be at least frameSamples (${frameSamples})`);
    this.estimator = new JitterEstimator(opts);
    if (this.estimator.maxDelayMs > (this.capacityFrames - 2) * this.frameMs) {
      throw new RangeError(`capacityFrames ${this.capacityFrames} cannot hold the ${this.estimator.maxDelayMs} ms maximum delay`);
    }
    this.slotSeq = new Float64Array(this.capacityFrames).fill(NaN);
    this.slotLen = new Int32Array(this.capacityFrames);
    this.slotPcm = new Float32Array(this.capacityFrames * this.maxFrame);
    this.play = new Float32Array(this.maxFrame);
    this.lastGood = new Float32Array(this.maxFrame);
  }

  /** The target delay, ms. */
  get targetMs(): number {
    return this.estimator.targetMs;
  }

  /** Arrival jitter, ms. */
  get jitterMs(): number {
    return this.estimator.jitterMs;
  }

  /** Audio queued ahead of the playhead (the rest of the current frame and every frame up to the newest), samples. */
  get bufferedSamples(): number {
    const rest = this.mode === MODE.playing ? this.playLen - this.playPos : 0;
    return rest + this.queuedFrames() * this.frameSamples;
  }

  get bufferedMs(): number {
    return (this.bufferedSamples * this.frameMs) / this.frameSamples;
  }

  /** Forgets every frame and the jitter history (a new connection, or a resume at the live edge). */
  reset(): void {
    this.slotSeq.fill(NaN);
    this.stored = 0;
    this.mode = MODE.idle;
    this.source = SOURCE_SILENCE;
    this.playLen = this.playPos = 0;
    this.losses = this.emptyRun = 0;
    this.windowSamples = 0;
    this.windowMin = Infinity;
    this.waited = 0;
    this.trimDue = false;
    this.estimator.reset();
  }

  /**
   * Stores one decoded frame: `seq` extended (not wrapping), `timestampMs` its media time,
   * `arrivalMs` when its packet arrived (any clock, ms), pcm[0..length).
   */
  push(seq: number, timestampMs: number, arrivalMs: number, pcm: Float32Array, length: number): PushResult {
    if (!(Number.isInteger(seq) && length > 0 && length <= this.maxFrame && length <= pcm.length)) return PUSH.invalid;
    const cap = this.capacityFrames;
    if (this.mode === MODE.idle) {
      this.nextSeq = seq;
      this.newestSeq = seq;
      this.mode = MODE.buffering;
      this.waited = 0;
    } else if (seq < this.nextSeq) {
      // Far behind: the sender restarted its numbering; start over with this frame.
      if (seq < this.nextSeq - cap) {
        this.reset();
        this.store(seq, pcm, length);
        this.nextSeq = this.newestSeq = seq;
        this.mode = MODE.buffering;
        this.estimator.add(arrivalMs, timestampMs);
        return PUSH.restart;
      }
      this.lateFrames++;
      this.estimator.add(arrivalMs, timestampMs);
      return PUSH.late;
    } else if (seq >= this.nextSeq + cap - 1) {
      // No room: playout has not kept up (or the sender jumped ahead). Drop the oldest frames
      // so this one fits, and go on from the oldest frame left, not across a gap of frames
      // that will never come.
      let newNext = seq - (cap - 2);
      for (let s = this.nextSeq; s < newNext; s++) if (this.free(s)) this.overflowFrames++;
      while (newNext < seq && !this.has(newNext)) newNext++;
      this.nextSeq = newNext;
      this.estimator.add(arrivalMs, timestampMs);
      this.store(seq, pcm, length);
      if (seq > this.newestSeq) this.newestSeq = seq;
      return PUSH.overflow;
    }
    const i = this.slot(seq);
    if (this.slotSeq[i] === seq) return PUSH.duplicate;
    this.estimator.add(arrivalMs, timestampMs);
    this.store(seq, pcm, length);
    if (seq > this.newestSeq) this.newestSeq = seq;
    return PUSH.stored;
  }

  /** Writes out[0..length) with the next samples of the stream (silence while buffering). */
  pull(out: Float32Array, length: number): void {
    let i = 0;
    while (i < length) {
      if (this.mode !== MODE.playing) {
        if (this.mode === MODE.buffering && this.readyToStart()) {
          this.dropStaleStart();
          this.mode = MODE.playing;
          this.playLen = this.playPos = 0;
          continue;
        }
        if (this.stored > 0) this.waited += length - i;
        for (; i < length; i++) out[i] = 0;
        break;
      }
      if (this.playPos === this.playLen) {
        this.outPos = this.samplesOut + i;
        this.advance();
        if (this.mode !== MODE.playing) continue;
      }
      const n = Math.min(length - i, this.playLen - this.playPos);
      const play = this.play;
      let p = this.playPos;
      for (let k = 0; k < n; k++) out[i + k] = play[p++];
      this.playPos = p;
      i += n;
    }
    this.samplesOut += length;
    if (this.mode === MODE.playing) this.noteQueue(length);
  }

  /** The oldest frame has waited the target, or a burst already queued more than target + a frame. */
  private readyToStart(): boolean {
    const target = (this.estimator.targetMs * this.frameSamples) / this.frameMs;
    return this.stored > 0 && (this.waited >= target || this.queuedFrames() * this.frameSamples >= target + this.frameSamples);
  }

  /**
   * Starting with more queued than the target (a burst, or frames held while the decoder
   * loaded): the oldest go before anything plays, down to at most a frame over the target
   * (where the queue peaks while playing), so the start is at the live edge. Nobody has heard them, so unlike a drop while
   * playing there is no splice to hide; they count as skipped.
   */
  private dropStaleStart(): void {
    const target = (this.estimator.targetMs * this.frameSamples) / this.frameMs;
    while (this.stored > 1 && this.queuedFrames() * this.frameSamples > target + this.frameSamples) {
      if (this.free(this.nextSeq)) this.skippedFrames++;
      this.nextSeq++;
      while (!this.has(this.nextSeq) && this.nextSeq < this.newestSeq) this.nextSeq++;
    }
  }

  /** Frames from the next one to play up to the newest received (gaps included). */
  private queuedFrames(): number {
    if (this.stored === 0) return 0;
    const n = this.newestSeq - this.nextSeq + 1;
    return n > 0 ? n : 0;
  }

  /** The current frame is played out: choose the next one. */
  private advance(): void {
    const next = this.nextSeq;
    if (this.trimDue && this.has(next) && this.has(next + 1)) {
      this.trimDue = false;
      this.startSplice(next, next + 1);
      this.nextSeq = next + 2;
      this.skippedFrames++;
      return;
    }
    if (this.has(next)) {
      this.startFrame(next);
      this.nextSeq = next + 1;
      return;
    }
    if (this.newestSeq > next && this.stored > 0) {
      // Lost: later frames are here, so this one is past its time.
      this.startConcealment();
      this.nextSeq = next + 1;
      return;
    }
    if (this.emptyRun < this.underrunFrames) {
      // Nothing queued: wait for the frame, concealing meanwhile (time stretches).
      this.emptyRun++;
      this.startConcealment();
      return;
    }
    this.mode = MODE.buffering;
    this.waited = 0;
    this.underruns++;
    this.emptyRun = 0;
    this.losses = 0;
    this.source = SOURCE_SILENCE;
    this.playLen = this.playPos = 0;
  }

  /**
   * Latency hold: the smallest queue over a window of output (taken after each pull) is the
   * delay frames get; a frame is dropped when that is at least target + one frame.
   */
  private noteQueue(length: number): void {
    const q = this.bufferedSamples;
    if (q < this.windowMin) this.windowMin = q;
    this.windowSamples += length;
    const target = (this.estimator.targetMs * this.frameSamples) / this.frameMs;
    // Far over (a burst after a hiccup, a start with frames queued): decide after a fifth of
    // the window, so a large excess goes at up to one frame per 100 ms.
    const far = this.windowSamples * 5 >= this.trimWindow && this.windowMin >= target + 3 * this.frameSamples;
    if (this.windowSamples < this.trimWindow && !far) return;
    this.trimDue = this.windowMin >= target + this.frameSamples;
    this.windowSamples = 0;
    this.windowMin = Infinity;
  }

  private startFrame(seq: number): void {
    const i = this.slot(seq);
    const len = this.slotLen[i];
    const base = i * this.maxFrame;
    const play = this.play;
    const pcm = this.slotPcm;
    if (this.source === SOURCE_FRAME) {
      for (let k = 0; k < len; k++) play[k] = pcm[base + k];
    } else {
      // After concealment or silence: crossfade from what would have come next.
      const gNext = this.source === SOURCE_CONCEALED ? concealmentGain(this.losses + 1) : 0;
      this.crossfadeFromLastGood(pcm, base, len, gNext);
    }
    this.finishStart(i, len);
  }

  /** Drops frame `skip` and plays `seq`, crossfading from the start of the dropped one. */
  private startSplice(skip: number, seq: number): void {
    const a = this.slot(skip) * this.maxFrame;
    const i = this.slot(seq);
    const len = this.slotLen[i];
    const base = i * this.maxFrame;
    const play = this.play;
    const pcm = this.slotPcm;
    const xf = Math.min(this.xf, len, this.slotLen[this.slot(skip)]);
    for (let k = 0; k < xf; k++) {
      const w = (k + 1) / (xf + 1);
      play[k] = pcm[a + k] * (1 - w) + pcm[base + k] * w;
    }
    for (let k = xf; k < len; k++) play[k] = pcm[base + k];
    this.free(skip);
    this.finishStart(i, len);
  }

  /** play = pcm[base..base+len) faded in over lastGood·gNext (its continuation). */
  private crossfadeFromLastGood(pcm: Float32Array, base: number, len: number, gNext: number): void {
    const play = this.play;
    const last = this.lastGood;
    const lastLen = this.lastGoodLen;
    const xf = Math.min(this.xf, len);
    for (let k = 0; k < xf; k++) {
      const w = (k + 1) / (xf + 1);
      const from = lastLen > 0 ? last[k % lastLen] * gNext : 0;
      play[k] = from * (1 - w) + pcm[base + k] * w;
    }
    for (let k = xf; k < len; k++) play[k] = pcm[base + k];
  }

  private finishStart(slot: number, len: number): void {
    const play = this.play;
    const last = this.lastGood;
    for (let k = 0; k < len; k++) last[k] = play[k];
    this.lastGoodLen = len;
    this.slotSeq[slot] = NaN;
    this.stored--;
    this.playLen = len;
    this.playPos = 0;
    this.source = SOURCE_FRAME;
    this.losses = 0;
    this.emptyRun = 0;
    if (this.firstAudioSample < 0) this.firstAudioSample = this.outPos;
    this.playedFrames++;
  }

  private startConcealment(): void {
    this.losses++;
    this.concealedFrames++;
    const g = this.lastGoodLen > 0 ? concealmentGain(this.losses) : 0;
    const len = this.frameSamples;
    const play = this.play;
    const last = this.lastGood;
    const lastLen = this.lastGoodLen;
    if (g === 0) {
      for (let k = 0; k < len; k++) play[k] = 0;
    } else {
      for (let k = 0, j = 0; k < len; k++) {
        play[k] = last[j] * g;
        if (++j === lastLen) j = 0;
      }
    }
    this.playLen = len;
    this.playPos = 0;
    this.source = SOURCE_CONCEALED;
  }

  private slot(seq: number): number {
    const c = this.capacityFrames;
    return ((seq % c) + c) % c;
  }

  private has(seq: number): boolean {
    return this.slotSeq[this.slot(seq)] === seq;
  }

  private store(seq: number, pcm: Float32Array, length: number): void {
    const i = this.slot(seq);
    if (Number.isNaN(this.slotSeq[i])) this.stored++;
    this.slotSeq[i] = seq;
    this.slotLen[i] = length;
    const base = i * this.maxFrame;
    const dst = this.slotPcm;
    for (let k = 0; k < length; k++) dst[base + k] = pcm[k];
    this.receivedFrames++;
  }

  /** Empties seq's slot; true when it held that frame. */
  private free(seq: number): boolean {
    const i = this.slot(seq);
    if (this.slotSeq[i] !== seq) return false;
    this.slotSeq[i] = NaN;
    this.stored--;
    return true;
  }
}
