import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  choleskyLower,
  dampen,
  inverseCholeskyUpper,
  jsMatMul,
  multiplyJs,
  NotPositiveDefiniteError,
  principalSubmatrix,
  solveSpd,
  type MatMul,
  type Matrix,
} from '../../../src/core/numerics/linalg';
import { withOrtMatMul, type OrtMatMul } from '../../../src/core/numerics/matmulEngine';
import { seededRandom } from '../../helpers/modelBuilder';

// Plain textbook references, written independently of the blocked code under test.

function naiveProduct(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

function naiveTranspose(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
  return t;
}

/** Cholesky–Crout, column by column. */
function naiveCholesky(a: ArrayLike<number>, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let p = 0; p < j; p++) d -= l[j * n + p] ** 2;
    l[j * n + j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let p = 0; p < j; p++) s -= l[i * n + p] * l[j * n + p];
      l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}

/** L⁻¹ column by column: L x = e_j. */
function naiveLowerInverse(l: Float64Array, n: number): Float64Array {
  const x = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    for (let i = j; i < n; i++) {
      let s = i === j ? 1 : 0;
      for (let p = j; p < i; p++) s -= l[i * n + p] * x[p * n + j];
      x[i * n + j] = s / l[i * n + i];
    }
  }
  return x;
}

/** The definition GPTQ uses: cholesky(cholesky_inverse(cholesky(H)), upper=True). */
function threeStepHinv(h: Float64Array, n: number): Float64Array {
  const linv = naiveLowerInverse(naiveCholesky(h, n), n);
  const hinv = naiveProduct(naiveTranspose(linv, n, n), linv, n, n, n); // L⁻ᵀ L⁻¹
  return naiveTranspose(naiveCholesky(hinv, n), n, n);
}

/**
 * A well-conditioned SPD matrix: X Xᵀ / cols for a random n×(2n) X, dampened 1% (eigenvalues
 * within about (1 ± 1/√2)², Marchenko–Pastur). multiplyJs, checked first, keeps it quick.
 */
function randomSpd(n: number, seed: number): Float64Array {
  const rand = seededRandom(seed);
  const cols = 2 * n;
  const x = Float64Array.from({ length: n * cols }, () => rand() * 2 - 1);
  const h = multiplyJs(x, x, n, cols, n, true).map((v) => v / cols);
  return dampen(h, n).h;
}

function randomMatrix(r: number, c: number, seed: number): Float64Array {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: r * c }, () => rand() * 2 - 1);
}

/** ‖a − b‖_F / ‖b‖_F */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function maxAbsFromIdentity(p: Float64Array, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(p[i * n + j] - (i === j ? 1 : 0)));
  }
  return worst;
}

function assertUpperWithPositiveDiagonal(u: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    assert.ok(u[i * n + i] > 0, `U[${i}][${i}] = ${u[i * n + i]}`);
    for (let j = 0; j < i; j++) assert.equal(u[i * n + j], 0, `U[${i}][${j}]`);
  }
}

test('multiplyJs agrees with the textbook product, plain and with B transposed, at odd sizes', () => {
  for (const [m, k, n] of [
    [1, 1, 1],
    [3, 5, 7],
    [9, 130, 2],
    [33, 257, 517],
  ]) {
    const a = randomMatrix(m, k, m + 1);
    const b = randomMatrix(k, n, n + 2);
    const want = naiveProduct(a, b, m, k, n);
    assert.ok(relError(multiplyJs(a, b, m, k, n), want) < 1e-14);
    assert.ok(relError(multiplyJs(a, naiveTranspose(b, k, n), m, k, n, true), want) < 1e-14);
    assert.ok(relError(multiplyJs(Float32Array.from(a), b, m, k, n), want) < 1e-6);
  }
});

test('multiplyJs refuses sizes that do not describe its operands', () => {
  assert.throws(() => multiplyJs(new Float64Array(6), new Float64Array(6), 2, 3, 3), /operands/);
  assert.throws(() => multiplyJs(new Float64Array(0), new Float64Array(0), 0, 3, 3), /positive/);
});

test('dampen adds a fraction of the mean diagonal, after giving dead columns a diagonal of 1', () => {
  // diag (4, 0, 2): dead column 1 -> 1; mean (4 + 1 + 2) / 3 = 7/3; 3% of it on every diagonal.
  const h = [4, 0, 1, 0, 0, 0, 1, 0, 2];
  const { h: out, dead } = dampen(h, 3, 0.03);
  const damp = 0.03 * (7 / 3);
  assert.deepEqual(dead, [1]);
  assert.deepEqual([out[0], out[4], out[8]], [4 + damp, 1 + damp, 2 + damp]);
  assert.deepEqual([out[2], out[6]], [1, 1]);
  assert.deepEqual(h, [4, 0, 1, 0, 0, 0, 1, 0, 2], 'the input is not modified');
  assert.equal(dampen([2, 0, 0, 2], 2).h[0], 2.02, 'default 1%');
  assert.throws(() => dampen(h, 3, -1), /non-negative/);
});

