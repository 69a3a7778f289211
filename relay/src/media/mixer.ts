/**
 * A trace's mix: the live stations of one trace (a call) at one tap, PRE or POST, summed
 * into one 48 kHz stream, the call as a person on the line would hear it, and encoded for
 * listeners exactly like one station's egress (an EgressEncoder of egress.ts writes its
 * packets into the worker's egress batch, under the mix's own number). The worker keeps a
 * Mixer per (trace, tap) while the mix has listeners (worker.ts); each live station of the
 * trace hangs a MixInput off that tap, stations that start later too, and a station that
 * ends leaves. The pool puts a trace's stations on one worker (pool.ts); should they be
 * spread over two anyway, a mix hears only the stations on its own worker.
 *
 * Placement by media time. A frame's time is bucketTs + offset / rate (ARCHITECTURE.md
 * "Time") and every station's timeline lies on the same 20 ms wall-clock grid, so a frame
 * is exactly slot n = time / 20 ms. A station at another rate than 48 kHz goes through a
 * resampler of its own (worklets/dsp/resampler.ts: 20 ms in, exactly 960 samples out; its
 * 0.5 to 1.5 ms delay is left as it is). Slot sums wait in a ring of MIX_RING_SLOTS.
 *
 * When a slot goes out: in order, once every active contributor has delivered it (that
 * slot or a later one), or once it is clearly late: the arrival clock (the newest ingest
 * arrival of any frame in the mix) is past the slot's end by the horizon. A contributor is
 * active while its newest frame arrived at most MIX_IDLE_MS before the arrival clock: a
 * station that stalls stops being waited for. A frame for a slot already sent is dropped
 * and counted (`late_frames`, and per contributor).
 * - Why the arrival clock, not "3 slots behind the newest slot anyone delivered": a station
 *   whose first packets came late or in a burst (a capture that buffered while its socket
 *   opened) runs ahead of the wall clock for its whole life, by up to the live clock's
 *   500 ms gate advance; with the newest slot as the clock, every other station of the
 *   call would be late, always. Arrival times (stamped on the main thread) keep the wall
 *   clock's pace and, unlike the worker's clock, do not jump when a busy worker catches up
 *   with a batch (framer.ts takes the same line). For the same reason no slot goes out
 *   before the arrival clock is within one slot of its start: an ahead station waits in
 *   the ring for the others, rather than dragging the mix ahead of them.
 * - The horizon, an adaptive jitter allowance: 3 slots (60 ms) at least; the largest lag
 *   seen in the last 5 to 10 s (how long after its slot's end a frame arrived) plus a slot,
 *   at most MIX_MAX_HORIZON_MS. Waiting costs latency only while a station is actually
 *   late; a station that is steadily late (a sender's clock slower than ours) is waited
 *   for instead of being dropped from the call frame by frame.
 * - When nothing has arrived for MIX_TICK_SLACK_MS, the worker's clock (less that slack,
 *   `tick`) moves the arrival clock on, so the last slots of stations that all stopped go.
 * - A slot nobody delivered anything for (every station stalled, none left) is not sent:
 *   the mix's timestamps jump, as one station's do after a resync. A mix without stations
 *   sends nothing; when a station joins, it mixes again (same encoder, sequence going on).
 *
 * Headroom: the voices are summed at unity and the project's peak limiter (limiter.ts,
 * MIX_LIMITER_THRESHOLD_DBFS, 50 ms release, no look-ahead) keeps the sum's peaks under the
 * ceiling. Not a 1/N gain: that would turn every voice down as people join (-9.5 dB each
 * in a call of three), move everyone's level when someone joins or leaves, and make the
 * mix quieter than each station's own meters and egress say, while speakers seldom peak
 * together; the limiter touches only the moments that would clip (`limited_slots`).
 *
 * Nothing on the per-frame path allocates: the ring, the resamplers and the frame handed
 * to the encoder are made when the mixer or the input is.
 */
import { dbToAmp } from '../../../worklets/dsp/constants.ts';
import { PeakLimiter } from '../../../worklets/dsp/limiter.ts';
import { Resampler } from '../../../worklets/dsp/resampler.ts';
import { PROCESSING_FRAME_MS } from '../time/bucket-clock.ts';
import { STREAM_SAMPLE_RATE, type OpusStreamOptions } from './codecs/opus-encoder.ts';
import type { EgressBatchWriter } from './egress-batch.ts';
import { EgressEncoder } from './egress.ts';
import type { Frame, Stage, StageStats, TapSink } from './stage.ts';

