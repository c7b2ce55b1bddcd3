/**
 * A number rounded to IEEE half precision and read back, without the bits in between:
 * roundToHalf(v) is halfToFloat(floatToHalf(v)) (verify/inputs.ts, onnx/tensorData.ts) for every
 * v, −0, NaN and the infinities included, at a few integer operations per value for the weight
 * SQNR estimate (weightSqnr.ts). Like floatToHalf it rounds v to float32 first, then to half
 * (both to nearest even); beyond the largest half, 65504, it goes to ±Infinity.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Float32 bits of 2^-14, the smallest normal half. */
const HALF_MIN_NORMAL_BITS = 0x38800000;
/** Float32 bits of 65520, halfway between 65504 and 2^16: from there on a half overflows. */
const HALF_OVERFLOW_BITS = 0x477ff000;
/** 1.5·2^52: x + ROUND_MAGIC − ROUND_MAGIC rounds |x| < 2^51 to an integer, ties to even. */
const ROUND_MAGIC = 6755399441055744;

export function roundToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const a = x & 0x7fffffff;
  let r: number;
  if (a >= HALF_MIN_NORMAL_BITS) {
    if (a >= HALF_OVERFLOW_BITS) return a > 0x7f800000 ? NaN : x === a ? Infinity : -Infinity;
    // A normal half keeps 10 of float32's 23 mantissa bits: round the low 13 to nearest even
    // (a carry out of the mantissa moves the exponent up, as it should) and read the float32.
    u32[0] = (a + 0xfff + ((a >>> 13) & 1)) & 0xffffe000;
    r = f32[0];
  } else {
    // Subnormal half (or zero): a multiple of 2^-24. Scaling by 2^24 is exact.
    u32[0] = a;
    r = (f32[0] * 16777216 + ROUND_MAGIC - ROUND_MAGIC) / 16777216;
  }
  return x === a ? r : -r;
}
