/**
 * Opset conversion: every adapter is checked by building a small model at the old opset, running
 * it in ONNX Runtime next to its converted self on the same inputs, and comparing the outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  adaptedOps,
  canConvertTo,
  conversionRefusal,
  convertOpset,
  ONNX_RUNTIME_GAPS,
  type OpsetConversion,
} from '../../../src/core/compress/opsetConvert';
import { makeNode } from '../../../src/core/compress/graphEdit';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { loadModelFile } from '../../../src/core/onnx/load';
import { DataType, type Graph, type Model, type Node } from '../../../src/core/onnx/types';
import { verifyModels } from '../../../src/core/verify';
import {
  ModelBuilder,
  float,
  type AttrValue,
  makeAttribute,
  makeTensor,
  seededRandom,
  subgraph,
} from '../../helpers/modelBuilder';

type Feeds = Record<string, ort.Tensor>;

/** Seeded inputs for every graph input: floats in [-2, 2), bools as given by `bools`. */
function randomFeeds(model: Model, seed = 5): Feeds {
  const random = seededRandom(seed);
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const feeds: Feeds = {};
  for (const input of model.graph.inputs) {
    if (initializers.has(input.name)) continue;
    const dims = (input.type?.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    assert.equal(input.type?.elemType, DataType.FLOAT, `give ${input.name} explicitly`);
    const data = Float32Array.from({ length: n }, () => random() * 4 - 2);
    feeds[input.name] = new ort.Tensor('float32', data, dims);
  }
  return feeds;
}

async function run(model: Model, feeds: Feeds): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** Both models on the same inputs: same output names, dims and values (max abs diff ≤ tol). */
async function assertSameOutputs(
  original: Model,
  converted: Model,
  feeds: Feeds,
  tol = 1e-5,
): Promise<void> {
  const a = await run(original, feeds);
  const b = await run(converted, feeds);
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  for (const name of Object.keys(a)) {
    assert.deepEqual(b[name].dims, a[name].dims, `${name} dims`);
    const x = Array.from(a[name].data as ArrayLike<number | bigint>, Number);
    const y = Array.from(b[name].data as ArrayLike<number | bigint>, Number);
    // Equal non-finite values (NaN and NaN, Inf and Inf) count as no difference.
    const diff = Math.max(0, ...x.map((v, i) => (Object.is(v, y[i]) ? 0 : Math.abs(v - y[i]))));
    assert.ok(diff <= tol, `${name}: max abs diff ${diff}`);
  }
}

/** Round-trips through the encoder, as a model read from a file. */
function load(b: ModelBuilder): Model {
  return decodeModel(b.bytes());
}

/** Converts `model` to `to`, checks the opset and IR version, and compares both in ORT. */
async function check(
  model: Model,
  to: number,
  options: { feeds?: Feeds; tol?: number } = {},
): Promise<OpsetConversion> {
  const result = convertOpset(model, to);
  assert.equal(result.model.opsetImport.find((o) => o.domain === '')?.version, to);
  // Through the encoder: what a save would write.
  const saved = decodeModel(encodeModel(result.model));
  await assertSameOutputs(model, saved, options.feeds ?? randomFeeds(model), options.tol);
  return { ...result, model: saved };
}

function ops(model: Model | Graph): string[] {
  const g = 'graph' in model ? model.graph : model;
  return g.nodes.map((n) => n.opType);
}

function node(model: Model, op: string): Node {
  const n = model.graph.nodes.find((x) => x.opType === op);
  assert.ok(n, `a ${op} node`);
  return n;
}

function attrNames(n: Node): string[] {
  return n.attributes.map((a) => a.name);
}

function refuses(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.equal(e.name, 'CompressionRefusal');
    assert.match(e.message, message);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

test('a model already at the target opset comes back untouched; never lowered', () => {
  const b = new ModelBuilder({ opset: 13 });
  const [y] = b.node('Relu', [b.input('x', DataType.FLOAT, [2])]);
  b.output(y);
  const model = load(b);
  for (const to of [10, 13]) {
    const r = convertOpset(model, to);
    assert.equal(r.model, model);
    assert.deepEqual(r.notes, []);
  }
});

test('raising without anything to rewrite only changes the opset, IR version and notes', async () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 4, 4]);
  const [c] = b.node('Conv', [x, b.weight('w', [2, 3, 3, 3])], { pads: [1, 1, 1, 1] });
  const [y] = b.node('Relu', [c]);
  b.output(y, DataType.FLOAT, [1, 2, 4, 4]);
  const model = { ...load(b), irVersion: 4 };
  const r = await check(model, 13);
  assert.deepEqual(r.notes, ['opset raised 9 → 13', 'IR version raised 4 → 7 (opset 13 needs it)']);
  assert.equal(r.model.irVersion, 7);
  assert.equal(r.converted.size, 0);
  // The untouched nodes keep their original bytes.
  const converted = convertOpset(model, 13).model;
  converted.graph.nodes.forEach((n, i) => assert.equal(n, model.graph.nodes[i]));
});

test('Clip-6 → 11: min/max attributes become scalar inputs; an absent bound stays absent', async () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [2, 3, 4]);
  const [both] = b.node('Clip', [x], { min: float(-0.5), max: float(0.75) }, { name: 'both' });
  const [lo] = b.node('Clip', [both], { min: float(0) }, { name: 'lo' });
  const [hi] = b.node('Clip', [x], { max: float(1) }, { name: 'hi' });
  const [none] = b.node('Clip', [hi], {}, { name: 'none' });
  b.output(lo);
  b.output(none);
  const r = await check(load(b), 11);
  const inputs = Object.fromEntries(r.model.graph.nodes.map((n) => [n.name, n.inputs]));
  assert.deepEqual(inputs.both, ['x', 'both_min', 'both_max']);
  assert.deepEqual(inputs.lo, [both, 'lo_min']);
  assert.deepEqual(inputs.hi, ['x', '', 'hi_max']);
  assert.deepEqual(inputs.none, [hi]);
  const min = r.model.graph.initializers.find((t) => t.name === 'both_min');
  assert.deepEqual([min?.dataType, min?.dims], [DataType.FLOAT, []]);
  assert.ok(r.notes[0].includes('(Clip ×3 converted)'), r.notes[0]);
});

test('Pad-2 → 11: pads and value become inputs; reflect and edge keep their mode', async () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 4, 5]);
  const pads = [0, 0, 1, 2, 0, 0, 2, 1];
  const [c] = b.node('Pad', [x], { pads, value: float(1.5) }, { name: 'const' });
  const [z] = b.node('Pad', [x], { pads }, { name: 'zero' });
  const [r] = b.node('Pad', [x], { pads, mode: 'reflect' }, { name: 'reflect' });
  const [e] = b.node('Pad', [x], { pads, mode: 'edge' }, { name: 'edge' });
  for (const y of [c, z, r, e]) b.output(y);
  const result = await check(load(b), 11);
  const byName = new Map(result.model.graph.nodes.map((n) => [n.name, n]));
  assert.deepEqual(byName.get('const')?.inputs, ['x', 'const_pads', 'const_constant_value']);
  assert.deepEqual(byName.get('zero')?.inputs, ['x', 'zero_pads']);
  assert.deepEqual(attrNames(byName.get('reflect')!), ['mode']);
  assert.equal(result.converted.get('Pad'), 4);
});

test('Slice-1 → 10: starts/ends/axes become int64 inputs (huge ends stay huge)', async () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [3, 6, 5]);
  const [s1] = b.node('Slice', [x], { starts: [1, -4], ends: [2147483647, -1], axes: [1, 2] });
  const [s2] = b.node('Slice', [x], { starts: [0, 1, 1], ends: [2, 5, 4] });
  b.output(s1);
  b.output(s2);
  const r = await check(load(b), 10);
  assert.deepEqual(
    r.model.graph.nodes.map((n) => n.inputs.length),
    [4, 3],
  );
});

test('TopK-1 → 10: k becomes an int64 [1] input; values and indices match', async () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [3, 7]);
  const [v, i] = b.node('TopK', [x], { k: 3, axis: 1 }, { outputs: 2 });
  b.output(v);
  b.output(i);
  const r = await check(load(b), 10);
  const k = r.model.graph.initializers[0];
  assert.deepEqual([k.dataType, k.dims], [DataType.INT64, [1]]);
});

