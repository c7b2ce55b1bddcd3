/**
 * fp16 and bf16 conversion (convertFloat.ts): accuracy against float32 in ONNX Runtime on the
 * shared random-weight models and the exported fixtures, float32 inputs and outputs, the ops kept
 * float32, refusals, and the table of ONNX Runtime's CPU float16 support re-measured per op.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  convertFloat,
  floatToBfloat16Bits,
  floatToHalfBits,
  FP16_OPS,
} from '../../../src/core/compress/convertFloat';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { analyzeLoaded } from '../../../src/core/analyze';
import { codeActionsFor, runFix, summaryLine } from '../../../src/server/quickFixes';
import type { OpenModel } from '../../../src/server/modelStore';
import type { ApplyFixArgs } from '../../../src/shared/protocol';
import { encodeModel } from '../../../src/core/onnx/encode';
import { decodeModel } from '../../../src/core/onnx/decode';
import { loadModelFile } from '../../../src/core/onnx/load';
import { halfToFloat } from '../../../src/core/onnx/tensorData';
import { verifyModels } from '../../../src/core/verify';
import { DataType, type Model } from '../../../src/core/onnx/types';
import type { AttrValue } from '../../../src/core/onnx/build';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR, sharedModels } from '../../helpers/sharedModels';

const FIXTURES = path.resolve(__dirname, '../../fixtures/exported');

test('float16 and bfloat16 rounding: nearest even, saturation at ±65504, subnormals', () => {
  assert.equal(floatToHalfBits(1), 0x3c00);
  assert.equal(floatToHalfBits(-2), 0xc000);
  assert.equal(floatToHalfBits(65504), 0x7bff);
  assert.equal(floatToHalfBits(1e6), 0x7bff, 'saturates');
  assert.equal(floatToHalfBits(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(floatToHalfBits(1 + 2 ** -11), 0x3c00, 'tie to even');
  assert.equal(floatToHalfBits(1 + 3 * 2 ** -11), 0x3c02, 'tie to even (up)');
  for (const v of [0.1, -3.14159, 1234.5, 6e-5]) {
    assert.ok(Math.abs(halfToFloat(floatToHalfBits(v)) - v) <= Math.abs(v) * 2 ** -11);
  }
  assert.equal(floatToBfloat16Bits(1), 0x3f80);
  assert.equal(floatToBfloat16Bits(-2), 0xc000);
  assert.equal(floatToBfloat16Bits(1 + 2 ** -8), 0x3f80, 'tie to even');
});

/** Input shapes of the exported fixtures (their symbolic dims), from reference.json. */
function fixtureShapes(file: string): Map<string, number[]> | undefined {
  const reference = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'reference.json'), 'utf8')) as {
    models: Record<string, { file: string; inputs: { name: string; shape: number[] }[] }>;
  };
  const entry = Object.values(reference.models).find((m) => m.file === file);
  return entry ? new Map(entry.inputs.map((i) => [i.name, i.shape])) : undefined;
}

async function check(
  file: string,
  format: 'fp16' | 'bf16',
  minDb: number,
  inputShapes?: Map<string, number[]>,
): Promise<void> {
  const loaded = loadModelFile(file);
  const { model, summary } = convertFloat(loaded.model, { format }, loaded.external);
  const original = encodeModel(loaded.model);
  const converted = encodeModel(model);
  // Same inputs and outputs (names, float32 types); verifyModels checks the interfaces too.
  assert.deepEqual(
    model.graph.outputs.map((o) => [o.name, o.type?.elemType]),
    loaded.model.graph.outputs.map((o) => [o.name, o.type?.elemType]),
  );
  assert.deepEqual(
    model.graph.inputs.map((o) => [o.name, o.type?.elemType]),
    loaded.model.graph.inputs.map((o) => [o.name, o.type?.elemType]),
  );
  const v = await verifyModels(original, converted, { samples: 2, inputShapes });
  const name = path.basename(file);
  assert.ok(v.sqnrDb >= minDb, `${name} ${format}: output SQNR ${v.sqnrDb.toFixed(1)} dB`);
  assert.ok(
    v.perOutput!.every((o) => o.sqnrDb >= minDb - 3),
    JSON.stringify(v.perOutput),
  );
  // Output shapes unchanged: both models ran on the same inputs and were compared element-wise.
  const session = await ort.InferenceSession.create(converted);
  assert.deepEqual([...session.outputNames], v.outputs);
  await session.release();
  assert.ok(
    summary.bytesAfter < summary.bytesBefore * 0.52,
    `${name} ${format}: ${summary.bytesBefore} → ${summary.bytesAfter}`,
  );
  // The file halves too, once weights dominate it (not in a 30 KB model).
  const ratio = original.length > 1e6 ? 0.56 : 0.8;
  assert.ok(converted.length < original.length * ratio, `${original.length} → ${converted.length}`);
}

