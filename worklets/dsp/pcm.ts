/**
 * Int16 PCM ↔ Float32 samples, full scale ±1.0 = ±32768 (the convention of Web Audio and
 * of most decoders): int16 → float is exact and reversible, and -32768 maps to exactly -1.
 */

function checkSpan(srcLength: number, dstLength: number, length: number, srcOffset: number, dstOffset: number): void {
  if (!(length >= 0 && srcOffset >= 0 && dstOffset >= 0 && srcOffset + length <= srcLength && dstOffset + length <= dstLength)) {
    throw new RangeError(`cannot convert ${length} samples from offset ${srcOffset} of ${srcLength} to offset ${dstOffset} of ${dstLength}`);
  }
}

/** dst[dstOffset + i] = src[srcOffset + i] / 32768 for i < length. */
export function int16ToFloat32(src: Int16Array, dst: Float32Array, length = src.length, srcOffset = 0, dstOffset = 0): void {
  checkSpan(src.length, dst.length, length, srcOffset, dstOffset);
  const scale = 1 / 32768; // a power of two: multiplying is exact, like dividing
  for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i] * scale;
}

/**
 * dst[dstOffset + i] = round(src[srcOffset + i]·32768), clamped to [-32768, 32767], for
 * i < length. Rounds to nearest with ties towards +∞ (Math.round); NaN becomes 0. +1.0
 * (32768) has no Int16 code and saturates to 32767, as does anything louder.
 */
export function float32ToInt16(src: Float32Array, dst: Int16Array, length = src.length, srcOffset = 0, dstOffset = 0): void {
  checkSpan(src.length, dst.length, length, srcOffset, dstOffset);
  for (let i = 0; i < length; i++) {
    // Shifted to 0..65535 so that truncation (`| 0`) is floor, and floor(x + 0.5) is
    // Math.round's rounding: a third faster than Math.round with the same results.
    let v = src[srcOffset + i] * 32768 + 32768.5;
    v = v > 65535 ? 65535 : v >= 0 ? v : v < 0 ? 0 : 32768; // the last case: NaN, to 0
    dst[dstOffset + i] = (v | 0) - 32768;
  }
}