test('Upsample-7 (scales attribute) → Upsample-9 → Resize-11: nearest and linear', async () => {
  const b = new ModelBuilder({ opset: 7 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 3, 4]);
  const [n] = b.node('Upsample', [x], { scales: [float(1), float(1), float(2), float(3)] });
  const [l] = b.node('Upsample', [x], {
    mode: 'linear',
    scales: [float(1), float(1), float(2), float(2)],
  });
  b.output(n);
  b.output(l);
  const model = load(b);
  const at9 = await check(model, 9);
  assert.deepEqual(ops(at9.model), ['Upsample', 'Upsample']);
  const at13 = await check(model, 13);
  assert.deepEqual(ops(at13.model), ['Resize', 'Resize']);
  const [nearest, linear] = at13.model.graph.nodes;
  assert.equal(nearest.inputs.length, 3, 'X, roi, scales');
  const attrs = (m: Node): Record<string, string> =>
    Object.fromEntries(m.attributes.map((a) => [a.name, new TextDecoder().decode(a.s)]));
  assert.deepEqual(attrs(nearest), {
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  });
  assert.deepEqual(attrs(linear), { mode: 'linear', coordinate_transformation_mode: 'asymmetric' });
  assert.equal(at13.converted.get('Upsample→Resize'), 2);
});

test('Upsample-9 with run-time scales → Resize-13 rounds like Upsample (floor)', async () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [1, 1, 3, 3]);
  const scales = b.input('scales', DataType.FLOAT, [4]);
  const [y] = b.node('Upsample', [x, scales]);
  b.output(y);
  const model = load(b);
  const feeds = randomFeeds({
    ...model,
    graph: { ...model.graph, inputs: [model.graph.inputs[0]] },
  });
  feeds.scales = new ort.Tensor('float32', Float32Array.from([1, 1, 2.5, 1.5]), [4]);
  await check(model, 13, { feeds });
});

test('Resize-10 → 11: shrinking rounds up, enlarging floors, mixed scales split in two', async () => {
  const b = new ModelBuilder({ opset: 10 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 6, 7]);
  const cases: [string, number[], string][] = [
    ['up', [1, 1, 1.5, 2.5], 'nearest'],
    ['down', [1, 1, 0.6, 0.5], 'nearest'],
    ['mixed', [1, 1, 0.5, 1.7], 'nearest'],
    ['linear', [1, 1, 0.5, 1.7], 'linear'],
  ];
  for (const [name, values, mode] of cases) {
    const scales = b.initializer(`${name}_scales`, DataType.FLOAT, [4], values);
    const [y] = b.node('Resize', [x, scales], { mode }, { name });
    b.output(y);
  }
  const r = await check(load(b), 11);
  const modes = r.model.graph.nodes.map((n) => {
    const m = n.attributes.find((a) => a.name === 'nearest_mode');
    return `${n.name}:${m ? new TextDecoder().decode(m.s) : '-'}`;
  });
  assert.deepEqual(modes, [
    'up:floor',
    'down:ceil',
    'mixed:ceil',
    'mixed_Resize:floor',
    'linear:-',
  ]);
});

test('Resize-11 tf_half_pixel_for_nn → 13: half_pixel with the matching rounding', async () => {
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, [1, 1, 5, 6]);
  const roi = b.initializer('roi', DataType.FLOAT, [0], []);
  for (const [name, rounding, values] of [
    ['floor', 'floor', [1, 1, 2.5, 0.7]],
    ['rpf', 'round_prefer_floor', [1, 1, 1.6, 3]],
  ] as const) {
    const scales = b.initializer(`${name}_scales`, DataType.FLOAT, [4], values);
    const [y] = b.node(
      'Resize',
      [x, roi, scales],
      { coordinate_transformation_mode: 'tf_half_pixel_for_nn', nearest_mode: rounding },
      { name },
    );
    b.output(y);
  }
  const r = await check(load(b), 13);
  assert.equal(r.converted.get('Resize'), 2);
});

test('Scatter-9 → ScatterElements-11', async () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [3, 4]);
  const idx = b.ints('idx', [3, 0, 1, 2, 2, 1], [2, 3]);
  const updates = b.input('u', DataType.FLOAT, [2, 3]);
  const [y] = b.node('Scatter', [x, idx, updates], { axis: 1 });
  b.output(y);
  const r = await check(load(b), 11);
  assert.deepEqual(ops(r.model), ['ScatterElements']);
  assert.deepEqual(r.notes[0], 'opset raised 9 → 11 (Scatter→ScatterElements ×1 converted)');
});

test('Dropout-7 → 12: ratio becomes an input; a mask someone reads is cast back from bool', async () => {
  const b = new ModelBuilder({ opset: 7 });
  const x = b.input('x', DataType.FLOAT, [2, 5]);
  const [y] = b.node('Dropout', [x], { ratio: float(0.3) }, { name: 'drop' });
  const [z] = b.node('Dropout', [y], {}, { name: 'plain' });
  b.output(z);
  const r = await check(load(b), 12);
  assert.deepEqual(ops(r.model), ['Dropout', 'Dropout']);
  assert.deepEqual(r.model.graph.nodes[0].inputs, ['x', 'drop_ratio']);
  assert.deepEqual(r.model.graph.nodes[1].inputs, [y], 'the default ratio needs no input');

  // The mask: float before opset 10, bool after. ONNX Runtime's Dropout-7 writes zeros to it in
  // inference, Dropout-12 ones (nothing dropped), so only its type is compared.
  const m = new ModelBuilder({ opset: 7 });
  const [out, mask] = m.node('Dropout', [m.input('x', DataType.FLOAT, [2, 5])], {}, { outputs: 2 });
  m.output(out);
  m.output(mask, DataType.FLOAT, [2, 5]);
  const converted = convertOpset(load(m), 12).model;
  assert.deepEqual(ops(converted), ['Dropout', 'Cast']);
  assert.equal(converted.graph.nodes[1].outputs[0], mask);
  const result = await run(converted, randomFeeds(converted));
  assert.equal(result[mask].type, 'float32');
  assert.deepEqual([...(result[mask].data as Float32Array)], Array(10).fill(1));
});

test('BatchNormalization-7 → 9: spatial=1 is dropped; spatial=0 normalizes the flattened input', async () => {
  const b = new ModelBuilder({ opset: 7 });
  const x = b.input('x', DataType.FLOAT, [2, 3, 2, 2]);
  const params = (p: string, dims: number[]): string[] => [
    b.weight(`${p}_scale`, dims),
    b.weight(`${p}_bias`, dims),
    b.weight(`${p}_mean`, dims),
    b.initializer(
      `${p}_var`,
      DataType.FLOAT,
      dims,
      Array(dims.reduce((a, c) => a * c, 1)).fill(0.5),
    ),
  ];
  const [s] = b.node(
    'BatchNormalization',
    [x, ...params('s', [3])],
    { spatial: 1 },
    { name: 'spatial' },
  );
  const [n] = b.node(
    'BatchNormalization',
    [x, ...params('n', [3, 2, 2])],
    { spatial: 0 },
    { name: 'flat' },
  );
  b.output(s);
  b.output(n);
  const r = await check(load(b), 9);
  assert.deepEqual(attrNames(node(r.model, 'BatchNormalization')), []);
  assert.ok(ops(r.model).includes('Flatten'));
});

test('Softmax/LogSoftmax/Hardmax → 13: the last axis stays, other axes flatten and reshape back', async () => {
  const b = new ModelBuilder({ opset: 12 });
  const x4 = b.input('x4', DataType.FLOAT, [2, 3, 2, 2]);
  const x2 = b.input('x2', DataType.FLOAT, [3, 5]);
  const xu = b.input('xu', DataType.FLOAT); // rank unknown to the converter
  for (const op of ['Softmax', 'LogSoftmax', 'Hardmax']) {
    b.output(b.node(op, [x4], {}, { name: `${op}_default4` })[0]);
    b.output(b.node(op, [x4], { axis: 2 }, { name: `${op}_axis2` })[0]);
    b.output(b.node(op, [x4], { axis: -1 }, { name: `${op}_last4` })[0]);
    b.output(b.node(op, [x2], {}, { name: `${op}_default2` })[0]);
    b.output(b.node(op, [xu], { axis: 0 }, { name: `${op}_unknown` })[0]);
  }
  const model = load(b);
  const feeds = randomFeeds({
    ...model,
    graph: { ...model.graph, inputs: model.graph.inputs.slice(0, 2) },
  });
  feeds.xu = new ort.Tensor(
    'float32',
    Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)),
    [3, 4],
  );
  const r = await check(model, 13, { feeds });
  assert.equal(r.converted.get('Softmax'), 3, 'default4, axis2, unknown');
  const kept = r.model.graph.nodes.filter((n) => /_(last4|default2)$/.test(n.name));
  assert.equal(kept.length, 6);
  assert.ok(
    kept.every((n) => n.raw),
    'unchanged nodes keep their bytes',
  );
});

