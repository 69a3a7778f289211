/**
 * RIFF/WAVE files: a canonical 16-bit PCM writer and a tolerant reader.
 *
 * Writer: the canonical 44-byte header (RIFF, `fmt ` with WAVE_FORMAT_PCM, `data`), little
 * endian as the format requires. Reader: PCM 8/16/24/32-bit integer, IEEE float 32/64-bit,
 * and WAVE_FORMAT_EXTENSIBLE wrapping either; other chunks (LIST, fact, bext, ...) are skipped,
 * word-aligned as RIFF pads odd-sized chunks. A `data` size larger than the file (streaming
 * writers such as `espeak-ng --stdout` and ffmpeg on a pipe leave 0xFFFFFFFF there) is read
 * as "to the end of the file", in whole sample frames.
 */

export type WavErrorCode = 'not_riff' | 'not_wave' | 'missing_fmt' | 'missing_data' | 'unsupported_format' | 'bad_fmt';

export class WavError extends Error {
  readonly code: WavErrorCode;
  constructor(code: WavErrorCode, message: string) {
    super(message);
    this.name = 'WavError';
    this.code = code;
  }
}

export interface WavAudio {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Mono: channel 0 of a mono file, the average of all channels otherwise. */
  samples: Float32Array;
  /** Sample frames (samples per channel). */
  frames: number;
}

const HEADER_BYTES = 44;
const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** RIFF sizes are u32; the RIFF size field counts 36 header bytes besides the data. */
const MAX_DATA_BYTES = 0xffffffff - 36;

/** The canonical 44-byte header for `dataBytes` of 16-bit PCM. */
export function wavHeader(dataBytes: number, sampleRate: number, channels = 1): Buffer {
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > MAX_DATA_BYTES) {
    throw new TypeError(`dataBytes must be an integer in [0, ${MAX_DATA_BYTES}], got ${dataBytes}`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new TypeError(`sampleRate must be a positive integer in Hz, got ${sampleRate}`);
  if (!Number.isInteger(channels) || channels < 1 || channels > 65535) throw new TypeError(`channels must be an integer in [1, 65535], got ${channels}`);
  const blockAlign = channels * 2;
  const h = Buffer.alloc(HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A mono 16-bit PCM WAV file of `samples`. */
export function encodeWav(samples: Int16Array, sampleRate: number): Buffer {
  return Buffer.concat([wavHeader(samples.length * 2, sampleRate, 1), int16LeBytes(samples)]);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The samples as little-endian bytes: a view of the same memory on little-endian machines. */
export function int16LeBytes(samples: Int16Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], 2 * i);
  return out;
}

interface Fmt {
  format: typeof WAVE_FORMAT_PCM | typeof WAVE_FORMAT_IEEE_FLOAT;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign: number;
}

function parseFmt(buf: Buffer, at: number, size: number): Fmt {
  if (size < 16) throw new WavError('bad_fmt', `fmt chunk is ${size} bytes; it must be at least 16`);
  let format = buf.readUInt16LE(at);
  const channels = buf.readUInt16LE(at + 2);
  const sampleRate = buf.readUInt32LE(at + 4);
  const blockAlign = buf.readUInt16LE(at + 12);
  const bitsPerSample = buf.readUInt16LE(at + 14);
  if (format === WAVE_FORMAT_EXTENSIBLE) {
    // WAVEFORMATEXTENSIBLE: cbSize(2) validBits(2) channelMask(4) then the SubFormat GUID,
    // whose first two bytes are the plain format tag.
    if (size < 40) throw new WavError('bad_fmt', `extensible fmt chunk is ${size} bytes; it must be at least 40`);
    format = buf.readUInt16LE(at + 24);
  }
  if (format !== WAVE_FORMAT_PCM && format !== WAVE_FORMAT_IEEE_FLOAT) {
    throw new WavError('unsupported_format', `WAV format tag ${format} is not supported; use PCM (1) or IEEE float (3)`);
  }
  const intOk = format === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample);
  const floatOk = format === WAVE_FORMAT_IEEE_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64);
  if (!intOk && !floatOk) {
    throw new WavError('unsupported_format', `${bitsPerSample}-bit ${format === WAVE_FORMAT_PCM ? 'PCM' : 'float'} is not supported; use 8/16/24/32-bit PCM or 32/64-bit float`);
  }
  if (channels < 1) throw new WavError('bad_fmt', 'fmt chunk says 0 channels');
  if (sampleRate < 1) throw new WavError('bad_fmt', 'fmt chunk says a sample rate of 0');
  if (blockAlign !== channels * (bitsPerSample / 8)) {
    throw new WavError('bad_fmt', `block align ${blockAlign} does not match ${channels} channels of ${bitsPerSample} bits`);
  }
  return { format, channels, sampleRate, bitsPerSample, blockAlign };
}

function sampleReader(buf: Buffer, fmt: Fmt): (offset: number) => number {
  if (fmt.format === WAVE_FORMAT_IEEE_FLOAT) {
    return fmt.bitsPerSample === 32 ? (o) => buf.readFloatLE(o) : (o) => buf.readDoubleLE(o);
  }
  switch (fmt.bitsPerSample) {
    case 8:
      return (o) => (buf[o] - 128) / 128; // 8-bit WAV is unsigned, offset 128
    case 16:
      return (o) => buf.readInt16LE(o) / 32768;
    case 24:
      return (o) => buf.readIntLE(o, 3) / 8388608;
    default:
      return (o) => buf.readInt32LE(o) / 2147483648;
  }
}

/** Parses a WAV file into mono float samples. Throws a WavError for anything else. */
export function readWav(buf: Buffer): WavAudio {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF') {
    throw new WavError('not_riff', 'not a WAV file: it must start with "RIFF"');
  }
  if (buf.toString('ascii', 8, 12) !== 'WAVE') throw new WavError('not_wave', 'RIFF file is not WAVE: bytes 8-11 must be "WAVE"');

  let fmt: Fmt | null = null;
  let pos = 12;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('ascii', pos, pos + 4);
    const declared = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      fmt = parseFmt(buf, body, Math.min(declared, buf.length - body));
    } else if (id === 'data') {
      if (fmt === null) throw new WavError('missing_fmt', 'data chunk comes before any fmt chunk');
      const available = Math.min(declared, buf.length - body);
      const frames = Math.floor(available / fmt.blockAlign);
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, bitsPerSample: fmt.bitsPerSample, samples: mixdown(buf, body, frames, fmt), frames };
    }
    pos = body + declared + (declared & 1);
  }
  if (fmt === null) throw new WavError('missing_fmt', 'WAV file has no fmt chunk');
  throw new WavError('missing_data', 'WAV file has no data chunk');
}

function mixdown(buf: Buffer, at: number, frames: number, fmt: Fmt): Float32Array {
  const read = sampleReader(buf, fmt);
  const bytes = fmt.bitsPerSample / 8;
  const out = new Float32Array(frames);
  const scale = 1 / fmt.channels;
  for (let f = 0, o = at; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < fmt.channels; c++, o += bytes) sum += read(o);
    out[f] = sum * scale;
  }
  return out;
}