const SLOT_MS = PROCESSING_FRAME_MS;
/** One slot of the mix: 20 ms at 48 kHz. */
const SLOT_SAMPLES = (STREAM_SAMPLE_RATE * SLOT_MS) / 1000;
/** Slots held at most (960 ms): a station up to ~560 ms ahead of the wall clock plus the longest wait. */
export const MIX_RING_SLOTS = 48;
/** The least a slot waits for an active contributor after its end, ms (3 slots). */
export const MIX_MIN_HORIZON_MS = 60;
/** The most, ms, however late a contributor has been. */
export const MIX_MAX_HORIZON_MS = 300;
/** A contributor whose newest frame is this much older than the arrival clock is not waited for, ms. */
export const MIX_IDLE_MS = 200;
/** The horizon follows the largest lag of the current and the previous period of this length, ms. */
const LAG_PERIOD_MS = 5000;
/** `tick`: the worker's clock less this moves the arrival clock on once nothing arrives, ms. */
export const MIX_TICK_SLACK_MS = 100;
/** The limiter's ceiling on the mix, dBFS of sample peak (the limiter knob's default). */
export const MIX_LIMITER_THRESHOLD_DBFS = -1;

/** What the mixer needs of a station (worker.ts passes Station): its number, its rate, and its taps to hang a sink on. */
export interface MixSource {
  readonly id: number;
  readonly sampleRate: number;
  attachSink(tap: 0 | 1, sink: TapSink): void;
  detachSink(tap: 0 | 1, sink: TapSink): boolean;
}

/** One station's way into the mix: a sink on its tap, with the resampler its rate needs. */
class MixInput implements TapSink {
  /** The latest slot delivered (the mix does not wait for this station's earlier slots). */
  lastSlot = -Infinity;
  /** Arrival of the newest frame delivered, epoch ms. */
  lastArrivalMs = -Infinity;
  frames = 0;
  late = 0;
  readonly msPerSample: number;
  private readonly frameSamples: number;
  private readonly resampler: Resampler | null;
  /** A short (last) frame, padded with silence into a whole block for the resampler. */
  private readonly padded: Float32Array | null;
  /** The resampler's output: one slot at 48 kHz. */
  private readonly resampled: Float32Array | null;

  constructor(
    readonly source: MixSource,
    private readonly mixer: Mixer,
  ) {
    const rate = source.sampleRate;
    this.msPerSample = 1000 / rate;
    this.frameSamples = (rate * SLOT_MS) / 1000;
    const direct = rate === STREAM_SAMPLE_RATE;
    this.resampler = direct ? null : new Resampler(rate, STREAM_SAMPLE_RATE, this.frameSamples);
    this.padded = direct ? null : new Float32Array(this.frameSamples);
    this.resampled = direct ? null : new Float32Array(SLOT_SAMPLES);
  }

  consume(frame: Frame): void {
    this.mixer.take(this, frame);
  }

  /** Adds the frame, at 48 kHz, into sum[0..960). */
  addInto(frame: Frame, sum: Float32Array): void {
    const n = frame.length;
    const src = frame.samples;
    if (this.resampler === null) {
      for (let i = 0; i < n; i++) sum[i] += src[i];
      return;
    }
    let block = src;
    if (n < this.frameSamples) {
      block = this.padded as Float32Array;
      for (let i = 0; i < n; i++) block[i] = src[i];
      block.fill(0, n);
    }
    const out = this.resampled as Float32Array;
    this.resampler.process(block, this.frameSamples, out); // exactly 960: 20 ms in, 20 ms out
    for (let i = 0; i < SLOT_SAMPLES; i++) sum[i] += out[i];
  }
}

export class Mixer implements Stage {
  private readonly inputs: MixInput[] = [];
  private readonly encoder: EgressEncoder;
  private readonly limiter = new PeakLimiter(STREAM_SAMPLE_RATE);
  /** Slot sums, one view per ring place; a slot n sits at n mod MIX_RING_SLOTS. */
  private readonly ring: Float32Array[] = [];
  /** The slot number at each ring place (-1: empty), and the newest arrival in it. */
  private readonly ringSlot = new Float64Array(MIX_RING_SLOTS).fill(-1);
  private readonly ringArrivalMs = new Float64Array(MIX_RING_SLOTS);
  /** Ring places holding a slot not yet sent. */
  private pending = 0;
  /** The next slot to send (NaN before the first frame). */
  private nextSlot = NaN;
  private newestSlot = -Infinity;
  private newestArrivalMs = -Infinity;
  private tickClockMs = -Infinity;
  private horizonMs = MIX_MIN_HORIZON_MS;
  private lagPeakMs = -Infinity;
  private previousLagPeakMs = -Infinity;
  private lagPeriodStartMs = -Infinity;
  /** What the encoder is handed: a slot as a Frame (reused). */
  private readonly out: Frame = { samples: new Float32Array(0), length: SLOT_SAMPLES, bucketTs: 0, offset: 0, arrivalMs: 0, concealed: false };
  private slots = 0;
  private lateFrames = 0;
  private slotsWithoutAll = 0;
  private overrunSlots = 0;
  private limitedSlots = 0;
  private peakIn = 0;
  private peakOut = 0;
  private readonly ceiling = dbToAmp(MIX_LIMITER_THRESHOLD_DBFS);
  private closed = false;