const shared = sharedModels();
for (const [name, ref] of Object.entries(
  'models' in shared ? shared.models : { none: undefined },
)) {
  const skip = 'skip' in shared ? shared.skip : false;
  test(
    `${name}: fp16 ≥ 50 dB and bf16 ≥ 30 dB against float32 in ONNX Runtime, half the bytes`,
    { skip },
    async () => {
      const file = path.join(SHARED_MODELS_DIR, ref!.file);
      await check(file, 'fp16', 50);
      await check(file, 'bf16', 30);
    },
  );
}

for (const file of [
  'transformer_op13.onnx',
  'transformer_op17.onnx',
  'lstm_gru.onnx',
  'detector.onnx',
  'audio_conv1d.onnx',
]) {
  test(`exported ${file}: fp16 ≥ 50 dB and bf16 ≥ 30 dB in ONNX Runtime`, async () => {
    const shapes = fixtureShapes(file);
    await check(path.join(FIXTURES, file), 'fp16', 50, shapes);
    await check(path.join(FIXTURES, file), 'bf16', 30, shapes);
  });
}

test('bf16 on a model with Loop/If/Scan: outer weights cast up under their names, read by the bodies', async () => {
  const file = path.join(FIXTURES, 'control_flow.onnx');
  const loaded = loadModelFile(file);
  const { model } = convertFloat(loaded.model, { format: 'bf16' }, loaded.external);
  assert.ok(model.graph.initializers.some((t) => t.dataType === DataType.BFLOAT16));
  const v = await verifyModels(encodeModel(loaded.model), encodeModel(model), {
    samples: 2,
    inputShapes: fixtureShapes('control_flow.onnx'),
  });
  assert.ok(v.sqnrDb >= 30, `SQNR ${v.sqnrDb}`);
});

test('refusals are one clear line: sub-graphs, no float tensor, no op with a float16 path', () => {
  const refusal = (model: Model, format: 'fp16' | 'bf16'): string => {
    try {
      convertFloat(model, { format });
    } catch (e) {
      assert.ok(e instanceof CompressionRefusal, String(e));
      assert.ok(!e.message.includes('\n'));
      return e.message;
    }
    assert.fail('no refusal');
  };
  const controlFlow = loadModelFile(path.join(FIXTURES, 'control_flow.onnx')).model;
  assert.match(refusal(controlFlow, 'fp16'), /sub-graphs \(If\/Loop\/Scan\)/);

  const ints = new ModelBuilder();
  const x = ints.input('x', DataType.INT64, [4]);
  const [y] = ints.node('Neg', [x]);
  ints.output(y, DataType.INT64, [4]);
  assert.equal(refusal(decodeModel(ints.bytes()), 'fp16'), 'fp16: no float32 tensor to convert');
  assert.equal(refusal(decodeModel(ints.bytes()), 'bf16'), 'bf16: no float32 weight to convert');

  const range = new ModelBuilder();
  const [r] = range.node('Range', [
    range.input('a', DataType.FLOAT, []),
    range.input('b', DataType.FLOAT, []),
    range.input('c', DataType.FLOAT, []),
  ]);
  range.output(r, DataType.FLOAT);
  assert.equal(
    refusal(decodeModel(range.bytes()), 'fp16'),
    'fp16: no op of this model has a float16 path (Range)',
  );
});

