// The weight SQNR estimate's fast paths against the plain rules they replace: roundToHalf against
// floatToHalf + halfToFloat, the pow2 threshold table against pow2Level's log2, and weightSqnr
// itself against the per-value loops it had (kept below as the reference), all to the last bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  gridLevel,
  pow2Level,
  pow2LevelFromThresholds,
  pow2Magnitude,
  pow2MaxExponent,
  POW2_THRESHOLDS,
  pow2Thresholds,
  safeScale,
  TERNARY_THRESHOLD,
} from '../../../src/core/numerics/gridLevels';
import { roundToHalf } from '../../../src/core/numerics/halfRound';
import {
  CANDIDATE_BITS,
  POW2_BITS,
  WEIGHT_FORMATS,
  weightSqnr,
} from '../../../src/core/numerics/weightSqnr';
import { halfToFloat } from '../../../src/core/onnx/tensorData';
import { DataType } from '../../../src/core/onnx/types';
import { floatToHalf } from '../../../src/core/verify/inputs';
import { makeTensor, seededRandom } from '../../helpers/modelBuilder';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (bits: number): number => ((u32[0] = bits), f32[0]);
const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
/** The double `ulps` steps from positive `x`. */
const stepDouble = (x: number, ulps: number): number => {
  f64[0] = x;
  i64[0] += BigInt(ulps);
  return f64[0];
};

function assertSame(actual: number, expected: number, what: string): void {
  if (!Object.is(actual, expected)) assert.fail(`${what}: ${actual} (expected ${expected})`);
}

test('roundToHalf is halfToFloat(floatToHalf(v)): every half, its midpoints, edges, random values', () => {
  const values: number[] = [0, -0, NaN, Infinity, -Infinity, 65504, 65519.99, 65520, 65536, 1e9];
  values.push(2 ** -14, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -26, 1e-30, fromBits(1));
  for (let h = 0; h < 0x7c00; h++) {
    // Each half, the midpoint to the next one (a tie) and the float32 values either side of both.
    const v = halfToFloat(h);
    const mid = (v + halfToFloat(h + 1)) / 2;
    f32[0] = v;
    const vb = u32[0];
    f32[0] = mid;
    const mb = u32[0];
    values.push(v, mid, fromBits(vb + 1), fromBits(mb - 1), fromBits(mb + 1));
    if (vb > 0) values.push(fromBits(vb - 1));
  }
  const rand = seededRandom(17);
  for (let i = 0; i < 200_000; i++) {
    values.push(fromBits(Math.floor(rand() * 2 ** 32))); // any float32, NaNs included
    values.push((rand() - 0.5) * 2 ** (40 * rand() - 30)); // doubles, rounded to float32 first
  }
  for (const v of values) {
    for (const x of [v, -v]) assertSame(roundToHalf(x), halfToFloat(floatToHalf(x)), `${x}`);
  }
});

test('pow2 thresholds give pow2Level exactly, around every step and at random', () => {
  const rand = seededRandom(23);
  for (let maxExponent = 0; maxExponent <= POW2_THRESHOLDS; maxExponent++) {
    const t = pow2Thresholds(maxExponent);
    assert.ok(t, `a table for maxExponent ${maxExponent}`);
    const check = (r: number): void => {
      for (const x of [r, -r]) {
        const expected = pow2Level(x, maxExponent);
        assertSame(pow2LevelFromThresholds(x, t), expected, `pow2(${x}, ${maxExponent})`);
        assertSame(pow2Magnitude(Math.abs(x), t), Math.abs(expected), `|pow2(${x})|`);
      }
    };
    for (const r of [0, 0.25, 0.5, 1, Math.SQRT2, 2 ** maxExponent, 1e300, Infinity, NaN]) {
      check(r);
    }
    check(stepDouble(0.5, -1));
    // Every double within 3,000 ulps of each step (the window pow2Thresholds checks is 128),
    // and of each √2·2^k, the true boundary the steps are near.
    for (let k = 0; k < POW2_THRESHOLDS; k++) {
      for (const centre of [t[k], Math.SQRT2 * 2 ** k]) {
        if (Number.isNaN(centre)) continue;
        for (let d = -3000; d <= 3000; d++) check(stepDouble(centre, d));
      }
    }
    for (let i = 0; i < 20_000; i++) check(2 ** (14 * rand() - 3));
  }
  assert.equal(pow2Thresholds(POW2_THRESHOLDS + 1), undefined);
  assert.equal(pow2Thresholds(-1), undefined);
  assert.equal(pow2Thresholds(1.5), undefined);
});

