// Why the bit-width hints read every weight (bench/README.md, issue 16): the SQNR of per-channel
// symmetric quantization with each channel's max|w| taken from the hints' 32 k strided sample,
// against the exact one (max over all values), for three weight distributions of 256 channels ×
// 8,192 values. Run: node bench/sampledMaxima.mjs
const CHANNELS = 256;
const INNER = 8192;
const N = CHANNELS * INNER;
const STRIDE = Math.ceil(N / 32768);

/** A seeded PRNG (mulberry32), so the figures are the same on every run. */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const gauss = (r) => Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
const DISTRIBUTIONS = {
  // The hint accuracy test's weights (test/unit/analysis/weightBits.test.ts).
  'sum of three uniforms': (r) => (r() + r() + r() - 1.5) * 0.1,
  gaussian: gauss,
  'student-t(3)': (r) => {
    const z = gauss(r);
    let s = 0;
    for (let k = 0; k < 3; k++) s += gauss(r) ** 2;
    return z / Math.sqrt(s / 3);
  },
};

/** SQNR (dB) of the values at `every`-th index, quantized with the given channel maxima. */
function sqnr(w, maxima, levels, every) {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < N; i += every) {
    const scale = maxima[Math.floor(i / INNER)] / levels;
    const q = Math.max(-levels, Math.min(levels, Math.round(w[i] / scale))) * scale;
    signal += w[i] * w[i];
    noise += (w[i] - q) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

for (const [name, draw] of Object.entries(DISTRIBUTIONS)) {
  const r = random(3);
  const w = Float64Array.from({ length: N }, () => draw(r));
  const exact = new Float64Array(CHANNELS);
  const sampled = new Float64Array(CHANNELS);
  for (let i = 0; i < N; i++) {
    const c = Math.floor(i / INNER);
    const a = Math.abs(w[i]);
    if (a > exact[c]) exact[c] = a;
    if (i % STRIDE === 0 && a > sampled[c]) sampled[c] = a;
  }
  const line = [8, 4].map((bits) => {
    const levels = 2 ** (bits - 1) - 1;
    const truth = sqnr(w, exact, levels, 1);
    const estimate = sqnr(w, sampled, levels, STRIDE);
    return `${bits}-bit exact ${truth.toFixed(2)} dB, from sampled maxima ${estimate.toFixed(2)} dB (${(estimate - truth).toFixed(2)})`;
  });
  console.log(`${name}: ${line.join('; ')}`);
}