test('fp16: an op without a float16 path stays float32 between Casts, listed in the notes', async () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node('Conv', [x, b.weight('w', [4, 3, 3, 3])], {}, { name: 'conv' });
  const scale = b.initializer('s', DataType.FLOAT, [], [0.05]);
  const zp = b.initializer('z', DataType.UINT8, [], [128]);
  const [q] = b.node('QuantizeLinear', [c, scale, zp], {}, { name: 'q' });
  const [d] = b.node('DequantizeLinear', [q, scale, zp], {}, { name: 'dq' });
  const [r] = b.node('Relu', [d], {}, { name: 'relu' });
  b.output(r, DataType.FLOAT, [1, 4, 6, 6]);
  const model = decodeModel(b.bytes());
  const { model: converted, summary } = convertFloat(model, { format: 'fp16' });
  assert.ok(
    summary.notes.some((n) => n.startsWith('kept float32 (no float16 path): QuantizeLinear ×1')),
    summary.notes.join('\n'),
  );
  assert.ok(summary.notes.some((n) => n.includes('no float16 kernel for Conv ×1, Relu ×1')));
  const types = new Map(converted.graph.initializers.map((t) => [t.name, t.dataType]));
  assert.equal(types.get('w'), DataType.FLOAT16);
  assert.equal(types.get('s'), DataType.FLOAT, 'the quantization scale stays float32');
  const casts = converted.graph.nodes.filter((n) => n.opType === 'Cast');
  assert.equal(casts.length, 4, 'x→fp16, conv→fp32, dq→fp16, relu→fp32 output');
  const v = await verifyModels(encodeModel(model), encodeModel(converted), { samples: 2 });
  assert.ok(v.sqnrDb > 30, `SQNR ${v.sqnrDb}`);
});

test('bf16: weights stored as bfloat16, each read through Cast to float32, opset raised to 13', () => {
  const b = new ModelBuilder({ opset: 11 });
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const [y] = b.node('Gemm', [x, b.weight('w', [8, 4]), b.weight('bias', [4])], {}, { name: 'fc' });
  b.output(y, DataType.FLOAT, [1, 4]);
  const { model, summary } = convertFloat(decodeModel(b.bytes()), { format: 'bf16' });
  const types = new Map(model.graph.initializers.map((t) => [t.name, t.dataType]));
  assert.deepEqual([...types.values()], [DataType.BFLOAT16, DataType.BFLOAT16]);
  const casts = model.graph.nodes.filter((n) => n.opType === 'Cast').map((n) => n.outputs[0]);
  assert.deepEqual(casts.sort(), ['bias', 'w']);
  assert.ok(model.opsetImport.some((o) => o.domain === '' && o.version === 13));
  assert.ok(summary.notes.some((n) => n.startsWith('compute stays float32')));
});

// --- ONNX Runtime's CPU float16 support, re-measured for every op in the table ------------------

