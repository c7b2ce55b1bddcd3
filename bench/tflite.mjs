// `node bench/tflite.mjs` (after `npm run build`; `npm run bench` runs it last): analyze time
// and peak RSS of TensorFlow Lite models — the generated ~100 MB float32 and int8 models
// (bench/tfliteModels.ts) and the largest .tflite in ../shared/tflite (skipped, and said so,
// when that folder is absent).
//
// Per model, BENCH_RUNS (default 5) fresh processes each of:
//   - in-process: bench/analyzeOnce.ts, `analyzeFile(file)` timed inside the process, as the
//     ONNX entries of run.mjs (peak RSS: the process's maxRSS);
//   - whole process: `node dist/cli.js analyze FILE --json`, wall time from spawn to exit
//     (Node start-up, module loading, reading, analysis, JSON out), peak RSS from /usr/bin/time;
// and once bench/tfliteViews.ts: whether the loaded initializers are views of the file buffer
// (no payload copied) and the RSS after loading alone.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.dirname(BENCH);
const MODELS = path.join(BENCH, '.models'); // git-ignored
const BIN = path.join(MODELS, 'bin');
const SHARED_TFLITE = path.resolve(REPO, '..', 'shared', 'tflite');
const CLI = path.join(REPO, 'dist', 'cli.js');
const TIME = '/usr/bin/time';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MB = 1024 * 1024;
const RSS_OVER_FILE_LIMIT = 150 * MB;

if (!fs.existsSync(CLI)) {
  console.error('bench/tflite.mjs: no dist/cli.js; run `npm run build` first');
  process.exit(2);
}

await build({
  entryPoints: {
    tfliteModels: path.join(BENCH, 'tfliteModels.ts'),
    analyzeOnce: path.join(BENCH, 'analyzeOnce.ts'),
    tfliteViews: path.join(BENCH, 'tfliteViews.ts'),
  },
  external: ['onnxruntime-node'],
  outdir: BIN,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
});

function run(script, args) {
  return spawnSync(process.execPath, ['--enable-source-maps', path.join(BIN, script), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * MB,
  });
}

function jsonLines(text) {
  return text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l));
}

// 1. Models: the generated ones, then the largest shared .tflite.
const gen = run('tfliteModels.js', [MODELS]);
if (gen.status !== 0) {
  process.stderr.write(gen.stderr);
  console.error(`bench: TFLite model generation failed (exit ${gen.status})`);
  process.exit(1);
}
const files = jsonLines(gen.stdout).map((g) => {
  console.error(
    `bench: ${g.name}: ${(g.bytes / MB).toFixed(1)} MiB, ${(g.params / 1e6).toFixed(2)} M params, ` +
      `${g.operators} operators, ` +
      (g.reused ? 'kept the existing file' : `generated in ${(g.ms / 1000).toFixed(1)} s`),
  );
  return { name: g.name, file: g.file };
});
if (fs.existsSync(SHARED_TFLITE)) {
  const shared = fs
    .readdirSync(SHARED_TFLITE)
    .filter((f) => f.endsWith('.tflite'))
    .map((f) => ({ f, size: fs.statSync(path.join(SHARED_TFLITE, f)).size }))
    .sort((a, b) => b.size - a.size)[0];
  if (shared) {
    files.push({
      name: shared.f.replace(/\.tflite$/, ''),
      file: path.join(SHARED_TFLITE, shared.f),
    });
  }
} else {
  console.error('bench: no ../shared/tflite in this clone; the shared .tflite is skipped');
}