test('principalSubmatrix keeps the given rows and columns in their order', () => {
  const h = Array.from({ length: 16 }, (_, i) => i);
  assert.deepEqual([...principalSubmatrix(h, 4, [3, 1])], [15, 13, 7, 5]);
  assert.throws(() => principalSubmatrix(h, 4, [4]), /outside 0..3/);
});

test('choleskyLower gives L Lᵀ = A, lower triangular, for one block and many', async () => {
  for (const [n, blockSize] of [
    [1, 256],
    [5, 256],
    [37, 8],
    [64, 16],
    [200, 256],
  ]) {
    const a = randomSpd(n, n);
    const l = await choleskyLower(a, n, { blockSize });
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(l[i * n + j], 0);
    assert.ok(relError(naiveProduct(l, naiveTranspose(l, n, n), n, n, n), a) < 1e-13);
    assert.ok(relError(l, naiveCholesky(a, n)) < 1e-12);
  }
});

test('choleskyLower reads the lower triangle only', async () => {
  const a = randomSpd(20, 3);
  const garbage = Float64Array.from(a);
  for (let i = 0; i < 20; i++) for (let j = i + 1; j < 20; j++) garbage[i * 20 + j] = 99;
  assert.deepEqual(
    await choleskyLower(garbage, 20, { blockSize: 6 }),
    await choleskyLower(a, 20, { blockSize: 6 }),
  );
});

test('choleskyLower names the first column whose pivot is not positive', async () => {
  // Blocks of 70 and 256 are factored by the blocked code itself, in blocks of 32: the column
  // is still the whole matrix's.
  const n = 150;
  for (const [column, blockSize] of [
    [0, 8],
    [3, 256],
    [21, 8],
    [100, 256],
    [100, 70],
    [149, 8],
  ]) {
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = i === column ? -1 : 2;
    await assert.rejects(
      choleskyLower(a, n, { blockSize }),
      (e: unknown) =>
        e instanceof NotPositiveDefiniteError &&
        e.column === column &&
        e.message === `matrix is not positive definite at column ${column}`,
    );
  }
  await assert.rejects(choleskyLower([1, 2, 2, 1], 2), /not positive definite at column 1/);
  await assert.rejects(choleskyLower([NaN], 1), /at column 0/);
});

test('inverseCholeskyUpper matches cholesky(cholesky_inverse(cholesky(H)), upper=True)', async () => {
  for (const [n, blockSize, seed] of [
    [1, 256, 1],
    [2, 256, 2],
    [37, 8, 3],
    [50, 16, 4],
    [120, 256, 5],
    [200, 64, 6],
  ]) {
    const h = randomSpd(n, seed);
    const u = await inverseCholeskyUpper(h, n, { blockSize });
    assertUpperWithPositiveDiagonal(u, n);
    const err = relError(u, threeStepHinv(h, n));
    assert.ok(err < 1e-9, `n=${n} b=${blockSize}: relative error ${err}`);
    // H · Uᵀ U = I
    const hinv = naiveProduct(naiveTranspose(u, n, n), u, n, n, n);
    const residual = maxAbsFromIdentity(naiveProduct(h, hinv, n, n, n), n);
    assert.ok(residual < 1e-9, `n=${n}: max |H·UᵀU − I| = ${residual}`);
  }
});

test('inverseCholeskyUpper of a diagonal matrix is the diagonal of 1/√h', async () => {
  const u = await inverseCholeskyUpper([4, 0, 0, 0, 16, 0, 0, 0, 0.25], 3);
  assert.deepEqual([...u], [0.5, 0, 0, 0, 0.25, 0, 0, 0, 2]);
});

test('inverseCholeskyUpper names the column of H where it fails (H[c:, c:] not positive definite)', async () => {
  const n = 10;
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) h[i * n + i] = i === 5 ? 0 : 1;
  await assert.rejects(
    inverseCholeskyUpper(h, n, { blockSize: 3 }),
    /not positive definite at column 5$/,
  );
  // dampen is the remedy GPTQ applies: the dead column gets 1 and the factor exists.
  const u = await inverseCholeskyUpper(dampen(h, n).h, n, { blockSize: 3 });
  assertUpperWithPositiveDiagonal(u, n);
});

test('solveSpd solves H X = B for several right-hand sides, blocked or not', async () => {
  for (const [n, m, blockSize] of [
    [1, 1, 256],
    [45, 3, 8],
    [130, 17, 32],
    [130, 1, 256],
  ]) {
    const h = randomSpd(n, n + m);
    const b = randomMatrix(n, m, 7);
    const x = await solveSpd(h, n, b, m, { blockSize });
    assert.ok(relError(naiveProduct(h, x, n, n, m), b) < 1e-12, `n=${n} m=${m}`);
  }
  assert.deepEqual(await solveSpd([2, 0, 0, 2], 2, [], 0), new Float64Array(0));
  await assert.rejects(solveSpd([2, 0, 0, 2], 2, [1, 2, 3], 2), /not 2×2/);
});

