/**
 * Structured pruning records which filters it removed on the layer's node (removedFilters.ts), so
 * the retraining plan lists them from the model alone: after a save and a re-load, after a second
 * pruning, and after BatchNorm folding and quantization.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { foldBatchNorm } from '../../../src/core/compress/foldBatchNorm';
import { pruneFilters } from '../../../src/core/compress/pruneStructured';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { removedFiltersOf, withRemovedFilters } from '../../../src/core/compress/removedFilters';
import { retrainingPlan, type RetrainingPlan } from '../../../src/core/compress/retrainingPlan';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';

const SCHEMA = path.resolve(__dirname, '../../../docs/retraining-plan.schema.json');

function validate(plan: unknown): void {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const check = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')) as object);
  assert.ok(check(plan), ajv.errorsText(check.errors));
}

/** conv1 (12 filters) → BatchNormalization → Relu → conv2 → head, named as torch.onnx names. */
function model(): Model {
  const b = new ModelBuilder({ opset: 13, seed: 5 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 8, 8]);
  const [c1] = b.node(
    'Conv',
    [x, b.weight('conv1.weight', [12, 3, 3, 3]), b.weight('conv1.bias', [12])],
    { pads: [1, 1, 1, 1] },
    { name: '/conv1/Conv' },
  );
  const bn = ['scale', 'B', 'mean'].map((p) => b.weight(`bn1.${p}`, [12]));
  const variance = b.initializer(
    'bn1.var',
    DataType.FLOAT,
    [12],
    Array.from({ length: 12 }, (_, i) => 0.5 + i / 12),
  );
  const [n1] = b.node('BatchNormalization', [c1, ...bn, variance], {}, { name: '/bn1/BN' });
  const [r1] = b.node('Relu', [n1], {}, { name: '/relu/Relu' });
  const [c2] = b.node(
    'Conv',
    [r1, b.weight('conv2.weight', [8, 12, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: '/conv2/Conv' },
  );
  b.classifierHead(c2, 8);
  return b.load().model;
}

/** Saved and read back, as the editor's save and the export that follows do. */
function saveAndLoad(m: Model): Model {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'removed-filters-'));
  try {
    const file = path.join(dir, 'model.onnx');
    saveModelFile(m, file);
    return loadModelFile(file).model;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const filters = (m: Model, weight: string): number[][] => {
  const t = m.graph.initializers.find((i) => i.name === weight)!;
  const values = tensorNumbers(t);
  const per = values.length / Number(t.dims[0]);
  return Array.from({ length: Number(t.dims[0]) }, (_, f) => values.slice(f * per, (f + 1) * per));
};

const l1 = (w: number[]): number => w.reduce((s, v) => s + Math.abs(v), 0);

const structuredOf = (plan: RetrainingPlan, node: string) =>
  plan.layers.find((l) => l.node === node)?.structured;

test('pruned, saved and re-loaded: the plan lists the removed filters with no original', () => {
  const original = model();
  const pruned = saveAndLoad(
    pruneFilters(original, { fraction: 0.25, layers: ['/conv1/Conv'] }).model,
  );
  const plan = retrainingPlan(pruned);
  validate(plan);
  assert.equal(plan.model.comparedWithOriginal, false);
  const smallest = filters(original, 'conv1.weight')
    .map((w, i) => ({ i, norm: l1(w) }))
    .sort((a, b) => a.norm - b.norm)
    .slice(0, 3)
    .map((f) => f.i)
    .sort((a, b) => a - b);
  assert.deepEqual(structuredOf(plan, '/conv1/Conv'), {
    axis: 0,
    channelsBefore: 12,
    channelsAfter: 9,
    fraction: 0.25,
    removed: smallest,
  });
  assert.equal(structuredOf(plan, '/conv2/Conv'), null, 'its input channels went, not filters');
  // With the original too (an unsaved fix exported), the record is what the plan says.
  assert.deepEqual(structuredOf(retrainingPlan(pruned, undefined, original), '/conv1/Conv'), {
    ...structuredOf(plan, '/conv1/Conv'),
  });
});

test('pruned twice: the record counts from the first model, and names the filters that are gone', () => {
  const original = model();
  const once = saveAndLoad(
    pruneFilters(original, { fraction: 0.25, layers: ['/conv1/Conv'] }).model,
  );
  const twice = saveAndLoad(pruneFilters(once, { fraction: 1 / 3, layers: ['/conv1/Conv'] }).model);
  const record = removedFiltersOf(twice.graph.nodes.find((n) => n.name === '/conv1/Conv')!);
  assert.ok(record);
  assert.equal(record.before, 12);
  assert.equal(record.removed.length, 6);
  // The filters left are exactly the original ones the record doesn't name, in order.
  const survivors = filters(original, 'conv1.weight').filter((_, i) => !record.removed.includes(i));
  assert.deepEqual(filters(twice, 'conv1.weight'), survivors);
  const plan = retrainingPlan(twice);
  validate(plan);
  assert.deepEqual(structuredOf(plan, '/conv1/Conv'), {
    axis: 0,
    channelsBefore: 12,
    channelsAfter: 6,
    fraction: 0.5,
    removed: [...record.removed],
  });
});

test('the record survives BatchNorm folding and quantization', () => {
  let m = pruneFilters(model(), { fraction: 0.5, layers: ['/conv1/Conv'] }).model;
  m = foldBatchNorm(m).model;
  assert.ok(!m.graph.nodes.some((n) => n.opType === 'BatchNormalization'));
  m = saveAndLoad(quantizeWeights(m, { bits: 8 }).model);
  const plan = retrainingPlan(m);
  validate(plan);
  const layer = plan.layers.find((l) => l.node === '/conv1/Conv')!;
  assert.equal(layer.quantization?.bits, 8);
  assert.equal(layer.structured?.channelsBefore, 12);
  assert.equal(layer.structured?.channelsAfter, 6);
  assert.equal(layer.structured?.removed?.length, 6);
});

test('a record that no longer matches the weight is not believed; other doc lines are kept', () => {
  const pruned = pruneFilters(model(), { fraction: 0.25, layers: ['/conv1/Conv'] }).model;
  const conv = pruned.graph.nodes.find((n) => n.name === '/conv1/Conv')!;
  // Another tool's note, and a record claiming 2 of 10 removed (the weight has 9 filters).
  const noted = withRemovedFilters(
    { ...conv, docString: 'exported by torch' },
    0,
    10,
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.match(
    noted.docString,
    /^exported by torch\nmodel-lens:removed-filters=8,9;before=10;axis=0$/,
  );
  const edited: Model = {
    ...pruned,
    graph: {
      ...pruned.graph,
      nodes: pruned.graph.nodes.map((n) => (n === conv ? noted : n)),
    },
  };
  const plan = retrainingPlan(saveAndLoad(edited));
  assert.equal(structuredOf(plan, '/conv1/Conv'), null);
});
