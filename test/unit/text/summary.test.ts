/**
 * The text view's initializer statistics (src/core/text/summary.ts): exact for tensors up to
 * SAMPLE_ABOVE values, estimated from an evenly spread sample above it, marked "(sampled)", the
 * same on every print and wherever the payload lies (memory, the file, a side file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAnyModel } from '../../../src/core/modelFile';
import { payloadSource } from '../../../src/core/onnx/lazyFile';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { printModelView } from '../../../src/core/text/modelView';
import { SAMPLE_ABOVE, summarizeTensor } from '../../../src/core/text/summary';
import { saveWithSideFile } from '../../helpers/externalData';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';

const ROWS = 1536;
const COLS = 1024; // 1.57 M values: above SAMPLE_ABOVE (1 M)

/**
 * Weight-like values: roughly normal (a sum of four uniforms), each row with its own scale
 * (0.5–1.5) and a small offset, as a layer's output channels differ.
 */
function weightValues(rows: number, cols: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const scale = 0.5 + random();
    const offset = (random() - 0.5) * 0.1;
    for (let c = 0; c < cols; c++) {
      const g = random() + random() + random() + random() - 2;
      out[r * cols + c] = offset + scale * g;
    }
  }
  return out;
}

function model(values: Float32Array, rows: number, cols: number): Model {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, rows]);
  const [y] = b.node(
    'MatMul',
    [x, b.initializer('w', DataType.FLOAT, [rows, cols], values)],
    {},
    { name: 'mm' },
  );
  b.output(y);
  return b.build();
}

function exactStats(values: Float32Array) {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let squares = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    squares += v * v;
  }
  const mean = sum / values.length;
  return { min, max, mean, std: Math.sqrt(squares / values.length - mean * mean) };
}

function parseSummary(line: string) {
  const m = /· min (\S+) · max (\S+) · mean (\S+) · std (\S+)/.exec(line);
  assert.ok(m, line);
  const [min, max, mean, std] = m.slice(1).map(Number);
  return { min, max, mean, std };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-summary-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a tensor above 1 M values is summarised from a sample, within tolerance of the exact statistics', () => {
  const values = weightValues(ROWS, COLS, 7);
  assert.ok(values.length > SAMPLE_ABOVE);
  const m = model(values, ROWS, COLS);
  const line = summarizeTensor(m.graph.initializers[0]);
  assert.match(line, /^1\.57 M values · min \S+ · max \S+ · mean \S+ · std \S+ \(sampled\)$/);
  const got = parseSummary(line);
  const exact = exactStats(values);
  // Stated tolerances: mean within 2 % of the std, std within 2 %; the sample's min and max lie
  // inside the true range (they are values of the tensor) and, here, within 15 % of it.
  assert.ok(
    Math.abs(got.mean - exact.mean) <= 0.02 * exact.std,
    `mean ${got.mean} vs ${exact.mean}`,
  );
  assert.ok(Math.abs(got.std / exact.std - 1) <= 0.02, `std ${got.std} vs ${exact.std}`);
  assert.ok(
    got.min >= Number(exact.min.toPrecision(3)) && got.min <= 0.85 * exact.min,
    `min ${got.min} vs ${exact.min}`,
  );
  assert.ok(
    got.max <= Number(exact.max.toPrecision(3)) && got.max >= 0.85 * exact.max,
    `max ${got.max} vs ${exact.max}`,
  );
});

test('a sampled summary is the same on every print, in memory, in the file and in a side file', (t) => {
  const dir = tempDir(t);
  const m = model(weightValues(ROWS, COLS, 11), ROWS, COLS);
  const inline = path.join(dir, 'inline.onnx');
  const side = path.join(dir, 'side.onnx');
  saveModelFile(m, inline);
  saveWithSideFile(m, side);

  const fromMemory = summarizeTensor(m.graph.initializers[0]);
  const loaded = loadAnyModel(inline);
  const w = loaded.model.graph.initializers[0];
  assert.ok(w.rawData && payloadSource(w.rawData), 'the payload was left in the file');
  const first = printModelView(loaded).text;
  const second = printModelView(loadAnyModel(inline)).text;
  assert.equal(first, second);
  assert.ok(first.includes(`# ${fromMemory}`), first);
  const viaSide = loadAnyModel(side);
  assert.equal(summarizeTensor(viaSide.model.graph.initializers[0], viaSide.external), fromMemory);
});

test('tensors up to 1 M values keep exact statistics', () => {
  const rows = 1024;
  const cols = SAMPLE_ABOVE / rows;
  const values = weightValues(rows, cols, 3);
  const line = summarizeTensor(model(values, rows, cols).graph.initializers[0]);
  assert.doesNotMatch(line, /sampled/);
  const got = parseSummary(line);
  const exact = exactStats(values);
  for (const k of ['min', 'max', 'mean', 'std'] as const) {
    assert.equal(got[k], Number(exact[k].toPrecision(3)), k);
  }
});
