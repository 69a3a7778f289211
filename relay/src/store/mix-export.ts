/**
 * A whole trace's export: its stations' samples over the range mixed down to one channel at
 * 48 kHz, by the rule of the live listen mix (media/mixer.ts): every station at unity gain,
 * summed, and the project's peak limiter (-1 dBFS ceiling, 50 ms release) on the sum, so
 * each voice keeps the level its own meters and export show and only moments that would
 * clip are touched. Not a 1/N gain, for the reasons given there.
 *
 * Each station is read as its own export would be (segment-export.ts's pcmPieces: its
 * segments, silence in the gaps); a station at another rate goes through the stream
 * resampler the mix uses (worklets/dsp/resampler.ts, band-limited, exactly 960 samples per
 * 20 ms frame), and its filter delay is taken off (unlike the live mix, which has no
 * future samples to spare), so sample j of the mix is at from + j / 48000 for every station.
 *
 * Streamed, in blocks of MIX_BLOCK_SAMPLES: memory is a block and one PCM piece per station,
 * whatever the range; the stations are read in step, one piece ahead at most. Cost on one
 * core: 10 min of one 48 kHz station in about 1 s; of two 16 kHz stations (resampled) about
 * 5.5 s.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { dbToAmp } from '../../../worklets/dsp/constants.ts';
import { PeakLimiter } from '../../../worklets/dsp/limiter.ts';
import { Resampler } from '../../../worklets/dsp/resampler.ts';
import { STREAM_FRAME_MS, STREAM_SAMPLE_RATE } from '../media/codecs/opus-encoder.ts';
import { MIX_LIMITER_THRESHOLD_DBFS } from '../media/mixer.ts';
import { exportSamples, pcmPieces, type ExportPlan, type PcmSource } from './segment-export.ts';

/** The mix's rate, Hz: the listen mix's and Opus's. */
export const MIX_SAMPLE_RATE = STREAM_SAMPLE_RATE;
/**
 * Samples of the mix per block: 200 ms. The mix runs on the relay's main thread between the
 * writes of a download; a block of two 16 kHz stations (resampled) costs about 2 ms there.
 */
const MIX_BLOCK_SAMPLES = MIX_SAMPLE_RATE / 5;
const FRAME_48K = (MIX_SAMPLE_RATE * STREAM_FRAME_MS) / 1000;

/** One station's samples as 48 kHz floats, taken in blocks. */
class StationReader {
  private readonly pieces: AsyncGenerator<Buffer>;
  private piece: Buffer | null = null;
  private pieceAt = 0;
  private ended = false;
  private readonly frameIn: number;
  private readonly input: Float32Array;
  private readonly resampler: Resampler | null;
  /** The resampler's output: one frame at 48 kHz. */
  private readonly resampled = new Float32Array(FRAME_48K);
  /** 48 kHz samples read and not yet mixed, at [0, held). */
  private readonly held: Float32Array;
  private heldCount = 0;
  /** Outputs still to drop: the resampler's delay. */
  private skip: number;

  constructor(plan: ExportPlan) {
    this.pieces = pcmPieces(plan);
    const rate = plan.sampleRate;
    const direct = rate === MIX_SAMPLE_RATE;
    this.frameIn = direct ? FRAME_48K : (rate * STREAM_FRAME_MS) / 1000;
    this.input = new Float32Array(this.frameIn);
    this.resampler = direct ? null : new Resampler(rate, MIX_SAMPLE_RATE, this.frameIn);
    this.skip = this.resampler === null ? 0 : Math.round((this.resampler.delaySamples * MIX_SAMPLE_RATE) / rate);
    this.held = new Float32Array(MIX_BLOCK_SAMPLES + FRAME_48K);
  }

  /** Adds the next `n` samples (n <= MIX_BLOCK_SAMPLES) into sum[0..n). */
  async addInto(sum: Float32Array, n: number): Promise<void> {
    while (this.heldCount < n) await this.readFrame();
    const held = this.held;
    for (let i = 0; i < n; i++) sum[i] += held[i];
    held.copyWithin(0, n, this.heldCount);
    this.heldCount -= n;
  }

  /** Stops reading (closes the open segment). */
  async close(): Promise<void> {
    await this.pieces.return(undefined);
  }

  /** One 20 ms frame of the station (silence past its end), as 960 samples at 48 kHz after the delay. */
  private async readFrame(): Promise<void> {
    const input = this.input;
    let filled = 0;
    while (filled < this.frameIn) {
      if (this.piece === null || this.pieceAt >= this.piece.length) {
        if (this.ended) break;
        const next = await this.pieces.next();
        if (next.done === true) {
          this.ended = true;
          break;
        }
        this.piece = next.value;
        this.pieceAt = 0;
        continue;
      }
      const take = Math.min(this.frameIn - filled, (this.piece.length - this.pieceAt) >> 1);
      for (let i = 0; i < take; i++) input[filled + i] = this.piece.readInt16LE(this.pieceAt + 2 * i) / 32768;
      filled += take;
      this.pieceAt += 2 * take;
    }
    input.fill(0, filled);
    let out = input;
    if (this.resampler !== null) {
      out = this.resampled;
      this.resampler.process(input, this.frameIn, out); // exactly 960: 20 ms in, 20 ms out
    }
    let from = 0;
    if (this.skip > 0) {
      from = Math.min(this.skip, FRAME_48K);
      this.skip -= from;
    }
    this.held.set(out.subarray(from, FRAME_48K), this.heldCount);
    this.heldCount += FRAME_48K - from;
  }
}

/** The mix over [fromMs, toMs) of the stations' plans (each over that range) at MIX_SAMPLE_RATE; silence without any. */
export function mixSource(fromMs: number, toMs: number, plans: readonly ExportPlan[]): PcmSource {
  for (const p of plans) {
    if (p.fromMs !== fromMs || p.toMs !== toMs) throw new TypeError(`every station's plan must cover [${fromMs}, ${toMs}), got [${p.fromMs}, ${p.toMs})`);
  }
  const samples = exportSamples(fromMs, toMs, MIX_SAMPLE_RATE);
  return { sampleRate: MIX_SAMPLE_RATE, samples, pieces: () => mixPieces(plans, samples) };
}

async function* mixPieces(plans: readonly ExportPlan[], total: number): AsyncGenerator<Buffer> {
  const readers = plans.map((p) => new StationReader(p));
  const limiter = new PeakLimiter(MIX_SAMPLE_RATE);
  limiter.set(MIX_LIMITER_THRESHOLD_DBFS);
  const ceiling = dbToAmp(MIX_LIMITER_THRESHOLD_DBFS);
  const sum = new Float32Array(MIX_BLOCK_SAMPLES);
  try {
    for (let pos = 0; pos < total; ) {
      const n = Math.min(MIX_BLOCK_SAMPLES, total - pos);
      sum.fill(0);
      for (const r of readers) await r.addInto(sum, n);
      limiter.process(sum, n);
      // A fresh buffer per block: the consumer may still hold the previous one.
      const out = Buffer.allocUnsafe(2 * n);
      for (let i = 0; i < n; i++) {
        const s = Math.max(-ceiling, Math.min(ceiling, sum[i]));
        out.writeInt16LE(Math.round(s * 32767), 2 * i);
      }
      yield out;
      pos += n;
      // A turn for the rest of the relay between blocks, whoever consumes them.
      await nextTurn();
    }
  } finally {
    for (const r of readers) await r.close();
  }
}
