// `node bench/formats.mjs` (after `npm run build`): every number format of `compress --quantize`
// on the shared models (../shared/models), through the CLI as a user runs it. Per model and
// format: file size, weight bytes, BOPs and energy per inference (analyze --json on a
// Raspberry Pi 4 profile), output SQNR against float (verify, 8 seeded inputs), and for the
// trained fmnist_vgg the top-1 accuracy on ../shared/data/fashion-mnist/test1000. Prints the
// markdown table that README.md shows. Skips (and says so) without ../shared.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CLI = path.join(REPO, 'dist', 'cli.js');
const SHARED = path.resolve(REPO, '..', 'shared');
const MODELS = ['fmnist_vgg', 'squeezenet1_0', 'mobilenet_v2', 'resnet18'];
const FORMATS = [
  ['float', []],
  ['int8', ['--quantize', 'int8', '--per-channel']],
  ['int4', ['--quantize', 'int4', '--per-channel']],
  ['fp16', ['--quantize', 'fp16']],
  ['bf16', ['--quantize', 'bf16']],
  ['pow2', ['--quantize', 'pow2']],
  ['ternary', ['--quantize', 'ternary']],
  ['binary', ['--quantize', 'binary']],
];

if (!fs.existsSync(path.join(SHARED, 'models'))) {
  console.log('formats bench: no ../shared/models in this clone; skipped');
  process.exit(0);
}

function cli(...args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`model-lens ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-formats-'));
const rows = [];
for (const model of MODELS) {
  const original = path.join(SHARED, 'models', `${model}.onnx`);
  const floatBytes = fs.statSync(original).size;
  for (const [format, args] of FORMATS) {
    const file = format === 'float' ? original : path.join(dir, `${model}.${format}.onnx`);
    if (format !== 'float') cli('compress', original, '-o', file, ...args);
    const a = JSON.parse(cli('analyze', file, '--device', 'raspberry-pi-4', '--json'));
    const labelled = model === 'fmnist_vgg';
    const samples = labelled ? ['--samples', path.join(SHARED, 'data/fashion-mnist/test1000')] : [];
    const v =
      format === 'float'
        ? undefined
        : JSON.parse(cli('verify', original, file, ...samples, '--json'));
    rows.push({
      model,
      format,
      file: fs.statSync(file).size / floatBytes,
      weightBytes: a.totals.weightBytes,
      sqnrDb: v ? v.sqnrDb : null,
      top1: labelled ? (v ? v.labelled.accuracyCompressed : null) : undefined,
      floatTop1: labelled && v ? v.labelled.accuracyOriginal : undefined,
      bops: a.totals.bops,
      energyJoules: a.device.energyJoules,
    });
    process.stderr.write(`${model} ${format} done\n`);
  }
}
fs.rmSync(dir, { recursive: true, force: true });

const g = (v) => `${(v / 1e9).toFixed(v >= 1e10 ? 0 : 2)} G`;
const lines = [
  '| model | format | file (of float) | weight bytes | output SQNR | top-1 | BOPs | energy (Pi 4) |',
  '|---|---|---:|---:|---:|---:|---:|---:|',
];
for (const r of rows) {
  const top1 =
    r.top1 === undefined
      ? '—'
      : `${(100 * (r.top1 ?? rows.find((x) => x.model === r.model && x.floatTop1)?.floatTop1 ?? NaN)).toFixed(1)}%`;
  lines.push(
    `| ${r.model} | ${r.format} | ${(100 * r.file).toFixed(1)}% | ${r.weightBytes.toLocaleString('en-US')} | ${r.sqnrDb === null ? '—' : r.sqnrDb === undefined ? '∞' : `${r.sqnrDb.toFixed(1)} dB`} | ${top1} | ${g(r.bops)} | ${(r.energyJoules * 1e3).toFixed(3)} mJ |`,
  );
}
console.log(lines.join('\n'));