// 2. Samples.
const haveTime = fs.existsSync(TIME);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-bench-tflite-'));
/** `node dist/cli.js analyze FILE --json`: wall ms from spawn to exit, and its peak RSS. */
function cliSample(file) {
  const rssFile = path.join(scratch, 'rss');
  const command = haveTime
    ? [TIME, ['-f', '%M', '-o', rssFile, process.execPath, CLI, 'analyze', file, '--json']]
    : [process.execPath, [CLI, 'analyze', file, '--json']];
  const start = performance.now();
  const r = spawnSync(command[0], command[1], { encoding: 'utf8', maxBuffer: 256 * MB });
  const ms = performance.now() - start;
  if (r.status !== 0) {
    throw new Error(`model-lens analyze ${file} --json: exit ${r.status}\n${r.stderr}`);
  }
  JSON.parse(r.stdout); // a complete report
  const rss = haveTime
    ? Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()) * 1024
    : NaN;
  return { ms, peakRssBytes: rss };
}

const rows = [];
let crashed = false;
for (const { name, file } of files) {
  const inProcess = [];
  const whole = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const r = run('analyzeOnce.js', [file]);
      const [sample] = r.status === 0 ? jsonLines(r.stdout) : [];
      if (!sample)
        throw new Error(
          `analyzeOnce exit ${r.status}\n${r.stderr.split('\n').slice(0, 20).join('\n')}`,
        );
      inProcess.push(sample);
      whole.push(cliSample(file));
    }
    const v = run('tfliteViews.js', [file]);
    const [views] = v.status === 0 ? jsonLines(v.stdout) : [];
    if (!views) throw new Error(`tfliteViews exit ${v.status}\n${v.stderr}`);
    rows.push({ name, fileBytes: inProcess[0].fileBytes, inProcess, whole, views });
  } catch (e) {
    crashed = true;
    console.error(`bench: ${name}: ${e.message}`);
  }
}
fs.rmSync(scratch, { recursive: true, force: true });

// 3. Tables.
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (b) => (Number.isFinite(b) ? `${(b / MB).toFixed(1)} MiB` : 'n/a');
let missed = 0;
const out = [
  `TFLite load + analyze, ${RUNS} runs each, fresh process per run. Node ${process.version}.`,
  '',
  '| model | file size | in-process median ms (min) | peak RSS | RSS − file | whole process `analyze --json` median ms (min) | its peak RSS | RSS target |',
  '|---|---:|---:|---:|---:|---:|---:|---|',
];
for (const { name, fileBytes, inProcess, whole } of rows) {
  const ms = inProcess.map((s) => s.ms);
  const rss = Math.max(...inProcess.map((s) => s.peakRssBytes));
  const wholeMs = whole.map((s) => s.ms);
  const wholeRss = Math.max(...whole.map((s) => s.peakRssBytes));
  const ok =
    Math.max(rss, Number.isFinite(wholeRss) ? wholeRss : 0) - fileBytes <= RSS_OVER_FILE_LIMIT;
  if (!ok) missed++;
  out.push(
    `| ${name} | ${mib(fileBytes)} | ${median(ms).toFixed(0)} (${Math.min(...ms).toFixed(0)}) | ${mib(rss)} | ${mib(rss - fileBytes)} | ` +
      `${median(wholeMs).toFixed(0)} (${Math.min(...wholeMs).toFixed(0)}) | ${mib(wholeRss)} | ` +
      `≤ file + 150 MiB: ${ok ? 'pass' : '**FAIL**'} |`,
  );
}
out.push(
  '',
  'Tensor payloads after loading (initializers that are views of the file buffer vs. copies), and RSS after loading alone.',
  '',
  '| model | views | bytes in views | copies | bytes copied | RSS after load | RSS after analysis |',
  '|---|---:|---:|---:|---:|---:|---:|',
);
for (const { name, views: v } of rows) {
  if (v.copies > 0) missed++;
  out.push(
    `| ${name} | ${v.views} | ${mib(v.viewBytes)} | ${v.copies} | ${mib(v.copiedBytes)} | ${mib(v.loadRssBytes)} | ${mib(v.peakRssBytes)} |`,
  );
}
console.log(out.join('\n'));
if (missed) console.log(`\n${missed} TFLite target(s) missed.`);
if (crashed) {
  console.error('bench: at least one TFLite run crashed');
  process.exit(1);
}
