/**
 * Band-limited sample-rate conversion of whole segments, for `GET /api/audio/segment?rate=`
 * (seed 000 §5.3's example answers 16 kHz, so an optimizer may want every station at 16 kHz).
 *
 * The converter is libsamplerate's windowed-sinc SRC_SINC_MEDIUM_QUALITY (Erik de Castro
 * Lopo's Secret Rabbit Code, compiled to WebAssembly by @alexanderolsen/libsamplerate-js):
 * 90 % of the lower Nyquist frequency passes flat, everything above the new Nyquist frequency
 * is attenuated by over 100 dB, and the output is aligned with the input (no filter delay).
 * A 5 s segment at 48 kHz converts in about 70 ms on one core.
 *
 * This runs on the control plane, on whole stored segments, never in the media pipeline.
 */
import type libsamplerateModule from '@alexanderolsen/libsamplerate-js';
import { readWav, encodeWav } from './wav.ts';

type Converter = Awaited<ReturnType<typeof libsamplerateModule.create>>;

/**
 * One converter, re-initialized for each pair of rates: an instance holds a WebAssembly
 * memory of about 26 MB, so the relay keeps one, and loads the library only on the first
 * resampled request (importing it allocates that memory). Conversions are synchronous
 * inside it, so one instance serves every request in turn.
 */
let shared: Promise<Converter> | null = null;

function converter(fromRate: number, toRate: number): Promise<Converter> {
  shared ??= import('@alexanderolsen/libsamplerate-js').then(({ default: libsamplerate }) =>
    // SRC_SINC_MEDIUM_QUALITY (libsamplerate's `ConverterType` 1).
    libsamplerate.create(1, fromRate, toRate, { converterType: libsamplerate.ConverterType.SRC_SINC_MEDIUM_QUALITY }),
  );
  return shared;
}

function checkRate(name: string, hz: number): void {
  if (!Number.isInteger(hz) || hz < 1 || hz > 192_000) throw new TypeError(`${name} must be an integer rate in Hz (1-192000), got ${hz}`);
}

/**
 * `samples` (mono, -1..1, at `fromRate` Hz) at `toRate` Hz: a new array of
 * round(length × toRate / fromRate) samples, or a copy when the rates are equal.
 */
export async function resample(samples: Float32Array, fromRate: number, toRate: number): Promise<Float32Array> {
  checkRate('fromRate', fromRate);
  checkRate('toRate', toRate);
  if (fromRate === toRate) return samples.slice();
  if (samples.length === 0) return new Float32Array(0);
  const src = await converter(fromRate, toRate);
  // The setters re-initialize the converter only when a rate changes.
  if (src.inputSampleRate !== fromRate) src.inputSampleRate = fromRate;
  if (src.outputSampleRate !== toRate) src.outputSampleRate = toRate;
  const out = src.simple(samples);
  // libsamplerate may stop a sample short of the exact length at the end of the input.
  const expected = Math.round((samples.length * toRate) / fromRate);
  if (out.length === expected) return out;
  const fitted = new Float32Array(expected);
  fitted.set(out.subarray(0, expected));
  return fitted;
}

/**
 * A WAV file (any format readWav takes; mixed down to mono) as a canonical 16-bit PCM mono
 * WAV at `toRate`, whose header states the new rate. Samples are rounded to 16 bits and
 * clamped at full scale, without dither, so the same input always gives the same bytes.
 */
export async function resampleWav(wav: Buffer, toRate: number): Promise<Buffer> {
  const audio = readWav(wav);
  const y = await resample(audio.samples, audio.sampleRate, toRate);
  const pcm = new Int16Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = Math.round(y[i] * 32768);
    pcm[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return encodeWav(pcm, toRate);
}