test('Split-2 → 13 → 18: split attribute becomes an input; an even split gets num_outputs', async () => {
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, [2, 6, 3]);
  const [a, c] = b.node('Split', [x], { axis: 1, split: [2, 4] }, { outputs: 2, name: 'uneven' });
  const [d, e, f] = b.node('Split', [x], { axis: 1 }, { outputs: 3, name: 'even' });
  for (const y of [a, c, d, e, f]) b.output(y);
  const model = load(b);
  const at13 = await check(model, 13);
  assert.deepEqual(at13.model.graph.nodes[0].inputs, ['x', 'uneven_split']);
  assert.deepEqual(attrNames(at13.model.graph.nodes[1]), ['axis']);
  const at18 = await check(model, 18);
  assert.deepEqual(attrNames(at18.model.graph.nodes[1]), ['axis', 'num_outputs']);
  assert.equal(at18.model.graph.nodes[1].attributes[1].i, 3);
});

test('Squeeze/Unsqueeze/ReduceSum → 13 and the other Reduce ops → 18: axes become inputs', async () => {
  const b = new ModelBuilder({ opset: 12 });
  const x = b.input('x', DataType.FLOAT, [2, 1, 3, 1]);
  b.output(b.node('Squeeze', [x], { axes: [1, 3] })[0]);
  b.output(b.node('Squeeze', [x])[0]);
  b.output(b.node('Unsqueeze', [x], { axes: [0, 5] })[0]);
  b.output(b.node('ReduceSum', [x], { axes: [2], keepdims: 0 })[0]);
  b.output(b.node('ReduceSum', [x])[0]);
  const reduces = ['ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean'].concat([
    'ReduceMin',
    'ReduceProd',
    'ReduceSumSquare',
  ]);
  for (const op of reduces) {
    b.output(b.node(op, [x], { axes: [0, 2], keepdims: 0 })[0]);
    b.output(b.node(op, [x], { axes: [-2] })[0]);
    b.output(b.node(op, [x])[0]);
  }
  // ReduceLogSum on positive values (its log).
  const [p] = b.node('Abs', [x]);
  b.output(b.node('ReduceLogSum', [p], { axes: [2] })[0]);
  const r = await check(load(b), 18);
  const withAxes = r.model.graph.nodes.filter((n) => n.inputs.length === 2);
  assert.equal(withAxes.length, 3 + 2 * reduces.length + 1);
  assert.ok(r.model.graph.nodes.every((n) => !attrNames(n).includes('axes')));
});

test('RoiAlign-10 → 16 keeps output_half_pixel explicitly', async () => {
  const b = new ModelBuilder({ opset: 15 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 8, 8]);
  const rois = b.initializer('rois', DataType.FLOAT, [2, 4], [0, 0, 4.5, 4, 1.2, 2, 7, 6.3]);
  const idx = b.ints('batch', [0, 0]);
  const [y] = b.node('RoiAlign', [x, rois, idx], { output_height: 3, output_width: 2 });
  b.output(y);
  const r = await check(load(b), 16);
  assert.deepEqual(attrNames(r.model.graph.nodes[0]), [
    'output_height',
    'output_width',
    'coordinate_transformation_mode',
  ]);
});

test('GridSample-16 → 20: bilinear/bicubic become linear/cubic', async () => {
  const b = new ModelBuilder({ opset: 19 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 5, 5]);
  const random = seededRandom(9);
  const grid = b.initializer(
    'grid',
    DataType.FLOAT,
    [1, 3, 4, 2],
    Array.from({ length: 24 }, () => random() * 2 - 1),
  );
  b.output(b.node('GridSample', [x, grid], { mode: 'bilinear' })[0]);
  b.output(b.node('GridSample', [x, grid], { mode: 'bicubic', align_corners: 1 })[0]);
  b.output(b.node('GridSample', [x, grid], { mode: 'nearest' })[0]);
  const r = await check(load(b), 20);
  assert.equal(r.converted.get('GridSample'), 2);
});

test('DFT-17 → 20: the axis attribute (default 1) becomes the third input', async () => {
  const b = new ModelBuilder({ opset: 19 });
  const x = b.input('x', DataType.FLOAT, [2, 8, 3, 1]);
  b.output(b.node('DFT', [x], {}, { name: 'default' })[0]);
  b.output(b.node('DFT', [x], { axis: 2 }, { name: 'axis2' })[0]);
  const r = await check(load(b), 20, { tol: 1e-4 });
  assert.deepEqual(r.model.graph.nodes[0].inputs, ['x', '', 'default_axis']);
});

test('GroupNormalization-18 → 21: per-group scale/bias become per-channel, constant or not', async () => {
  const b = new ModelBuilder({ opset: 18 });
  const x = b.input('x', DataType.FLOAT, [2, 6, 2, 3]);
  const [c] = b.node(
    'GroupNormalization',
    [x, b.weight('scale', [3]), b.weight('bias', [3])],
    { num_groups: 3 },
    { name: 'constant' },
  );
  const scale = b.input('s', DataType.FLOAT, [2]);
  const bias = b.input('b', DataType.FLOAT, [2]);
  const [d] = b.node(
    'GroupNormalization',
    [x, scale, bias],
    { num_groups: 2 },
    { name: 'dynamic' },
  );
  b.output(c);
  b.output(d);
  const r = await check(load(b), 21, { tol: 1e-4 });
  assert.deepEqual(node(r.model, 'GroupNormalization').inputs, [
    'x',
    'constant_scale_per_channel',
    'constant_bias_per_channel',
  ]);
  assert.ok(ops(r.model).includes('Expand'));
});

test('Scan-8 with a batch of 1 → Scan-9 (squeeze in, unsqueeze out); other batches refuse', async () => {
  const body = subgraph((g) => {
    const s = g.input('s_in', DataType.FLOAT, [3]);
    const xt = g.input('x_t', DataType.FLOAT, [3]);
    const [sum] = g.node('Add', [s, xt], {}, { outputs: ['s_out'] });
    const [copy] = g.node('Identity', [sum], {}, { outputs: ['y_t'] });
    g.output(sum, DataType.FLOAT, [3]);
    g.output(copy, DataType.FLOAT, [3]);
  });
  const build = (batch: number): Model => {
    const b = new ModelBuilder({ opset: 8 });
    const s0 = b.input('s0', DataType.FLOAT, [batch, 3]);
    const xs = b.input('xs', DataType.FLOAT, [batch, 4, 3]);
    b.node('Scan', ['', s0, xs], { body, num_scan_inputs: 1 }, { outputs: ['final', 'ys'] });
    b.output('final');
    b.output('ys');
    return load(b);
  };
  const r = await check(build(1), 9);
  assert.deepEqual(ops(r.model), ['Squeeze', 'Squeeze', 'Scan', 'Unsqueeze', 'Unsqueeze']);
  // On to 13 the inserted Squeeze/Unsqueeze take their axes as inputs.
  const at13 = await check(build(1), 13);
  assert.ok(
    at13.model.graph.nodes.filter((n) => n.opType !== 'Scan').every((n) => n.inputs.length === 2),
  );
  refuses(
    () => convertOpset(build(2), 9),
    /^Scan 'scan_0' runs over a batch of 2; opset 9's Scan has no batch axis/,
  );
});

test('If branches are converted too, with their own initializers', async () => {
  const branch = (min: number) =>
    subgraph((g) => {
      const [y] = g.node(
        'Clip',
        ['x'],
        { min: float(min), max: float(1) },
        { outputs: [`y${min}`] },
      );
      const [s] = g.node('Squeeze', [y], { axes: [0] }, { outputs: [`s${min}`] });
      g.output(s);
    });
  const b = new ModelBuilder({ opset: 9 });
  b.input('x', DataType.FLOAT, [1, 4]);
  const cond = b.input('cond', DataType.BOOL, []);
  const [y] = b.node('If', [cond], { then_branch: branch(0), else_branch: branch(-1) });
  b.output(y);
  const model = load(b);
  const x = new ort.Tensor('float32', Float32Array.from([-2, -0.5, 0.5, 2]), [1, 4]);
  for (const c of [true, false]) {
    const feeds = { x, cond: new ort.Tensor('bool', Uint8Array.from([c ? 1 : 0]), []) };
    const r = await check(model, 13, { feeds });
    const thenBranch = r.model.graph.nodes[0].attributes.find((a) => a.name === 'then_branch')?.g;
    assert.deepEqual(
      thenBranch?.initializers.map((t) => t.name),
      ['clip_0_min', 'clip_0_max', 'squeeze_1_axes'],
    );
    assert.deepEqual(r.converted.get('Clip'), 2);
  }
});