/**
 * weightSqnr as it was: the per-value loops over gridLevel, floatToHalf and halfToFloat. The
 * scan written out: per-channel max and Σ|w| over every value, the sample every `stride`-th.
 */
function referenceSqnr(values: Float32Array, dims: number[], axis: number) {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = values.length;
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float64Array(channels);
  const sumAbs = new Float64Array(channels);
  for (let i = 0; i < n; i++) {
    const a = Math.abs(values[i]);
    if (a > maxAbs[channelOf(i)]) maxAbs[channelOf(i)] = a;
    sumAbs[channelOf(i)] += a;
  }
  const stride = Math.ceil(n / 32768);
  const count = Math.ceil(n / stride);
  const samples = Float64Array.from({ length: count }, (_, j) => values[j * stride]);
  const sampleChannels = Int32Array.from({ length: count }, (_, j) => channelOf(j * stride));
  const normalized = new Float64Array(count);
  const channelMax = new Float64Array(count);
  let signal = 0;
  for (let i = 0; i < count; i++) {
    const m = maxAbs[sampleChannels[i]];
    channelMax[i] = m;
    normalized[i] = m > 0 ? samples[i] / m : 0;
    signal += samples[i] * samples[i];
  }
  const sqnrDb: Record<number, number> = {};
  for (const b of CANDIDATE_BITS) {
    const levels = 2 ** (b - 1) - 1;
    let noise = 0;
    for (let i = 0; i < count; i++) {
      const x = normalized[i] * levels;
      let q = Math.floor(x + 0.5);
      if (q > levels) q = levels;
      else if (q < -levels) q = -levels;
      const e = (x - q) * channelMax[i];
      noise += e * e;
    }
    noise /= levels * levels;
    sqnrDb[b] = noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
  }
  const toDb = (s: number, noise: number) => (noise === 0 ? Infinity : 10 * Math.log10(s / noise));
  const meanAbs = sumAbs.map((v) => v / (n / channels));
  const maxExponent = pow2MaxExponent(POW2_BITS);
  const deltas = meanAbs.map((m) => TERNARY_THRESHOLD * m);
  const aboveSum = new Float64Array(channels);
  const aboveCount = new Float64Array(channels);
  for (let i = 0; i < count; i++) {
    const a = Math.abs(samples[i]);
    const c = sampleChannels[i];
    if (a > deltas[c]) {
      aboveSum[c] += a;
      aboveCount[c]++;
    }
  }
  const ternaryScale = Float32Array.from(aboveSum, (s, c) =>
    safeScale(aboveCount[c] > 0 ? s / aboveCount[c] : 0),
  );
  const binaryScale = Float32Array.from(meanAbs, safeScale);
  let ternaryNoise = 0;
  let binaryNoise = 0;
  for (let i = 0; i < count; i++) {
    const w = samples[i];
    const c = sampleChannels[i];
    const e3 = w - gridLevel('ternary', w, 0, deltas[c], maxExponent) * ternaryScale[c];
    const e1 = w - gridLevel('binary', w, 0, 0, maxExponent) * binaryScale[c];
    ternaryNoise += e3 * e3;
    binaryNoise += e1 * e1;
  }
  const step = Math.max(1, Math.ceil(count / (1 << 12)));
  const levelScales = Float32Array.from(maxAbs, (m) => safeScale(m / 2 ** maxExponent));
  const wq = new Float64Array(channels);
  const qq = new Float64Array(channels);
  const taken = new Float64Array(channels);
  const levels = new Float64Array(Math.ceil(count / step));
  let subSignal = 0;
  let fp16Noise = 0;
  for (let i = 0, j = 0; i < count; i += step, j++) {
    const w = samples[i];
    const c = sampleChannels[i];
    subSignal += w * w;
    const q = gridLevel('pow2', w, levelScales[c], 0, maxExponent);
    levels[j] = q;
    wq[c] += w * q;
    qq[c] += q * q;
    taken[c]++;
    const h = halfToFloat(floatToHalf(Math.max(-65504, Math.min(65504, w))));
    fp16Noise += (w - h) * (w - h);
  }
  const pow2Scale = levelScales.map((s, c) =>
    qq[c] > 0 && (step === 1 || taken[c] >= 8) ? safeScale(wq[c] / qq[c]) : s,
  );
  let pow2Noise = 0;
  for (let i = 0, j = 0; i < count; i += step, j++) {
    const e = samples[i] - levels[j] * pow2Scale[sampleChannels[i]];
    pow2Noise += e * e;
  }
  const formats = {
    fp16: toDb(subSignal, fp16Noise),
    pow2: toDb(subSignal, pow2Noise),
    ternary: toDb(signal, ternaryNoise),
    binary: toDb(signal, binaryNoise),
  };
  let sampleZeros = 0;
  for (let i = 0; i < count; i++) if (samples[i] === 0) sampleZeros++;
  return { sqnrDb, formats, sampleZeros };
}