test('least-squares reconstruction: W H[:, S] H[S, S]⁻¹ is exact when the dropped inputs are combinations of the kept ones', async () => {
  // X's rows 3 and 4 are combinations of rows 0..2; a weight W on all five inputs is then
  // reproduced exactly by W' on S = {0, 1, 2}: W' X[S] = W X.
  const rand = seededRandom(11);
  const samples = 40;
  const xs = randomMatrix(3, samples, 12);
  const x = new Float64Array(5 * samples);
  x.set(xs);
  for (let s = 0; s < samples; s++) {
    x[3 * samples + s] = 0.5 * xs[s] - xs[samples + s];
    x[4 * samples + s] = xs[2 * samples + s] + 2 * xs[s];
  }
  const h = naiveProduct(x, naiveTranspose(x, 5, samples), 5, samples, 5);
  const w = Float64Array.from({ length: 2 * 5 }, () => rand() - 0.5);
  const keep = [0, 1, 2];
  const hs = principalSubmatrix(h, 5, keep);
  // H[:, S] as 5×3, then B = (W H[:, S])ᵀ, 3×2
  const hcols = Float64Array.from({ length: 15 }, (_, i) => h[Math.floor(i / 3) * 5 + keep[i % 3]]);
  const rhs = naiveTranspose(naiveProduct(w, hcols, 2, 5, 3), 2, 3);
  const wPrime = naiveTranspose(await solveSpd(hs, 3, rhs, 2), 3, 2);
  const before = naiveProduct(w, x, 2, 5, samples);
  const after = naiveProduct(wPrime, x.subarray(0, 3 * samples), 2, 3, samples);
  assert.ok(relError(after, before) < 1e-10);
});

test('an asynchronous engine is awaited at every product', async () => {
  let calls = 0;
  const slow: MatMul = {
    multiply: async (a, b, m, k, n, options): Promise<Matrix> => {
      calls++;
      await new Promise((resolve) => setImmediate(resolve));
      return jsMatMul.multiply(a, b, m, k, n, options);
    },
  };
  const n = 40;
  const h = randomSpd(n, 9);
  const u = await inverseCholeskyUpper(h, n, { engine: slow, blockSize: 8 });
  assert.ok(calls > 10);
  assert.ok(relError(u, await inverseCholeskyUpper(h, n)) < 1e-14);
});

test('the ONNX Runtime engine multiplies like the JS one (float32), plain and transposed', async () => {
  await withOrtMatMul(
    async (engine) => {
      for (const [m, k, n] of [
        [1, 1, 1],
        [7, 300, 65],
        [300, 64, 257],
      ]) {
        const a = randomMatrix(m, k, m);
        const b = randomMatrix(k, n, n);
        const want = naiveProduct(a, b, m, k, n);
        const plain = await engine.multiply(a, b, m, k, n);
        assert.ok(plain instanceof Float32Array);
        assert.ok(relError(plain, want) < 1e-6);
        const bt = naiveTranspose(b, k, n);
        assert.ok(relError(await engine.multiply(a, bt, m, k, n, { transB: true }), want) < 1e-6);
        // A Float32Array view with an offset is read from its offset.
        const padded = new Float32Array(a.length + 3);
        padded.set(a, 3);
        assert.ok(relError(await engine.multiply(padded.subarray(3), b, m, k, n), want) < 1e-6);
      }
    },
    { minMacs: 0 },
  );
});

test('the ONNX Runtime engine keeps small products in JS, in float64', async () => {
  await withOrtMatMul(async (engine) => {
    const a = randomMatrix(8, 8, 1);
    const product = await engine.multiply(a, a, 8, 8, 8);
    assert.ok(product instanceof Float64Array);
    assert.ok(relError(product, naiveProduct(a, a, 8, 8, 8)) < 1e-15);
  });
});

test('a released ONNX Runtime engine refuses to multiply', async () => {
  let kept: OrtMatMul | undefined;
  await withOrtMatMul(async (engine) => {
    kept = engine;
  });
  const a = randomMatrix(2, 2, 1);
  assert.throws(() => kept!.multiply(a, a, 2, 2, 2), /released/);
  await kept!.release(); // a second release is harmless
});

test('on ONNX Runtime, the factorisations agree with pure JS on a dampened 600×600 matrix', async () => {
  const n = 600;
  const h = randomSpd(n, 600);
  const b = randomMatrix(n, 5, 5);
  const [uJs, lJs, xJs] = [
    await inverseCholeskyUpper(h, n, { blockSize: 128 }),
    await choleskyLower(h, n, { blockSize: 128 }),
    await solveSpd(h, n, b, 5, { blockSize: 128 }),
  ];
  await withOrtMatMul(async (engine) => {
    const options = { engine, blockSize: 128 };
    const u = await inverseCholeskyUpper(h, n, options);
    assertUpperWithPositiveDiagonal(u, n);
    const uErr = relError(u, uJs);
    // float32 products: about 1.5e-7 here.
    assert.ok(uErr < 1e-5, `U: relative error ${uErr}`);
    const lErr = relError(await choleskyLower(h, n, options), lJs);
    assert.ok(lErr < 1e-5, `L: relative error ${lErr}`);
    const xErr = relError(await solveSpd(h, n, b, 5, options), xJs);
    assert.ok(xErr < 1e-5, `X: relative error ${xErr}`);
  });
});