test('a Loop body is converted with its own initializers', async () => {
  const body = subgraph((g) => {
    g.input('i', DataType.INT64, []);
    const c = g.input('c_in', DataType.BOOL, []);
    const v = g.input('v_in', DataType.FLOAT, [2]);
    const [u] = g.node('Unsqueeze', [v], { axes: [0] }, { outputs: ['u'] });
    const [s] = g.node('ReduceSum', [u], { axes: [0], keepdims: 0 }, { outputs: ['s'] });
    const [sum] = g.node('Add', [v, s], {}, { outputs: ['v_out'] });
    const [keep] = g.node('Identity', [c], {}, { outputs: ['c_out'] });
    g.output(keep, DataType.BOOL, []);
    g.output(sum, DataType.FLOAT, [2]);
  });
  const b = new ModelBuilder({ opset: 11 });
  const v0 = b.input('v0', DataType.FLOAT, [2]);
  const trips = b.ints('trips', [3], []);
  const go = b.initializer('go', DataType.BOOL, [], [1]);
  const [y] = b.node('Loop', [trips, go, v0], { body });
  b.output(y, DataType.FLOAT, [2]);
  const r = await check(load(b), 13);
  const converted = r.model.graph.nodes[0].attributes[0].g;
  assert.deepEqual(
    converted?.initializers.map((t) => t.name),
    ['unsqueeze_0_axes', 'reducesum_1_axes'],
  );
  assert.equal(r.model.graph.initializers.length, 2, 'the main graph gets nothing new');
});

test('local functions are converted with Constant nodes, and their opset import raised', async () => {
  const b = new ModelBuilder({ opset: 15 });
  const x = b.input('x', DataType.FLOAT, [2, 3, 4]);
  const [y] = b.node('MeanOverLast', [x], {}, { domain: 'local', name: 'call' });
  b.output(y, DataType.FLOAT, [2, 3]);
  b.extraOpsets.push({ domain: 'local', version: 1 });
  const mean = {
    extra: [],
    name: 'm',
    opType: 'ReduceMean',
    domain: '',
    inputs: ['X'],
    outputs: ['Y'],
    attributes: [makeAttribute('axes', [-1]), makeAttribute('keepdims', 0)],
    docString: '',
  };
  const model: Model = {
    ...b.build(),
    functions: [
      {
        extra: [],
        name: 'MeanOverLast',
        domain: 'local',
        inputs: ['X'],
        outputs: ['Y'],
        attributeNames: [],
        nodes: [mean],
        opsetImport: [{ extra: [], domain: '', version: 15 }],
      },
    ],
  };
  const r = await check(decodeModel(encodeModel(model)), 18);
  const f = r.model.functions[0];
  assert.deepEqual(
    f.nodes.map((n) => n.opType),
    ['Constant', 'ReduceMean'],
  );
  assert.deepEqual(
    f.opsetImport.map((o) => o.version),
    [18],
  );
  assert.equal(r.converted.get('ReduceMean'), 1);
});

test('BatchNormalization → 14: unused trailing outputs go; saved_mean/saved_var refuse', () => {
  const build = (outputs: string[]): Model => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', DataType.FLOAT, [1, 2, 2, 2]);
    const ps = ['s', 'b', 'm', 'v'].map((p) => b.weight(p, [2]));
    b.node('BatchNormalization', [x, ...ps], {}, { outputs, name: 'bn' });
    b.output('y');
    return load(b);
  };
  assert.deepEqual(convertOpset(build(['y', '', '']), 14).model.graph.nodes[0].outputs, ['y']);
  const training = convertOpset(build(['y', 'rm', 'rv']), 14).model.graph.nodes[0];
  assert.deepEqual(attrNames(training), ['training_mode']);
  refuses(
    () => convertOpset(build(['y', 'rm', 'rv', 'sm', 'sv']), 14, { reason: 'int4/uint4' }),
    /^int4\/uint4 needs opset 14, and opset 13 can't be converted: BatchNormalization 'bn' outputs saved_mean\/saved_var/,
  );
});

test('what has no equivalent at the new opset refuses with one line', () => {
  // A linear Resize with tf_half_pixel_for_nn: opset 13 removed that mode.
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, [1, 1, 4, 4]);
  const roi = b.initializer('roi', DataType.FLOAT, [0], []);
  const scales = b.initializer('scales', DataType.FLOAT, [4], [1, 1, 2, 2]);
  const [y] = b.node(
    'Resize',
    [x, roi, scales],
    { mode: 'linear', coordinate_transformation_mode: 'tf_half_pixel_for_nn' },
    { name: 'up' },
  );
  b.output(y);
  refuses(
    () => convertOpset(load(b), 13),
    /^Resize 'up' \(linear\) uses tf_half_pixel_for_nn, which opset 13 removed and no remaining mode reproduces$/,
  );
  // A nearest Resize-10 whose scales come at run time: no single rounding matches.
  const r = new ModelBuilder({ opset: 10 });
  const [z] = r.node(
    'Resize',
    [r.input('x', DataType.FLOAT, [1, 1, 4, 4]), r.input('s', DataType.FLOAT, [4])],
    {},
    { name: 'rt' },
  );
  r.output(z);
  refuses(() => convertOpset(load(r), 11), /^Resize 'rt' \(nearest\) reads its scales at run time/);
  // Opsets outside the converter's range.
  refuses(() => convertOpset(load(r), 26), /^opset 26 is newer than the converter knows \(25\)$/);
  const old = new ModelBuilder({ opset: 5 });
  old.output(old.node('Relu', [old.input('x', DataType.FLOAT, [1])])[0]);
  refuses(() => convertOpset(load(old), 13), /^opset 5 is older than 6/);
});

test('experimental ops removed at opset 10 become standard ops (ImageScaler, Crop, MVN, …)', async () => {
  const b = new ModelBuilder({ opset: 8 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 5, 6]);
  const bias = [float(0.5), float(-1)];
  b.output(b.node('ImageScaler', [x], { scale: float(0.25), bias })[0]);
  b.output(b.node('ImageScaler', [x], { bias })[0]);
  b.output(b.node('Affine', [x], { alpha: float(2), beta: float(-0.5) })[0]);
  b.output(b.node('Scale', [x], { scale: float(3) })[0]);
  b.output(b.node('ScaledTanh', [x], { alpha: float(1.5), beta: float(0.5) })[0]);
  b.output(b.node('ParametricSoftplus', [x], { alpha: float(2), beta: float(0.7) })[0]);
  b.output(b.node('Crop', [x], { border: [1, 2, 0, 1] })[0]);
  b.output(b.node('Crop', [x], { border: [2, 1, 0, 0], scale: [3, 2] })[0]);
  b.output(
    b.node('DynamicSlice', [
      x,
      b.ints('st', [1, 0]),
      b.ints('en', [4, 5]),
      b.ints('ax', [3, 2]),
    ])[0],
  );
  b.output(b.node('MeanVarianceNormalization', [x])[0]);
  b.output(b.node('MeanVarianceNormalization', [x], { across_channels: 1 })[0]);
  b.output(b.node('MeanVarianceNormalization', [x], { normalize_variance: 0 })[0]);
  b.output(b.node('ThresholdedRelu', [x], { alpha: float(0.5) })[0]);
  const r = await check(load(b), 10, { tol: 1e-4 });
  const left = new Set(ops(r.model));
  for (const op of ['ImageScaler', 'Affine', 'Scale', 'ScaledTanh', 'Crop', 'DynamicSlice']) {
    assert.ok(!left.has(op), op);
  }
  assert.equal(r.converted.get('ImageScaler→Mul+Add'), 1);
  assert.equal(r.converted.get('ImageScaler→Add'), 1);
  assert.equal(r.converted.get('MeanVarianceNormalization'), 2);
  assert.equal(r.converted.get('MeanVarianceNormalization→ReduceMean+Sub'), 1);
  // ATen is PyTorch's escape hatch: no ONNX op computes it.
  const aten = new ModelBuilder({ opset: 9 });
  aten.output(
    aten.node(
      'ATen',
      [aten.input('x', DataType.FLOAT, [2])],
      { operator: 'foo' },
      { name: 'a' },
    )[0],
  );
  refuses(
    () => convertOpset(load(aten), 13, { reason: 'per-channel scales' }),
    /^per-channel scales needs opset 13, and opset 9 can't be converted: ATen 'a' is an experimental op that opset 10 removed/,
  );
});