  constructor(
    /** The mix's number (from the pool's station numbers): its packets carry it in the egress batch. */
    readonly id: number,
    /** 0 for PRE, 1 for POST. */
    readonly tap: 0 | 1,
    /** The handle's count of this tap's encoder starts (egress-batch.ts `generation`). */
    readonly generation: number,
    /** Bitrate and complexity; an EgressOptions `historyMs` is ignored: a mix keeps no audio to replay, its packets are all live. */
    options: OpusStreamOptions,
    batch: EgressBatchWriter,
  ) {
    this.encoder = new EgressEncoder(id, tap, generation, STREAM_SAMPLE_RATE, options, batch);
    this.limiter.set(MIX_LIMITER_THRESHOLD_DBFS);
    const sums = new Float32Array(MIX_RING_SLOTS * SLOT_SAMPLES);
    for (let i = 0; i < MIX_RING_SLOTS; i++) this.ring.push(sums.subarray(i * SLOT_SAMPLES, (i + 1) * SLOT_SAMPLES));
  }

  /** Stations in the mix. */
  get contributors(): number {
    return this.inputs.length;
  }

  /** New bitrate and complexity from the next packet on; the stream and its sequence go on. */
  configure(options: OpusStreamOptions): void {
    this.encoder.configure(options);
  }

  /** A station of the trace joins the mix (from its next frame on); joining twice changes nothing. */
  join(source: MixSource): void {
    if (this.closed || this.inputs.some((c) => c.source.id === source.id)) return;
    const input = new MixInput(source, this);
    this.inputs.push(input);
    source.attachSink(this.tap, input);
  }

  /** A station leaves (it ended): the slots that waited for it go; with no station left, everything held goes. */
  leave(stationId: number): void {
    const i = this.inputs.findIndex((c) => c.source.id === stationId);
    if (i < 0) return;
    const input = this.inputs[i];
    input.source.detachSink(this.tap, input);
    this.inputs.splice(i, 1);
    if (this.inputs.length === 0 && !Number.isNaN(this.nextSlot)) this.advanceTo(this.newestSlot + 1, Infinity);
    else this.sendDue();
  }

  /** The worker's timer: once nothing has arrived for a while, its clock moves the mix on. */
  tick(nowMs: number): void {
    this.tickClockMs = nowMs - MIX_TICK_SLACK_MS;
    this.sendDue();
  }

  /** @internal A contributor's frame (MixInput.consume). */
  take(input: MixInput, frame: Frame): void {
    if (this.closed) return;
    const n = Math.round((frame.bucketTs + frame.offset * input.msPerSample) / SLOT_MS);
    const arrivalMs = frame.arrivalMs;
    input.frames++;
    if (arrivalMs > this.newestArrivalMs) this.newestArrivalMs = arrivalMs;
    this.noteLag(arrivalMs - (n + 1) * SLOT_MS);
    // The first frame: earlier slots are due for nobody, but a station behind this one may still fill them.
    if (Number.isNaN(this.nextSlot)) this.nextSlot = Math.min(n, Math.floor((arrivalMs - this.horizonMs) / SLOT_MS));
    if (n < this.nextSlot) {
      input.late++;
      this.lateFrames++;
    } else {
      if (n >= this.nextSlot + MIX_RING_SLOTS) {
        // Further ahead than the ring holds: the oldest slots go now, whoever has not delivered them.
        const before = this.slots;
        this.advanceTo(n - MIX_RING_SLOTS + 1, -Infinity);
        this.overrunSlots += this.slots - before;
      }
      const place = n % MIX_RING_SLOTS;
      if (this.ringSlot[place] !== n) {
        this.ringSlot[place] = n;
        this.ringArrivalMs[place] = arrivalMs;
        this.pending++;
      } else if (arrivalMs > this.ringArrivalMs[place]) {
        this.ringArrivalMs[place] = arrivalMs;
      }
      input.addInto(frame, this.ring[place]);
      if (n > this.newestSlot) this.newestSlot = n;
    }
    if (n > input.lastSlot) input.lastSlot = n;
    if (arrivalMs > input.lastArrivalMs) input.lastArrivalMs = arrivalMs;
    this.sendDue();
  }

