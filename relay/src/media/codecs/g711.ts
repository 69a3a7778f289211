/**
 * ITU-T G.711 mu-law and A-law (seed 004 §4.3: the 8 kHz fallback codecs, one byte a sample).
 *
 * Decoding is a 256-entry table of the G.711 reconstruction values (Tables 2a/2b, as 16-bit
 * linear) divided by 32768, so a decoded block is one table lookup per sample and allocates
 * nothing. Encoding follows the classic reference code (Sun Microsystems' public-domain
 * g711.c, which SoX uses): G.711 is defined on 14-bit (mu-law) and 13-bit (A-law) linear PCM,
 * so 16-bit input is first rounded to that precision (round half up). The result matches
 * `sox -e mu-law` / `-e a-law` byte for byte over all 65536 inputs. ITU-T G.191's reference
 * truncates instead of rounding (2 to 4 inputs per decision level differ); ffmpeg differs at
 * segment edges, where it picks the nearest reconstruction level rather than the G.711
 * decision level (up to about a half step away).
 */

function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0x0f) << 3) + 0x84; // mantissa with the 0x84 (= 33 << 2) bias
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

function alawToLinear(code: number): number {
  const a = code ^ 0x55; // G.711 A-law inverts the even bits on the line
  const seg = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  if (seg === 0) t += 8;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

/** Reconstruction values as 16-bit linear integers, indexed by code. */
export const MULAW_TO_INT16: Int16Array = Int16Array.from({ length: 256 }, (_, c) => ulawToLinear(c));
export const ALAW_TO_INT16: Int16Array = Int16Array.from({ length: 256 }, (_, c) => alawToLinear(c));

const MULAW_TO_FLOAT = Float32Array.from(MULAW_TO_INT16, (v) => v / 32768);
const ALAW_TO_FLOAT = Float32Array.from(ALAW_TO_INT16, (v) => v / 32768);

function decodeWith(table: Float32Array, src: Uint8Array, dst: Float32Array): number {
  const n = src.length;
  if (dst.length < n) throw new RangeError(`dst holds ${dst.length} samples; ${n} are needed`);
  for (let i = 0; i < n; i++) dst[i] = table[src[i]];
  return n;
}

/** Decodes mu-law bytes into dst as value/32768. Returns the samples written (src.length). */
export function decodeMulaw(src: Uint8Array, dst: Float32Array): number {
  return decodeWith(MULAW_TO_FLOAT, src, dst);
}

/** Decodes A-law bytes into dst as value/32768. Returns the samples written (src.length). */
export function decodeAlaw(src: Uint8Array, dst: Float32Array): number {
  return decodeWith(ALAW_TO_FLOAT, src, dst);
}

// Segment end points of the reference encoder: mu-law on biased 14-bit magnitudes, A-law on
// 12-bit magnitudes (13-bit signed).
const SEG_END_ULAW = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const SEG_END_ALAW = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
const ULAW_BIAS = 0x21; // 33, in 14-bit units
const ULAW_CLIP = 8159; // largest 14-bit magnitude before the bias

function segment(v: number, ends: readonly number[]): number {
  let s = 0;
  while (s < 8 && v > ends[s]) s++;
  return s;
}

function linear14ToUlaw(pcm14: number): number {
  let mask = 0xff;
  let v = pcm14;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  }
  if (v > ULAW_CLIP) v = ULAW_CLIP;
  v += ULAW_BIAS;
  const seg = segment(v, SEG_END_ULAW);
  if (seg >= 8) return 0x7f ^ mask; // the top of the range: code 0x80 / 0x00
  return ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

function linear13ToAlaw(pcm13: number): number {
  let mask = 0xd5;
  let v = pcm13;
  if (v < 0) {
    mask = 0x55;
    v = -v - 1; // A-law has no zero code: -1 lands in the first negative interval
  }
  const seg = segment(v, SEG_END_ALAW);
  if (seg >= 8) return 0x7f ^ mask;
  const mantissa = seg < 2 ? (v >> 1) & 0x0f : (v >> seg) & 0x0f;
  return ((seg << 4) | mantissa) ^ mask;
}

// Encoder tables indexed by the rounded 14-bit (mu-law) or 13-bit (A-law) value, offset to
// be non-negative: 16 KiB and 8 KiB, built on first use.
let ulawTable: Uint8Array | null = null;
let alawTable: Uint8Array | null = null;

function ulawEncodeTable(): Uint8Array {
  if (ulawTable === null) {
    ulawTable = new Uint8Array(1 << 14);
    for (let i = 0; i < ulawTable.length; i++) ulawTable[i] = linear14ToUlaw(i - 8192);
  }
  return ulawTable;
}

function alawEncodeTable(): Uint8Array {
  if (alawTable === null) {
    alawTable = new Uint8Array(1 << 13);
    for (let i = 0; i < alawTable.length; i++) alawTable[i] = linear13ToAlaw(i - 4096);
  }
  return alawTable;
}

/** Encodes 16-bit PCM to mu-law, one byte a sample. */
export function encodeMulaw(src: Int16Array): Uint8Array {
  const table = ulawEncodeTable();
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const r = (src[i] + 2) >> 2; // round to 14 bits
    out[i] = table[(r > 8191 ? 8191 : r) + 8192];
  }
  return out;
}

/** Encodes 16-bit PCM to A-law, one byte a sample. */
export function encodeAlaw(src: Int16Array): Uint8Array {
  const table = alawEncodeTable();
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const r = (src[i] + 4) >> 3; // round to 13 bits
    out[i] = table[(r > 4095 ? 4095 : r) + 4096];
  }
  return out;
}