test('opset 6 → 7: broadcast/axis attributes become numpy broadcasting', () => {
  const b = new ModelBuilder({ opset: 6 });
  const x = b.input('x', DataType.FLOAT, [2, 3, 4, 5]);
  const [a] = b.node('Add', [x, b.weight('c', [3])], { broadcast: 1, axis: 1 }, { name: 'mid' });
  const [m] = b.node('Mul', [a, b.weight('t', [4, 5])], { broadcast: 1 }, { name: 'tail' });
  const [g] = b.node(
    'Gemm',
    [b.weight('ga', [2, 3]), b.weight('gb', [3, 4]), b.weight('gc', [4])],
    { broadcast: 1 },
  );
  const [bn] = b.node(
    'BatchNormalization',
    [m, ...['s', 'bb', 'mm', 'vv'].map((p) => b.weight(p, [3]))],
    { is_test: 1 },
  );
  b.output(bn);
  b.output(g);
  const r = convertOpset(load(b), 7);
  assert.deepEqual(ops(r.model), ['Unsqueeze', 'Add', 'Mul', 'Gemm', 'BatchNormalization']);
  assert.deepEqual(r.model.graph.nodes[0].attributes[0].ints, [1, 2]);
  assert.ok(
    r.model.graph.nodes.every((n) => n.opType === 'Unsqueeze' || n.attributes.length === 0),
  );
});

test('PRelu-6 → 7: a per-channel slope is unsqueezed so numpy broadcasting keeps it on axis 1', async () => {
  const b = new ModelBuilder({ opset: 6 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 1, 3]);
  const slope = b.initializer('slope', DataType.FLOAT, [2], [0.5, -2]);
  const [y] = b.node('PRelu', [x, slope]);
  b.output(y);
  const r = convertOpset(load(b), 7);
  assert.deepEqual(ops(r.model), ['Unsqueeze', 'PRelu']);
  const input = Float32Array.from([-1, 2, -3, -4, 5, -6]);
  const out = await run(r.model, { x: new ort.Tensor('float32', input, [1, 2, 1, 3]) });
  assert.deepEqual(Array.from(out[y].data as Float32Array), [-0.5, 2, -1.5, 8, 5, 12]);
});

test('the adapter table covers every op whose meaning or signature changed from opset 6 to 25', () => {
  const table = adaptedOps();
  const expected: Record<string, number[]> = {
    Clip: [11],
    Pad: [11],
    Slice: [10],
    TopK: [10],
    Split: [13, 18],
    Squeeze: [13],
    Unsqueeze: [13],
    ReduceSum: [13],
    ReduceMean: [18],
    ReduceMax: [18],
    Upsample: [7, 9, 10],
    Resize: [11, 13],
    Dropout: [7, 10, 12],
    BatchNormalization: [7, 9, 14],
    Softmax: [13],
    LogSoftmax: [13],
    Hardmax: [13],
    Scatter: [11],
    Scan: [9],
    RoiAlign: [16],
    GridSample: [20],
    DFT: [20],
    GroupNormalization: [21],
    Add: [7],
    Gemm: [7],
    PRelu: [7],
    ImageScaler: [10],
    MeanVarianceNormalization: [9],
  };
  for (const [op, versions] of Object.entries(expected)) {
    assert.deepEqual(table.get(op), versions, op);
  }
  // Unchanged in meaning from 7 to 25 (new types only): no adapter.
  const unchanged = ['Conv', 'MatMul', 'Relu', 'Concat', 'Reshape', 'Flatten', 'MaxPool', 'Cast'];
  for (const op of [...unchanged, 'CastLike', 'QuantizeLinear', 'DequantizeLinear', 'Swish']) {
    assert.equal(table.get(op), undefined, op);
  }
  for (const op of [
    'Attention',
    'If',
    'Loop',
    'Transpose',
    'AveragePool',
    'Softplus',
    'Identity',
  ]) {
    assert.equal(table.get(op), undefined, op);
  }
});

test('an Upsample-1 (height/width scales) goes all the way to Resize-13', async () => {
  const b = new ModelBuilder({ opset: 6 });
  const x = b.input('x', DataType.FLOAT, [1, 1, 2, 2]);
  const [y] = b.node('Upsample', [x], {
    height_scale: float(2),
    width_scale: float(3),
    mode: 'nearest',
  });
  b.output(y);
  const r = convertOpset(load(b), 13);
  assert.deepEqual(ops(r.model), ['Resize']);
  const out = await run(r.model, {
    x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 1, 2, 2]),
  });
  const expected = [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4];
  assert.deepEqual(Array.from(out[y].data as Float32Array), expected);
});

test('new names never collide with existing ones, in any graph', () => {
  const b = new ModelBuilder({ opset: 9 });
  const x = b.input('x', DataType.FLOAT, [2]);
  b.initializer('c_min', DataType.FLOAT, [1], [0]);
  const [y] = b.node('Clip', [x], { min: float(-1) }, { name: 'c', outputs: ['c_max'] });
  b.output(y);
  const r = convertOpset(load(b), 11);
  assert.deepEqual(r.model.graph.nodes[0].inputs, ['x', 'c_min_1']);
});

test('a torch.onnx transformer exported at opset 13 converts to 21 and computes the same', async () => {
  const file = path.resolve(__dirname, '../../fixtures/exported/transformer_op13.onnx');
  const loaded = loadModelFile(file);
  const r = convertOpset(loaded.model, 21, { external: loaded.external });
  assert.match(r.notes[0], /^opset raised 13 → 21 \(ReduceMean ×\d+ converted\)$/);
  const result = await verifyModels(file, encodeModel(r.model), { samples: 2 });
  assert.ok(result.maxAbsError < 1e-5, `max abs error ${result.maxAbsError}`);
});