interface Probe {
  inputs: number[][];
  attrs?: Record<string, AttrValue>;
  ints?: [number, number[]][];
  outputs?: number;
  opset?: number;
}
const X = [1, 4, 8, 8];
const unary = (opset = 13): Probe => ({ inputs: [X], opset });
const binary: Probe = { inputs: [X, X] };
const reduce: Probe = { inputs: [X], ints: [[1, [1]]], opset: 18 };
const PROBES: Record<string, Probe | undefined> = {
  Conv: { inputs: [X, [4, 4, 3, 3], [4]] },
  ConvTranspose: { inputs: [X, [4, 4, 3, 3], [4]] },
  Gemm: { inputs: [[2, 4], [4, 3], [3]] },
  MatMul: {
    inputs: [
      [2, 4],
      [4, 3],
    ],
  },
  Einsum: {
    inputs: [
      [2, 4],
      [4, 3],
    ],
    attrs: { equation: 'ij,jk->ik' },
  },
  PRelu: { inputs: [X, [4, 1, 1]] },
  Clip: { inputs: [X, [], []] },
  Pow: { inputs: [X, []] },
  MaxPool: { inputs: [X], attrs: { kernel_shape: [2, 2] } },
  AveragePool: { inputs: [X], attrs: { kernel_shape: [2, 2] } },
  BatchNormalization: { inputs: [X, [4], [4], [4], [4]] },
  InstanceNormalization: { inputs: [X, [4], [4]] },
  LayerNormalization: { inputs: [X, [8], [8]], opset: 17 },
  GroupNormalization: { inputs: [X, [4], [4]], attrs: { num_groups: 2 }, opset: 21 },
  LRN: { inputs: [X], attrs: { size: 3 } },
  Reshape: { inputs: [X], ints: [[1, [1, -1]]] },
  Concat: { inputs: [X, X], attrs: { axis: 1 } },
  Split: { inputs: [X], ints: [[1, [2, 2]]], outputs: 2, attrs: { axis: 1 } },
  Slice: {
    inputs: [X],
    ints: [
      [1, [0]],
      [2, [2]],
      [3, [1]],
    ],
  },
  Squeeze: { inputs: [[1, 4]], ints: [[1, [0]]] },
  Unsqueeze: { inputs: [X], ints: [[1, [0]]] },
  Pad: { inputs: [X], ints: [[1, [0, 0, 1, 1, 0, 0, 1, 1]]] },
  Resize: { inputs: [X], attrs: { mode: 'nearest' } },
  ReduceSum: { inputs: [X], ints: [[1, [1]]] },
  Gather: { inputs: [X], ints: [[1, [0, 1]]], attrs: { axis: 1 } },
  Expand: { inputs: [[1, 4, 1, 1]], ints: [[1, [1, 4, 2, 2]]] },
  Tile: { inputs: [X], ints: [[1, [1, 1, 2, 1]]] },
  DepthToSpace: { inputs: [X], attrs: { blocksize: 2 } },
  SpaceToDepth: { inputs: [X], attrs: { blocksize: 2 } },
  TopK: { inputs: [X], ints: [[1, [2]]], outputs: 2 },
  CumSum: { inputs: [X], ints: [[1, [1]]], opset: 14 },
  Trilu: { inputs: [[4, 4]], opset: 14 },
  HardSwish: unary(14),
  Gelu: unary(20),
  Mish: unary(18),
  GRU: {
    inputs: [
      [2, 1, 4],
      [1, 12, 4],
      [1, 12, 4],
    ],
    attrs: { hidden_size: 4 },
    outputs: 2,
  },
  LSTM: {
    inputs: [
      [2, 1, 4],
      [1, 16, 4],
      [1, 16, 4],
    ],
    attrs: { hidden_size: 4 },
    outputs: 3,
  },
  RNN: {
    inputs: [
      [2, 1, 4],
      [1, 4, 4],
      [1, 4, 4],
    ],
    attrs: { hidden_size: 4 },
    outputs: 2,
  },
  Where: { inputs: [X, X] },
  Cast: { inputs: [X], attrs: { to: DataType.FLOAT16 } },
  // Nodes without float inputs: converted through their attributes, not probed here.
  Constant: undefined,
  ConstantOfShape: undefined,
};
for (const op of [
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'Equal',
  'Less',
  'Greater',
])
  PROBES[op] ??= binary;
for (const op of [
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceL2',
  'ReduceProd',
  'ReduceLogSumExp',
])
  PROBES[op] ??= reduce;

