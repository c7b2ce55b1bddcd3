// TEMPORARY stand-in until the blocked implementation lands (branch linalg).
export function dampen(
  h: Float64Array,
  n: number,
  percent = 0.01,
): { matrix: Float64Array; dead: number[] } {
  const m = new Float64Array(h);
  const dead: number[] = [];
  let mean = 0;
  for (let i = 0; i < n; i++) {
    if (m[i * n + i] === 0) {
      dead.push(i);
      m[i * n + i] = 1;
    }
    mean += m[i * n + i];
  }
  mean /= n;
  for (let i = 0; i < n; i++) m[i * n + i] += percent * mean;
  return { matrix: m, dead };
}

export async function inverseCholeskyUpper(h: Float64Array, n: number): Promise<Float64Array> {
  // Reverse Cholesky: P H P = L Lᵀ, R = P L P upper, H = R Rᵀ, U = R⁻¹.
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) a[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)];
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) throw new Error(`matrix is not positive definite at column ${j}`);
    d = Math.sqrt(d);
    a[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
    for (let k = j + 1; k < n; k++) a[j * n + k] = 0;
  }
  // Inverse of lower L.
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    inv[i * n + i] = 1 / a[i * n + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += a[i * n + k] * inv[k * n + j];
      inv[i * n + j] = -s / a[i * n + i];
    }
  }
  // U = R⁻¹ = P L⁻¹ P.
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) u[i * n + j] = inv[(n - 1 - i) * n + (n - 1 - j)];
  return u;
}

/** Solves H X = B (H n×n SPD, B n×m row-major) by Cholesky. */
export function solveSpd(h: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  const l = new Float64Array(h);
  for (let j = 0; j < n; j++) {
    let d = l[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) throw new Error(`matrix is not positive definite at column ${j}`);
    d = Math.sqrt(d);
    l[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let s = l[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / d;
    }
  }
  const x = new Float64Array(b);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = x[i * m + c];
      for (let k = 0; k < i; k++) s -= l[i * n + k] * x[k * m + c];
      x[i * m + c] = s / l[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i * m + c];
      for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k * m + c];
      x[i * m + c] = s / l[i * n + i];
    }
  }
  return x;
}

export function principalSubmatrix(
  h: Float64Array,
  n: number,
  indices: readonly number[],
): Float64Array {
  const k = indices.length;
  const out = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) out[i * k + j] = h[indices[i] * n + indices[j]];
  return out;
}