test('weightSqnr gives exactly the figures of the per-value loops on random tensors', () => {
  const rand = seededRandom(29);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
  const shapes: [number[], number][] = [
    [[16, 3, 3, 3], 0],
    [[64, 200], 0], // 12,800 values: the pow2 and fp16 subsample takes every 4th
    [[300, 40], 1],
    [[7, 5000], 0], // 35,000 values: the sample takes every 2nd, the subsample every 8th of those
    [[100, 1000], 1], // every 4th
    [[1, 1], 0],
    [[9, 1000], 1],
    [[4096, 1], 0],
  ];
  for (const [dims, axis] of shapes) {
    for (const kind of ['gauss', 'mixed', 'tiny', 'ints', 'nan', 'inf'] as const) {
      const n = dims.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const r = rand();
        values[i] =
          kind === 'gauss'
            ? 0.05 * gauss()
            : kind === 'tiny'
              ? 1e-5 * gauss() // around fp16's subnormals
              : kind === 'ints'
                ? Math.round(8 * gauss()) / 4 // ties for every rounding, and many zeros
                : r < 0.1
                  ? 0
                  : r < 0.12
                    ? 70000 * Math.sign(gauss()) // beyond fp16's range
                    : r < 0.2
                      ? 2 ** Math.round(10 * gauss()) // powers of two, pow2's own grid
                      : gauss() * 10 ** Math.floor(6 * rand() - 4);
      }
      // Non-finite weights in one channel or in one place (the figures are then NaN or ±∞).
      if (kind === 'nan') values[n >> 1] = NaN;
      if (kind === 'inf') values[Math.floor(n / 3)] = -Infinity;
      // A zero channel.
      const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      if (dims[axis] > 2)
        for (let i = 0; i < n; i++) if (Math.floor(i / inner) % dims[axis] === 1) values[i] = 0;
      const fast = weightSqnr(makeTensor('w', DataType.FLOAT, dims, values), axis, undefined, {
        formats: true,
      });
      const ref = referenceSqnr(values, dims, axis);
      const what = `${kind} ${dims.join('×')} axis ${axis}`;
      for (const b of CANDIDATE_BITS) assertSame(fast.sqnrDb[b], ref.sqnrDb[b], `${what} ${b}-bit`);
      for (const f of WEIGHT_FORMATS) assertSame(fast.formats![f], ref.formats[f], `${what} ${f}`);
      assert.equal(fast.sampleZeros, ref.sampleZeros, `${what} zeros`);
      const plain = weightSqnr(makeTensor('w', DataType.FLOAT, dims, values), axis);
      assert.deepEqual(plain.sqnrDb, fast.sqnrDb, `${what} without formats`);
      assert.equal(plain.formats, undefined);
    }
  }
});