/** 'native', 'ort-casts' (ORT inserted Casts around it), or ORT's error. */
async function probe(op: string, spec: Probe, dir: string): Promise<string> {
  const b = new ModelBuilder({ opset: Math.max(13, spec.opset ?? 0) });
  const inputs = spec.inputs.map((shape, i) => b.input(`x${i}`, DataType.FLOAT16, shape));
  for (const [slot, values] of spec.ints ?? []) inputs[slot] = b.ints(`i${slot}`, values);
  if (op === 'Where') inputs.unshift(b.initializer('c', DataType.BOOL, X, new Array(256).fill(1)));
  if (op === 'Resize') inputs.push('', b.initializer('sc', DataType.FLOAT, [4], [1, 1, 2, 2]));
  const outputs = Array.from({ length: spec.outputs ?? 1 }, (_, i) => `y${i}`);
  b.node(op, inputs, spec.attrs ?? {}, { outputs });
  for (const o of outputs) b.output(o);
  const optimized = path.join(dir, `${op}.onnx`);
  try {
    const session = await ort.InferenceSession.create(b.bytes(), {
      graphOptimizationLevel: 'disabled',
      optimizedModelFilePath: optimized,
      logSeverityLevel: 3,
    });
    const feeds: Record<string, ort.Tensor> = {};
    spec.inputs.forEach((shape, i) => {
      if (!inputs.includes(`x${i}`)) return;
      const n = shape.reduce((a, c) => a * c, 1);
      feeds[`x${i}`] = new ort.Tensor('float16', new Uint16Array(n).fill(0x3800), shape);
    });
    await session.run(feeds);
    await session.release();
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
  const graph = decodeModel(new Uint8Array(fs.readFileSync(optimized))).graph;
  const casts = graph.nodes.filter((n) => n.opType === 'Cast').length - (op === 'Cast' ? 1 : 0);
  return casts > 0 ? 'ort-casts' : 'native';
}

test("FP16_OPS matches what ONNX Runtime's CPU provider does with float16, op by op", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp16-probe-'));
  try {
    const wrong: string[] = [];
    for (const [op, expected] of Object.entries(FP16_OPS)) {
      const spec = op in PROBES ? PROBES[op] : unary();
      if (!spec) continue;
      const actual = await probe(op, spec, dir);
      if (actual !== expected) wrong.push(`${op}: table says ${expected}, ORT ${actual}`);
    }
    assert.deepEqual(wrong, []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('quick fixes: Convert to fp16 / bf16 are offered on a float32 model and run the conversion', async () => {
  const loaded = loadModelFile(path.join(FIXTURES, 'lstm_gru.onnx'));
  const report = analyzeLoaded(loaded, { skipBitHints: true });
  const state = { loaded, report } as unknown as OpenModel;
  const actions = codeActionsFor(state, undefined, { uri: 'onnx-model:/m', diagnostics: [] });
  const titles = actions.map((a) => a.title);
  const fp16 = actions.find((a) => a.title.startsWith('Convert to fp16'));
  const bf16 = actions.find((a) => a.title.startsWith('Convert to bf16'));
  assert.ok(fp16?.command && bf16?.command, titles.join(' | '));
  for (const action of [fp16, bf16]) {
    const args = action.command!.arguments![0] as ApplyFixArgs;
    const outcome = await runFix(state, args.fix);
    assert.match(outcome.description, /^convert (fp16|bf16)/);
    const s = outcome.summaries[0];
    assert.ok(s.bytesAfter < s.bytesBefore * 0.52, summaryLine(s));
  }
  assert.throws(
    () => convertFloat(convertFloat(loaded.model, { format: 'fp16' }).model, { format: 'fp16' }),
    /^CompressionRefusal: fp16: the model already stores its weights in float16$/,
  );
  // Not offered once the weights are 16-bit.
  const converted = convertFloat(loaded.model, { format: 'fp16' }).model;
  const half = { model: converted, external: loaded.external, fileBytes: 0 };
  const again = codeActionsFor(
    { loaded: half, report: analyzeLoaded(half, { skipBitHints: true }) } as unknown as OpenModel,
    undefined,
    { uri: 'onnx-model:/m', diagnostics: [] },
  );
  assert.ok(!again.some((a) => a.title.startsWith('Convert to')));
  // …while its float16 layers can still be quantized.
  const halfState = {
    loaded: half,
    report: analyzeLoaded(half, { skipBitHints: true }),
  } as unknown as OpenModel;
  const gemm = halfState.report!.nodes.find((n) => n.op === 'Gemm')!;
  assert.equal(gemm.weightBits, 16);
  const offered = codeActionsFor(halfState, gemm, { uri: 'onnx-model:/m', diagnostics: [] });
  const int8 = offered.find((a) => a.title.startsWith(`Quantize ${gemm.name} to int8`));
  assert.ok(
    int8?.command,
    offered.map((a) => `${a.title} ${a.disabled?.reason ?? ''}`).join(' | '),
  );
  const q = await runFix(halfState, (int8.command.arguments![0] as ApplyFixArgs).fix);
  assert.ok(q.summaries[0].bytesAfter < q.summaries[0].bytesBefore);
});

const cli = path.resolve(__dirname, '../../../dist/cli.js');
test(
  'CLI: compress --quantize fp16|bf16 writes a model that verify accepts; --layers is refused in one line',
  { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fp16-cli-'));
    try {
      const input = path.join(FIXTURES, 'lstm_gru.onnx');
      for (const [format, minDb] of [
        ['fp16', 50],
        ['bf16', 30],
      ] as const) {
        const out = path.join(dir, `${format}.onnx`);
        const run = spawnSync(
          process.execPath,
          [cli, 'compress', input, '-o', out, '--quantize', format],
          { encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, new RegExp(`^convert ${format}: weights `));
        const verify = spawnSync(process.execPath, [cli, 'verify', input, out, '--json'], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        assert.equal(verify.status, 0, verify.stderr);
        const { sqnrDb } = JSON.parse(verify.stdout) as { sqnrDb: number };
        assert.ok(sqnrDb >= minDb, `${format}: ${sqnrDb} dB`);
      }
      const refused = spawnSync(
        process.execPath,
        [
          cli,
          'compress',
          input,
          '-o',
          path.join(dir, 'x.onnx'),
          '--quantize',
          'fp16',
          '--layers',
          'a',
        ],
        { encoding: 'utf8' },
      );
      assert.equal(refused.status, 2);
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