  /** Leaves every station's tap and frees the encoder; what is held is not sent. Safe twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.inputs) c.source.detachSink(this.tap, c);
    this.inputs.length = 0;
    this.encoder.close();
  }

  /** Each contributor's frames and late frames, for debugging and tests. */
  contributorStats(): { id: number; frames: number; late: number }[] {
    return this.inputs.map((c) => ({ id: c.source.id, frames: c.frames, late: c.late }));
  }

  stats(): StageStats {
    const e = this.encoder.stats();
    return {
      tap: this.tap === 0 ? 'PRE' : 'POST',
      contributors: this.inputs.length,
      slots: this.slots,
      late_frames: this.lateFrames,
      slots_without_all: this.slotsWithoutAll,
      overrun_slots: this.overrunSlots,
      limited_slots: this.limitedSlots,
      horizon_ms: this.horizonMs,
      peak_in_dbfs: this.peakIn > 0 ? 20 * Math.log10(this.peakIn) : null,
      peak_out_dbfs: this.peakOut > 0 ? 20 * Math.log10(this.peakOut) : null,
      bitrate: e.bitrate,
      complexity: e.complexity,
      packets: e.packets,
      bytes: e.bytes,
      encode_errors: e.encode_errors,
      last_error: e.last_error,
      enabled: !this.closed,
    };
  }

  /** Sends the slots that are due (see the header): in order, up to the last one due. */
  private sendDue(): void {
    if (Number.isNaN(this.nextSlot)) return;
    const clock = Math.max(this.newestArrivalMs, this.tickClockMs);
    let waitedUpTo = Infinity; // the earliest latest slot of the active contributors
    for (let i = 0; i < this.inputs.length; i++) {
      const c = this.inputs[i];
      if (clock - c.lastArrivalMs <= MIX_IDLE_MS && c.lastSlot < waitedUpTo) waitedUpTo = c.lastSlot;
    }
    const late = Math.floor((clock - this.horizonMs) / SLOT_MS) - 1; // (n + 1)·20 + horizon <= clock
    const begun = Math.floor(clock / SLOT_MS) + 1;
    const upTo = Math.min(this.newestSlot, begun, Math.max(late, waitedUpTo));
    if (upTo >= this.nextSlot) this.advanceTo(upTo + 1, waitedUpTo);
  }

  /** Sends every slot before `target` that holds something; empty ones are skipped (a jump). */
  private advanceTo(target: number, waitedUpTo: number): void {
    while (this.nextSlot < target) {
      if (this.pending === 0) {
        this.nextSlot = target;
        return;
      }
      const n = this.nextSlot;
      const place = n % MIX_RING_SLOTS;
      if (this.ringSlot[place] === n) {
        if (n > waitedUpTo) this.slotsWithoutAll++;
        this.send(n, place);
      }
      this.nextSlot = n + 1;
    }
  }

  private send(n: number, place: number): void {
    const sum = this.ring[place];
    let peak = 0;
    for (let i = 0; i < SLOT_SAMPLES; i++) {
      const a = Math.abs(sum[i]);
      if (a > peak) peak = a;
    }
    if (peak > this.peakIn) this.peakIn = peak;
    if (peak > this.ceiling) this.limitedSlots++;
    this.limiter.process(sum, SLOT_SAMPLES);
    for (let i = 0; i < SLOT_SAMPLES; i++) {
      const a = Math.abs(sum[i]);
      if (a > this.peakOut) this.peakOut = a;
    }
    const f = this.out;
    f.samples = sum;
    // EgressEncoder stamps bucketTs + offset / rate: the slot's start, exactly.
    f.bucketTs = n * SLOT_MS;
    f.arrivalMs = this.ringArrivalMs[place];
    this.encoder.consume(f);
    sum.fill(0);
    this.ringSlot[place] = -1;
    this.pending--;
    this.slots++;
  }

  /** The horizon follows the largest lag of the current and previous LAG_PERIOD_MS, plus a slot. */
  private noteLag(lagMs: number): void {
    const clock = Math.max(this.newestArrivalMs, this.tickClockMs);
    const since = clock - this.lagPeriodStartMs;
    if (since >= LAG_PERIOD_MS) {
      this.previousLagPeakMs = since >= 2 * LAG_PERIOD_MS ? -Infinity : this.lagPeakMs;
      this.lagPeakMs = -Infinity;
      this.lagPeriodStartMs = clock;
    }
    if (lagMs > this.lagPeakMs) this.lagPeakMs = lagMs;
    const peak = Math.max(this.lagPeakMs, this.previousLagPeakMs);
    this.horizonMs = Math.min(MIX_MAX_HORIZON_MS, Math.max(MIX_MIN_HORIZON_MS, peak + SLOT_MS));
  }
}
