/**
 * Times inverseCholeskyUpper (GPTQ's Hinv) at the sizes calibrated compression meets: n = C·kh·kw
 * of a ResNet conv, 64·3·3 = 576, 256·3·3 = 2304 and 512·3·3 = 4608, with the pure-JS engine and
 * with ONNX Runtime's. Prints a markdown table; the relative difference between the two results
 * (Frobenius norm) shows what float32 products cost in accuracy.
 *
 *   node --import tsx bench/linalg.ts                 # 576, 2304, 4608; block 256
 *   node --import tsx bench/linalg.ts 576 2304 --block 128 --runs 5 --no-js
 *
 * H is n·I plus a symmetric matrix of uniform(−1, 1) entries: strictly diagonally dominant, so
 * positive definite (Gershgorin), and made in O(n²). The time does not depend on the values.
 *
 * Each time is the best of the runs (JS only: one run), wall clock; "its CPU time" is the user +
 * system time of that ONNX Runtime run over all threads, which a loaded machine inflates less.
 */
import { inverseCholeskyUpper, type LinalgOptions } from '../src/core/numerics/linalg';
import { OrtMatMul } from '../src/core/numerics/matmulEngine';

interface Args {
  sizes: number[];
  block: number | undefined;
  runs: number;
  js: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizes: [], block: undefined, runs: 3, js: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--block') args.block = Number(argv[++i]);
    else if (a === '--runs') args.runs = Number(argv[++i]);
    else if (a === '--no-js') args.js = false;
    else args.sizes.push(Number(a));
  }
  if (args.sizes.length === 0) args.sizes = [576, 2304, 4608];
  return args;
}

function testMatrix(n: number, seed: number): Float64Array {
  let s = seed;
  const rand = (): number => {
    s = (s * 48271) % 2147483647;
    return (s / 2147483647) * 2 - 1;
  };
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    h[i * n + i] = n;
    for (let j = 0; j < i; j++) h[i * n + j] = h[j * n + i] = rand();
  }
  return h;
}

async function time(
  h: Float64Array,
  n: number,
  options: LinalgOptions,
  runs: number,
): Promise<{ seconds: number; cpu: number; u: Float64Array }> {
  let best = Infinity;
  let cpu = Infinity;
  let u: Float64Array = new Float64Array(0);
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    const used = process.cpuUsage();
    u = await inverseCholeskyUpper(h, n, options);
    const seconds = (performance.now() - start) / 1000;
    if (seconds < best) {
      best = seconds;
      const { user, system } = process.cpuUsage(used);
      cpu = (user + system) / 1e6;
    }
  }
  return { seconds: best, cpu, u };
}

function relDiff(a: Float64Array, b: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const engine = await OrtMatMul.create();
  try {
    const blockSize = args.block;
    // Warm-up: ORT's first runs allocate its arena and thread pool.
    await inverseCholeskyUpper(testMatrix(512, 7), 512, { engine, blockSize });
    console.log(
      `| n | JS only (s) | ONNX Runtime (s) | its CPU time (s) | speed-up | ‖U_ort − U_js‖/‖U_js‖ |`,
    );
    console.log(`| ---: | ---: | ---: | ---: | ---: | ---: |`);
    for (const n of args.sizes) {
      const h = testMatrix(n, n);
      const ort = await time(h, n, { engine, blockSize }, args.runs);
      const js = args.js ? await time(h, n, { blockSize }, 1) : undefined;
      const cells = [
        String(n),
        js ? js.seconds.toFixed(2) : '–',
        ort.seconds.toFixed(2),
        ort.cpu.toFixed(2),
        js ? `${(js.seconds / ort.seconds).toFixed(1)}×` : '–',
        js ? relDiff(ort.u, js.u).toExponential(1) : '–',
      ];
      console.log(`| ${cells.join(' | ')} |`);
    }
  } finally {
    await engine.release();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
