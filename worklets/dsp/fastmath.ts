/**
 * Table-driven log2 and exp2 for per-sample gain computers (the compressor's dB-domain path).
 *
 * Math.log and Math.exp are calls into C in V8 (about 10-15 ns each on the relay's
 * machine); a compressor needs one of each per sample, which made it 6x the cost of every
 * other stage. These read a 257-entry table with linear interpolation instead: error below
 * 3e-6 in log2 (2e-5 dB) and below 1e-6 relative in exp2 (1e-5 dB), far inside what any
 * gain computer can hear or a test of ±0.1 dB can see.
 */

const SEGMENTS = 256;
/** log2(1 + j/256), j = 0..256. */
const LOG2_TABLE = new Float64Array(SEGMENTS + 1);
/** 2^(j/256), j = 0..256. */
const EXP2_TABLE = new Float64Array(SEGMENTS + 1);
for (let j = 0; j <= SEGMENTS; j++) {
  LOG2_TABLE[j] = Math.log2(1 + j / SEGMENTS);
  EXP2_TABLE[j] = Math.pow(2, j / SEGMENTS);
}
/** 2^n for n = -149..128 (index n + 149), exact doubles; beyond the range exp2 saturates. */
const POW2_MIN = -149;
const POW2_MAX = 128;
const POW2_TABLE = new Float64Array(POW2_MAX - POW2_MIN + 1);
for (let n = POW2_MIN; n <= POW2_MAX; n++) POW2_TABLE[n - POW2_MIN] = Math.pow(2, n);

// A float32 viewed as its bits: sample values are float32, so this is exact for any of them.
const F32 = new Float32Array(1);
const BITS = new Uint32Array(F32.buffer);
const MANTISSA_TO_FRACTION = 1 / (1 << 15);

/**
 * log2(x) for a positive, normal float32 value x (1.2e-38 ≤ x < 3.4e38), which every |sample|
 * above -700 dBFS is. Zero, subnormals, NaN and negatives give meaningless results: callers
 * gate on x above a threshold first.
 */
export function log2Fast(x: number): number {
  F32[0] = x;
  const bits = BITS[0];
  const exponent = (bits >>> 23) - 127;
  const mantissa = bits & 0x7fffff;
  const j = mantissa >>> 15; // top 8 bits pick the segment
  const t = (mantissa & 0x7fff) * MANTISSA_TO_FRACTION; // the other 15 place x within it
  const lo = LOG2_TABLE[j];
  return exponent + lo + (LOG2_TABLE[j + 1] - lo) * t;
}

/** 2^p, saturating to 2^-149 below p = -149 and to 2^129 above p = 129. */
export function exp2Fast(p: number): number {
  if (!(p > POW2_MIN)) return POW2_TABLE[0];
  if (p >= POW2_MAX + 1) return 2 * POW2_TABLE[POW2_MAX - POW2_MIN];
  const n = Math.floor(p);
  const s = (p - n) * SEGMENTS;
  const j = s | 0;
  const lo = EXP2_TABLE[j];
  return POW2_TABLE[n - POW2_MIN] * (lo + (EXP2_TABLE[j + 1] - lo) * (s - j));
}
