/**
 * A tap: a point in the chain where the audio is observed, PRE (before the knob chain) and
 * POST (after it). Its meter (BS.1770 K-weighted, worklets/dsp/meters.ts) measures every
 * frame first; then the meter interval (telemetry), the band spectrum, and whatever hangs
 * off the tap (the bucket's audio, the latency probe, a listener egress encoder) see the
 * frame and the meter's values. Nothing here changes the samples. Sinks may come and go
 * between frames (egress.ts hangs on while the tap has listeners).
 */
import { METRIC_NAMES } from '../../../protocol/meter-names.ts';
import { FrameMeter } from '../../../worklets/dsp/meters.ts';
import { BandSpectrum } from '../../../worklets/dsp/spectrum.ts';
import type { MeterInterval } from './meter-interval.ts';
import type { Frame, Stage, StageStats, TapSink } from './stage.ts';


export class Tap implements Stage {
  readonly meter: FrameMeter;
  /**
   * The last frame's values in METRIC_NAMES order: rms, peak, clipping ratio, DC offset,
   * momentary and short-term loudness, true peak.
   */
  readonly values = new Float64Array(METRIC_NAMES.length);
  readonly spectrum: BandSpectrum;
  private readonly sinks: TapSink[] = [];
  private frames = 0;

  constructor(
    /** 0 for PRE, 1 for POST (the meter interval's layout). */
    readonly index: 0 | 1,
    sampleRate: number,
    spectrumFftSize: number,
    private readonly interval: MeterInterval,
  ) {
    this.meter = new FrameMeter(sampleRate);
    this.spectrum = new BandSpectrum(sampleRate, { fftSize: spectrumFftSize });
    interval.watch(index, this.meter.loudness);
  }

  /** Hangs a sink off this tap; sinks see frames in the order they were attached. */
  attach(sink: TapSink): void {
    this.sinks.push(sink);
  }

  /** Takes a sink off this tap (between frames); false if it was not attached. */
  detach(sink: TapSink): boolean {
    const i = this.sinks.indexOf(sink);
    if (i < 0) return false;
    this.sinks.splice(i, 1);
    return true;
  }

  process(frame: Frame): void {
    const m = this.meter;
    const v = this.values;
    m.process(frame.samples, frame.length);
    v[0] = m.rmsDbfs;
    v[1] = m.peakDbfs;
    v[2] = m.clippingRatio;
    v[3] = m.dcOffset;
    v[4] = m.momentaryLufs;
    v[5] = m.shortTermLufs;
    v[6] = m.truePeakDbtp;
    this.interval.add(this.index, frame.length, v);
    this.spectrum.push(frame.samples, frame.length);
    for (let i = 0; i < this.sinks.length; i++) this.sinks[i].consume(frame, v);
    this.frames++;
  }

  stats(): StageStats {
    return {
      tap: this.index === 0 ? 'PRE' : 'POST',
      frames: this.frames,
      rms_dbfs: this.values[0],
      momentary_lufs: this.values[4],
      short_term_lufs: this.values[5],
      true_peak_dbtp: this.values[6],
      integrated_lufs: this.meter.loudness.integratedLufs(),
    };
  }
}