function sqnrDb(reference: ArrayLike<number>, actual: ArrayLike<number>): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    signal += reference[i] ** 2;
    noise += (reference[i] - actual[i]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

async function outputSqnr(original: Model, compressed: Model): Promise<number> {
  const feeds = randomFeeds(original, 21);
  const a = await run(original, feeds);
  const b = await run(decodeModel(encodeModel(compressed)), feeds);
  const name = Object.keys(a)[0];
  assert.deepEqual(b[name].dims, a[name].dims);
  return sqnrDb(a[name].data as Float32Array, b[name].data as Float32Array);
}

test('an opset-9 model (Clip-6, Pad-2, Upsample, Slice-1) quantizes per-channel int8 at opset 13', async () => {
  // The shape of a paddle2onnx detector neck: Conv → ReLU6 → Pad → Conv → Upsample ×2 → crop.
  const b = new ModelBuilder({ opset: 9, seed: 3 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 16, 16]);
  const [c1] = b.node(
    'Conv',
    [x, b.weight('w1', [8, 3, 3, 3]), b.weight('b1', [8])],
    {},
    { name: 'conv1' },
  );
  const [r] = b.node('Clip', [c1], { min: float(0), max: float(6) }, { name: 'relu6' });
  const [p] = b.node(
    'Pad',
    [r],
    { pads: [0, 0, 1, 1, 0, 0, 1, 1], mode: 'reflect' },
    { name: 'pad' },
  );
  const [c2] = b.node('Conv', [p, b.weight('w2', [8, 8, 3, 3])], {}, { name: 'conv2' });
  b.node(
    'Constant',
    [],
    { value: makeTensor('s', DataType.FLOAT, [4], [1, 1, 2, 2]) },
    { name: 'scales', outputs: ['s'] },
  );
  const [u] = b.node('Upsample', [c2, 's'], { mode: 'nearest' }, { name: 'up' });
  const [crop] = b.node(
    'Slice',
    [u],
    { starts: [2, 2], ends: [26, 26], axes: [2, 3] },
    { name: 'crop' },
  );
  const [c3] = b.node('Conv', [crop, b.weight('w3', [4, 8, 1, 1])], {}, { name: 'conv3' });
  b.output(c3, DataType.FLOAT, [1, 4, 24, 24]);
  const model = load(b);

  const { model: q, summary } = quantizeWeights(model, { bits: 8 });
  assert.equal(q.opsetImport[0].version, 13);
  assert.ok(
    summary.notes.includes(
      'opset raised 9 → 13 for per-channel scales (Clip ×1, Pad ×1, Upsample→Resize ×1, Slice ×1 converted)',
    ),
    summary.notes.join('\n'),
  );
  assert.deepEqual(summary.layersTouched, ['conv1', 'conv2', 'conv3']);
  const dq = q.graph.nodes.filter((n) => n.opType === 'DequantizeLinear');
  assert.ok(
    dq.every((n) => n.attributes.some((a) => a.name === 'axis')),
    'per-channel',
  );
  const db = await outputSqnr(model, q);
  console.log(`opset 9 → 13, int8 per-channel: ${db.toFixed(1)} dB`);
  assert.ok(db > 30, `${db} dB`);
});

/**
 * The shape of a torchvision ShuffleNetV2 block: channel split, a branch, concat, global mean.
 * At opset 13 Split takes `split` as an input (ONNX Runtime rejects the attribute there), so the
 * opset-13 model splits evenly, which Split-18 needs `num_outputs` for; the opset-12 model has the
 * `split` attribute, and an uneven one.
 */
function shuffleBlock(opset: 12 | 13): Model {
  const b = new ModelBuilder({ opset, seed: 4 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const w1 = b.weight('w1', [16, 3, 3, 3]);
  const [c1] = b.node('Conv', [x, w1], { pads: [1, 1, 1, 1] }, { name: 'conv1' });
  const [r1] = b.node('Relu', [c1], {}, { outputs: ['r1'] });
  const split: Record<string, AttrValue> = opset === 12 ? { axis: 1, split: [6, 10] } : { axis: 1 };
  const [left, right] = b.node('Split', [r1], split, { outputs: 2, name: 'split' });
  const half = opset === 12 ? 10 : 8;
  const [c2] = b.node('Conv', [right, b.weight('w2', [half, half, 1, 1])], {}, { name: 'conv2' });
  const [r2] = b.node('Relu', [c2]);
  const [cat] = b.node('Concat', [left, r2], { axis: 1 });
  const [mean] = b.node('ReduceMean', [cat], { axes: [2, 3], keepdims: 0 }, { name: 'mean' });
  const fc = [mean, b.weight('fc', [10, 16]), b.weight('fcb', [10])];
  const [y] = b.node('Gemm', fc, { transB: 1 }, { name: 'fc' });
  b.output(y, DataType.FLOAT, [1, 10]);
  return load(b);
}

test('opset-12/13 models with ReduceMean (axes attribute) and Split go to int4 at opset 21', async () => {
  for (const opset of [12, 13] as const) {
    const model = shuffleBlock(opset);
    const { model: q, summary } = quantizeWeights(model, { bits: 4 });
    assert.equal(q.opsetImport[0].version, 21);
    assert.equal(q.irVersion, 10);
    assert.ok(
      summary.notes.includes(
        `opset raised ${opset} → 21 for int4/uint4 (Split ×1, ReduceMean ×1 converted)`,
      ),
      summary.notes.join('\n'),
    );
    const split = q.graph.nodes.find((n) => n.name === 'split');
    if (opset === 12) assert.deepEqual(split?.inputs, ['r1', 'split_split']);
    else assert.deepEqual(attrNames(split!), ['axis', 'num_outputs']);
    const mean = q.graph.nodes.find((n) => n.name === 'mean');
    assert.deepEqual(mean?.inputs.length, 2);
    assert.equal(q.graph.initializers.filter((t) => t.dataType === DataType.INT4).length, 3);
    const db = await outputSqnr(model, q);
    console.log(`opset ${opset} → 21, int4 per-channel: ${db.toFixed(1)} dB`);
    assert.ok(db > 10, `${db} dB`);
  }
});

// ---- opsets 22 to 25 ----

/** Packs small signed integers (−2^(bits−1) … 2^(bits−1)−1) low-first, as ONNX stores int4/int2. */
function packSigned(values: readonly number[], bits: 2 | 4): Uint8Array {
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(Math.ceil(values.length / perByte));
  values.forEach((v, i) => {
    out[Math.floor(i / perByte)] |= (v & mask) << ((i % perByte) * bits);
  });
  return out;
}

/** The shape of a torchvision classifier exported at opset 13. */
function convNet13(): Model {
  const b = new ModelBuilder({ opset: 13, seed: 7 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 12, 12]);
  const [c1] = b.node('Conv', [x, b.weight('w1', [8, 3, 3, 3]), b.weight('b1', [8])], {
    pads: [1, 1, 1, 1],
  });
  const bn = ['s', 'bb', 'm'].map((p) => b.weight(`bn_${p}`, [8]));
  const v = b.initializer('bn_v', DataType.FLOAT, [8], Array(8).fill(0.7));
  const [n1] = b.node('BatchNormalization', [c1, ...bn, v]);
  const [r1] = b.node('Relu', [n1]);
  const [p1] = b.node('MaxPool', [r1], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
  const [c2] = b.node('Conv', [p1, b.weight('w2', [8, 1, 3, 3])], { group: 8, pads: [1, 1, 1, 1] });
  const [h] = b.node('HardSigmoid', [c2]);
  const [a1] = b.node('AveragePool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  const [s1, s2] = b.node('Split', [a1], { axis: 1 }, { outputs: 2 });
  const [cl] = b.node('Clip', [
    s2,
    b.initializer('lo', DataType.FLOAT, [], [0]),
    b.initializer('hi', DataType.FLOAT, [], [6]),
  ]);
  const [cat] = b.node('Concat', [s1, cl], { axis: 1 });
  const [t] = b.node('Transpose', [cat], { perm: [0, 2, 3, 1] });
  const [mean] = b.node('ReduceMean', [t], { axes: [1, 2], keepdims: 0 });
  const [f] = b.node('Flatten', [mean]);
  const [d] = b.node('Dropout', [f]);
  const [fc] = b.node('Gemm', [d, b.weight('fc', [5, 8]), b.weight('fcb', [5])], { transB: 1 });
  const [u] = b.node('Unsqueeze', [fc, b.ints('ax', [0])]);
  const [sq] = b.node('Squeeze', [u, b.ints('ax0', [0])]);
  const [y] = b.node('Softmax', [sq], { axis: -1 });
  b.output(y, DataType.FLOAT, [1, 5]);
  return load(b);
}

test('a conv net at opset 13 converts to 25: IR 13, only the opset-18 ops rewritten', async () => {
  const model = convNet13();
  assert.ok(canConvertTo(model, 25));
  assert.equal(conversionRefusal(model, 25), undefined);
  const r = await check(model, 25);
  assert.equal(r.model.irVersion, 13);
  assert.deepEqual(r.notes, [
    'opset raised 13 → 25 (Split ×1, ReduceMean ×1 converted)',
    'IR version raised 8 → 13 (opset 25 needs it)',
  ]);
  // Each intermediate opset is a valid target too, with its own IR version.
  for (const [to, ir] of [
    [22, 10],
    [23, 11],
    [24, 12],
  ]) {
    const at = await check(model, to);
    assert.equal(at.model.irVersion, ir, `opset ${to}`);
  }
});

test('ops with a new version at 22 (bfloat16 added) compute the same at 22 and 25', async () => {
  const b = new ModelBuilder({ opset: 21, seed: 11 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 6, 6]);
  // Ceil mode where the last window would start in the right padding (onnx#5741): 3 → 2 windows.
  const corner = { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 1, 1], ceil_mode: 1 };
  b.output(b.node('MaxPool', [x], corner)[0]);
  b.output(b.node('AveragePool', [x], corner)[0]);
  b.output(b.node('AveragePool', [x], { ...corner, count_include_pad: 1 })[0]);
  b.output(b.node('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 })[0]);
  b.output(b.node('LpPool', [x], { kernel_shape: [2, 2], p: 3 })[0]);
  for (const op of ['GlobalAveragePool', 'GlobalMaxPool', 'LpNormalization']) {
    b.output(b.node(op, [x])[0]);
  }
  const unary = ['Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Mish', 'Softplus', 'Softsign'];
  const trig = ['Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Atanh'];
  for (const op of [...unary, ...trig, 'Round', 'ThresholdedRelu']) b.output(b.node(op, [x])[0]);
  const [r] = b.node('Dropout', [x], {}, { outputs: 2 });
  b.output(r);
  b.output(b.node('Conv', [x, b.weight('w', [3, 2, 3, 3])], { dilations: [2, 2] })[0]);
  b.output(b.node('ConvTranspose', [x, b.weight('wt', [2, 3, 2, 2])], { strides: [2, 2] })[0]);
  const offsets = b.weight('off', [1, 18, 4, 4]);
  b.output(b.node('DeformConv', [x, b.weight('wd', [3, 2, 3, 3]), offsets])[0]);
  b.output(
    b.node('InstanceNormalization', [x, b.weight('is', [2]), b.weight('ib', [2])], {
      epsilon: float(0.01),
    })[0],
  );
  b.output(b.node('Det', [x])[0]);
  const [pooled, indices] = b.node(
    'MaxPool',
    [x],
    { kernel_shape: [2, 2], strides: [2, 2] },
    {
      outputs: 2,
    },
  );
  b.output(b.node('MaxUnpool', [pooled, indices], { kernel_shape: [2, 2], strides: [2, 2] })[0]);
  b.output(b.node('GridSample', [x, b.weight('grid', [1, 3, 4, 2])], { mode: 'cubic' })[0]);
  const [flat] = b.node('Flatten', [x], { axis: 3 });
  b.output(b.node('EyeLike', [flat], { k: 1 })[0]);
  // The recurrent ops on x as a sequence of 12 steps, batch 1, 6 features.
  const [seq] = b.node('Reshape', [x, b.ints('seq_shape', [12, 1, 6])]);
  const rnn = (op: string, gates: number): void => {
    const w = b.weight(`${op}_W`, [2, gates * 3, 6]);
    const rw = b.weight(`${op}_R`, [2, gates * 3, 3]);
    const outs = b.node(
      op,
      [seq, w, rw],
      { hidden_size: 3, direction: 'bidirectional' },
      {
        outputs: 2,
      },
    );
    for (const o of outs) b.output(o);
  };
  rnn('RNN', 1);
  rnn('GRU', 3);
  rnn('LSTM', 4);
  const model = load(b);
  // ONNX Runtime already drops the window starting in the padding at 21: same shape at both.
  const corners = model.graph.nodes.slice(0, 3).map((n) => n.outputs[0]);
  const before = await run(model, randomFeeds(model));
  for (const name of corners) assert.deepEqual(before[name].dims, [1, 2, 3, 3], name);
  const at22 = await check(model, 22, { tol: 1e-4 });
  assert.equal(at22.converted.size, 0, 'only the opset changes');
  assert.equal(at22.notes[0], 'opset raised 21 → 22');
  const at25 = await check(model, 25, { tol: 1e-4 });
  assert.equal(at25.converted.size, 0);
});

test('ops with a new version at 23–25 (Cast, Q/DQ, shape ops, TopK, If/Loop/Scan) compute the same at 25', async () => {
  const b = new ModelBuilder({ opset: 21, seed: 12 });
  const x = b.input('x', DataType.FLOAT, [2, 3, 8]);
  const [half] = b.node('Cast', [x], { to: DataType.FLOAT16 });
  b.output(b.node('Cast', [half], { to: DataType.FLOAT })[0]);
  const [e4] = b.node('Cast', [x], { to: DataType.FLOAT8E4M3FN });
  b.output(b.node('CastLike', [e4, b.initializer('like', DataType.FLOAT, [], [0])])[0]);
  b.output(b.node('Cast', [x], { to: DataType.INT32 })[0]);
  // Per-axis int8 and blocked int4 quantization, and an int4 weight behind DequantizeLinear.
  const scales = b.initializer('qs', DataType.FLOAT, [3], [0.02, 0.05, 0.1]);
  const [q] = b.node('QuantizeLinear', [x, scales], { axis: 1, output_dtype: DataType.INT8 });
  b.output(b.node('DequantizeLinear', [q, scales], { axis: 1 })[0]);
  const blockScales = b.initializer(
    'bs',
    DataType.FLOAT,
    [2, 3, 2],
    [0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.3, 0.2, 0.1, 0.3, 0.2, 0.1],
  );
  const [q4] = b.node('QuantizeLinear', [x, blockScales], {
    axis: 2,
    block_size: 4,
    output_dtype: DataType.INT4,
  });
  b.output(b.node('DequantizeLinear', [q4, blockScales], { axis: 2, block_size: 4 })[0]);
  const int4 = Array.from({ length: 24 }, (_, i) => (i % 16) - 8);
  const w4 = b.initializer('w4', DataType.INT4, [8, 3], packSigned(int4, 4));
  const [w] = b.node(
    'DequantizeLinear',
    [w4, b.initializer('ws', DataType.FLOAT, [3], [0.5, 0.25, 1])],
    {
      axis: 1,
    },
  );
  b.output(b.node('MatMul', [x, w])[0]);
  // Shape ops.
  const [flat] = b.node('Flatten', [x], { axis: 2 });
  const [re] = b.node('Reshape', [flat, b.ints('re', [0, 4, -1])], { allowzero: 0 });
  const [un] = b.node('Unsqueeze', [re, b.ints('un', [1, -1])]);
  const [sq] = b.node('Squeeze', [un, b.ints('sq', [-1])]);
  b.output(b.node('Transpose', [sq], { perm: [3, 1, 0, 2] })[0]);
  b.output(b.node('Pad', [x, b.ints('pads', [0, 1, 2, 0, 0, 1])], { mode: 'reflect' })[0]);
  b.output(b.node('Pad', [x, b.ints('wpads', [0, 0, 3, 0, 0, 2])], { mode: 'wrap' })[0]);
  const [shape] = b.node('Shape', [x], { start: 1 });
  b.output(
    b.node('ConstantOfShape', [shape], { value: makeTensor('v', DataType.FLOAT, [1], [2.5]) })[0],
  );
  b.output(b.node('Size', [x])[0]);
  b.output(b.node('Identity', [x])[0]);
  b.output(b.node('Constant', [], { value: makeTensor('c', DataType.FLOAT, [2], [1, -1]) })[0]);
  for (const o of b.node('TopK', [x, b.ints('k', [3])], { axis: -1, largest: 0 }, { outputs: 2 })) {
    b.output(o);
  }
  // Control flow: If on the sign of x's sum, a Loop, and a Scan accumulating rows.
  const [total] = b.node('ReduceSum', [x], { keepdims: 0 });
  const [positive] = b.node('Greater', [total, b.initializer('zero', DataType.FLOAT, [], [0])]);
  const branch = (op: string): Graph =>
    subgraph((g) => {
      const [y] = g.node(op, [x], {}, { outputs: [`${op}_y`] });
      const [f] = g.node('Flatten', [y], {}, { outputs: [`${op}_f`] });
      g.output(f, DataType.FLOAT, [2, 24]);
    }, op);
  b.output(
    b.node('If', [positive], { then_branch: branch('Relu'), else_branch: branch('Neg') })[0],
  );
  const loopBody = subgraph((g) => {
    g.input('i', DataType.INT64, []);
    const c = g.input('c_in', DataType.BOOL, []);
    const v = g.input('v_in', DataType.FLOAT, [2, 3, 8]);
    const [t] = g.node('Tanh', [v], {}, { outputs: ['t'] });
    const [sum] = g.node('Add', [t, x], {}, { outputs: ['v_out'] });
    const [keep] = g.node('Identity', [c], {}, { outputs: ['c_out'] });
    const [sh] = g.node('Reshape', [sum, 'flat_shape'], {}, { outputs: ['scan_out'] });
    g.output(keep, DataType.BOOL, []);
    g.output(sum, DataType.FLOAT, [2, 3, 8]);
    g.output(sh, DataType.FLOAT, [48]);
  });
  b.ints('flat_shape', [-1]);
  const trips = b.ints('trips', [3], []);
  const go = b.initializer('go', DataType.BOOL, [], [1]);
  for (const o of b.node('Loop', [trips, go, x], { body: loopBody }, { outputs: 2 })) b.output(o);
  const scanBody = subgraph((g) => {
    const acc = g.input('acc_in', DataType.FLOAT, [8]);
    const row = g.input('row', DataType.FLOAT, [8]);
    const [sum] = g.node('Add', [acc, row], {}, { outputs: ['acc_out'] });
    const [sc] = g.node('Sigmoid', [sum], {}, { outputs: ['row_out'] });
    g.output(sum, DataType.FLOAT, [8]);
    g.output(sc, DataType.FLOAT, [8]);
  });
  const [rows] = b.node('Reshape', [x, b.ints('rows_shape', [6, 8])]);
  const acc0 = b.initializer('acc0', DataType.FLOAT, [8], Array(8).fill(0));
  const scan = b.node('Scan', [acc0, rows], { body: scanBody, num_scan_inputs: 1 }, { outputs: 2 });
  for (const o of scan) b.output(o);
  const model = load(b);
  for (const to of [23, 24, 25]) {
    const r = await check(model, to);
    assert.equal(r.converted.size, 0, `opset ${to}`);
  }
});

test('Cast to float8 (fnuz too) saturates ±Inf to ±max in ONNX Runtime before and after Cast-24', async () => {
  // Cast-24's table changed ±Inf → float8e4m3fnuz/e5m2fnuz (saturate) from NaN to ±max (onnx#7130);
  // the runtime already did so, so the conversion leaves Cast as it is.
  const b = new ModelBuilder({ opset: 23 });
  const x = b.input('x', DataType.FLOAT, [6]);
  for (const to of [DataType.FLOAT8E4M3FN, DataType.FLOAT8E4M3FNUZ, DataType.FLOAT8E5M2FNUZ]) {
    const [f8] = b.node('Cast', [x], { to });
    b.output(b.node('Cast', [f8], { to: DataType.FLOAT })[0]);
  }
  const model = load(b);
  const input = [Infinity, -Infinity, 1e6, -3.3, 0.01, 0];
  const feeds = { x: new ort.Tensor('float32', Float32Array.from(input), [6]) };
  const out = await run(model, feeds);
  const values = Object.values(out).map((t) => Array.from(t.data as Float32Array));
  assert.deepEqual(
    values.map((v) => v.slice(0, 3)),
    [
      [448, -448, 448],
      [240, -240, 240],
      [57344, -57344, 57344],
    ],
  );
  await check(model, 25, { feeds });
});

test('Attention, RMSNormalization and RotaryEmbedding at opset 23 convert to 25 unchanged', async () => {
  const b = new ModelBuilder({ opset: 23, seed: 13 });
  const q = b.input('q', DataType.FLOAT, [1, 2, 5, 4]);
  const k = b.input('k', DataType.FLOAT, [1, 2, 5, 4]);
  const v = b.input('v', DataType.FLOAT, [1, 2, 5, 4]);
  const [normed] = b.node('RMSNormalization', [q, b.weight('gamma', [4])], { axis: -1 });
  const cos = b.weight('cos', [5, 2]);
  const sin = b.weight('sin', [5, 2]);
  const positions = b.ints('pos', [0, 1, 2, 3, 4], [1, 5]);
  const [rq] = b.node('RotaryEmbedding', [normed, cos, sin, positions], {});
  b.output(b.node('Attention', [rq, k, v], { is_causal: 1 })[0]);
  b.output(b.node('Attention', [q, k, v], { scale: float(0.3), softcap: float(2) })[0]);
  const mask = b.initializer(
    'mask',
    DataType.BOOL,
    [5, 5],
    Array.from({ length: 25 }, (_, i) => (i % 3 ? 1 : 0)),
  );
  b.output(b.node('Attention', [q, k, v, mask])[0]);
  const model = load(b);
  const r = await check(model, 25, { tol: 1e-5 });
  assert.equal(r.converted.size, 0);
  assert.equal(r.model.irVersion, 13);
});

test('ops ONNX Runtime has no kernel for at their new version refuse, and the table matches the runtime', async () => {
  // RoiAlign-22 (bfloat16 added) has no CPU kernel: int2 would need it, int4 (opset 21) doesn't.
  const b = new ModelBuilder({ opset: 16 });
  const x = b.input('x', DataType.FLOAT, [1, 2, 8, 8]);
  const rois = b.initializer('rois', DataType.FLOAT, [1, 4], [0, 0, 4.5, 4]);
  const [y] = b.node('RoiAlign', [x, rois, b.ints('batch', [0])], {}, { name: 'roi' });
  b.output(y);
  const model = load(b);
  assert.ok(canConvertTo(model, 21));
  assert.ok(!canConvertTo(model, 22));
  const message =
    /^RoiAlign 'roi' would become RoiAlign-22, which ONNX Runtime has no kernel for \(it runs the opset-21 form\)$/;
  assert.match(conversionRefusal(model, 25) ?? '', message);
  refuses(
    () => convertOpset(model, 25, { reason: 'ternary weights in int2' }),
    /^ternary weights in int2 needs opset 25, and opset 16 can't be converted: RoiAlign 'roi' would become RoiAlign-22/,
  );
  // Already at the new version: nothing to convert, nothing refused.
  const at22 = { ...model, opsetImport: [{ extra: [], domain: '', version: 22 }] };
  assert.ok(canConvertTo(at22, 25));

  // Each gap is real in the installed runtime (and the op runs one opset earlier); when a newer
  // ONNX Runtime adds the kernel, this names the entry to drop.
  const builders: Record<string, (m: ModelBuilder, input: string) => string> = {
    Bernoulli: (m, i) => m.node('Bernoulli', [m.node('Sigmoid', [i])[0]])[0],
    GlobalLpPool: (m, i) => m.node('GlobalLpPool', [i])[0],
    MaxRoiPool: (m, i) =>
      m.node('MaxRoiPool', [i, m.initializer('r', DataType.FLOAT, [1, 5], [0, 0, 0, 2, 2])], {
        pooled_shape: [1, 1],
      })[0],
    Multinomial: (m, i) => m.node('Multinomial', [m.node('Flatten', [i])[0]])[0],
    RandomNormal: (m) => m.node('RandomNormal', [], { shape: [2] })[0],
    RandomNormalLike: (m, i) => m.node('RandomNormalLike', [i])[0],
    RandomUniform: (m) => m.node('RandomUniform', [], { shape: [2] })[0],
    RandomUniformLike: (m, i) => m.node('RandomUniformLike', [i])[0],
    RoiAlign: (m, i) =>
      m.node('RoiAlign', [
        i,
        m.initializer('r', DataType.FLOAT, [1, 4], [0, 0, 2, 2]),
        m.ints('bi', [0]),
      ])[0],
    Swish: (m, i) => m.node('Swish', [i])[0],
  };
  assert.deepEqual(Object.keys(builders), [...ONNX_RUNTIME_GAPS.keys()]);
  const opens = async (op: string, opset: number): Promise<boolean> => {
    const m = new ModelBuilder({ opset });
    m.output(builders[op](m, m.input('x', DataType.FLOAT, [1, 2, 4, 4])));
    try {
      const session = await ort.InferenceSession.create(m.bytes(), { logSeverityLevel: 4 });
      await session.release();
      return true;
    } catch {
      return false;
    }
  };
  for (const [op, since] of ONNX_RUNTIME_GAPS) {
    assert.ok(await opens(op, since - 1), `${op} runs at opset ${since - 1}`);
    assert.ok(!(await opens(op, since)), `${op}-${since} still has no kernel`);
    // And the converter refuses exactly there.
    const m = new ModelBuilder({ opset: since - 1 });
    m.output(builders[op](m, m.input('x', DataType.FLOAT, [1, 2, 4, 4])));
    assert.match(conversionRefusal(load(m), since) ?? '', new RegExp(`^${op} '`));
  }
});

test('a ternary weight stored as int2 runs behind DequantizeLinear once an opset-13 model is at 25', async () => {
  const model = convNet13();
  const converted = convertOpset(model, 25).model;
  // w1 as ternary {−α, 0, +α} per output channel, in int2 (what quantize.ts stores at opset 25).
  const w1 = converted.graph.initializers.find((t) => t.name === 'w1');
  assert.ok(w1);
  const levels = Array.from({ length: 8 * 3 * 3 * 3 }, (_, i) => ((i * 7) % 3) - 1);
  const stored = makeTensor('w1_int2', DataType.INT2, w1.dims, packSigned(levels, 2));
  const scale = makeTensor('w1_scale', DataType.FLOAT, [8], Array(8).fill(0.6));
  const dq = makeNode({
    name: 'w1_dq',
    opType: 'DequantizeLinear',
    inputs: ['w1_int2', 'w1_scale'],
    outputs: ['w1'],
    attributes: [makeAttribute('axis', 0)],
  });
  const { raw: _raw, ...graph } = converted.graph;
  const withInt2: Model = {
    ...converted,
    graph: {
      ...graph,
      nodes: [dq, ...converted.graph.nodes],
      initializers: [...converted.graph.initializers.filter((t) => t !== w1), stored, scale],
    },
  };
  const saved = decodeModel(encodeModel(withInt2));
  assert.equal(saved.graph.initializers.find((t) => t.name === 'w1_int2')?.dataType, DataType.INT2);
  const out = await run(saved, randomFeeds(model));
  const probabilities = Array.from(Object.values(out)[0].data as Float32Array);
  assert.equal(probabilities.length, 5);
  assert.ok(Math.abs(probabilities.reduce((a, c) => a + c, 0) - 1) < 1e-5);
});

test('a torch.onnx transformer exported at opset 13 converts to 25 and computes the same', async () => {
  const file = path.resolve(__dirname, '../../fixtures/exported/transformer_op13.onnx');
  const loaded = loadModelFile(file);
  const r = convertOpset(loaded.model, 25, { external: loaded.external });
  assert.match(r.notes[0], /^opset raised 13 → 25 \(ReduceMean ×\d+ converted\)$/);
  assert.equal(r.model.irVersion, 13);
  const result = await verifyModels(file, encodeModel(r.model), { samples: 2 });
  assert.ok(result.maxAbsError < 1e-5, `max abs error ${result.maxAbsError}`);
});
