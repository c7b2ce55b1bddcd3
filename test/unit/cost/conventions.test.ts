/**
 * Other tools' counting conventions (src/core/cost/conventions.ts): each rule checked by a hand
 * count on a small built model, ONNX and TFLite, then person_detect under each convention, the
 * CLI flag, the JSON, the setting and the hover that names the convention. The default convention
 * must leave every figure as it was.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeBytes, analyzeFile, type AnalysisReport } from '../../../src/core/analyze';
import { toJson } from '../../../src/cli/json';
import { UsageError, parseCli } from '../../../src/cli/args';
import { formatReport } from '../../../src/cli/report';
import type { Convention } from '../../../src/core/cost/conventions';
import { markdownReport } from '../../../src/core/text/markdownReport';
import { DataType } from '../../../src/core/onnx/types';
import { settingsFromSection } from '../../../src/server/clientSettings';
import { layerMarkdown } from '../../../src/server/presentation';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { BUILTIN, TYPE, TfliteNetwork, conv2d } from '../../helpers/tfliteNetwork';
import type { OptionsSpec } from '../../helpers/tfliteBuilder';

const conventions: readonly Convention[] = ['model-lens', 'st', 'vela'];

function analyzeAs(bytes: Uint8Array, convention: Convention): AnalysisReport {
  return analyzeBytes(bytes, { convention, skipBitHints: true });
}

function node(r: AnalysisReport, op: string) {
  const n = r.nodes.find((x) => x.op === op);
  assert.ok(n, `no ${op} node`);
  return n;
}

/** x [1,3,8,8] → Conv 3→4 3×3 pad 1, with bias → Softmax over the channels → y. */
function onnxConvSoftmax(): Uint8Array {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node('Conv', [x, b.weight('w', [4, 3, 3, 3]), b.weight('b', [4])], {
    pads: [1, 1, 1, 1],
  });
  const [y] = b.node('Softmax', [c], { axis: 1 }, { outputs: ['y'] });
  b.output(y, DataType.FLOAT, [1, 4, 8, 8]);
  return b.bytes();
}

/** Two MatMuls reading one weight W [8, 8]: x [1,8] → h → y. */
function onnxSharedWeight(): Uint8Array {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const w = b.weight('W', [8, 8]);
  const [h] = b.node('MatMul', [x, w]);
  const [y] = b.node('MatMul', [h, w], {}, { outputs: ['y'] });
  b.output(y, DataType.FLOAT, [1, 8]);
  return b.bytes();
}

/** x [1,3,8,8] → Conv 3→4 (no bias) → t → Relu → MaxPool 2×2/2 → GlobalAveragePool → y. */
function onnxPooling(): Uint8Array {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node('Conv', [x, b.weight('w', [4, 3, 3, 3])], { pads: [1, 1, 1, 1] });
  const [r] = b.node('Relu', [c]);
  const [p] = b.node('MaxPool', [r], { kernel_shape: [2, 2], strides: [2, 2] });
  const [y] = b.node('GlobalAveragePool', [p], {}, { outputs: ['y'] });
  b.output(y, DataType.FLOAT, [1, 4, 1, 1]);
  return b.bytes();
}

/** Pool2DOptions (union member 5): padding 0, stride_w 1, stride_h 2, filter_w 3, filter_h 4. */
function pool2d(filter: number, stride: number): OptionsSpec {
  return {
    type: 5,
    fields: [
      { id: 0, int8: 1 },
      { id: 1, int32: stride },
      { id: 2, int32: stride },
      { id: 3, int32: filter },
      { id: 4, int32: filter },
    ],
  };
}

/**
 * x [1,8,8,3] → CONV_2D 3→4 3×3 SAME with bias → t [1,8,8,4] → AVERAGE_POOL_2D 2×2/2 →
 * [1,4,4,4] → SOFTMAX → y.
 */
function tfliteNetwork(): Uint8Array {
  const n = new TfliteNetwork();
  const x = n.input('x', [1, 8, 8, 3]);
  const c = n.op(
    BUILTIN.CONV_2D,
    [x, n.floatWeight('w', [4, 3, 3, 3]), n.floatWeight('b', [4])],
    [1, 8, 8, 4],
    conv2d(),
  );
  const p = n.op(BUILTIN.AVERAGE_POOL_2D, [c], [1, 4, 4, 4], pool2d(2, 2));
  const y = n.op(BUILTIN.SOFTMAX, [p], [1, 4, 4, 4]);
  return n.build([y]);
}

/** x [1,8] → FULLY_CONNECTED (weights W) → h → FULLY_CONNECTED (another tensor, same buffer). */
function tfliteSharedBuffer(): Uint8Array {
  const n = new TfliteNetwork();
  const x = n.input('x', [1, 8]);
  const w = n.floatWeight('W', [8, 8]);
  const h = n.op(BUILTIN.FULLY_CONNECTED, [x, w], [1, 8]);
  const y = n.op(BUILTIN.FULLY_CONNECTED, [h, n.sharing('W_again', w)], [1, 8]);
  return n.build([y]);
}

describe('the default convention is ours, unchanged', () => {
  test('model-lens gives the figures of an analysis without a convention', () => {
    for (const bytes of [onnxConvSoftmax(), onnxPooling(), tfliteNetwork()]) {
      const plain = analyzeBytes(bytes, { skipBitHints: true });
      const ours = analyzeAs(bytes, 'model-lens');
      assert.deepEqual(ours, plain);
      assert.equal(ours.convention, 'model-lens');
      // The JSON reads as it always did: no convention key for ours.
      assert.ok(!('convention' in (toJson(ours) as object)));
    }
  });
});

describe('ST Edge AI Core convention', () => {
  test('ONNX: a Conv bias adds one MAC per output channel, Softmax 15 per element', () => {
    const ours = analyzeAs(onnxConvSoftmax(), 'model-lens');
    const st = analyzeAs(onnxConvSoftmax(), 'st');
    const convMacs = 8 * 8 * 4 * (3 * 3 * 3); // 6,912
    assert.equal(node(ours, 'Conv').macs, convMacs);
    assert.equal(node(st, 'Conv').macs, convMacs + 4);
    assert.equal(node(ours, 'Softmax').macs, 0);
    assert.equal(node(st, 'Softmax').macs, 15 * 4 * 8 * 8);
    assert.equal(st.totals.macs, convMacs + 4 + 15 * 256);
    // FLOPs and BOPs stay ours.
    assert.equal(node(st, 'Conv').flops, node(ours, 'Conv').flops);
    assert.equal(node(st, 'Softmax').flops, node(ours, 'Softmax').flops);
    assert.equal(st.convention, 'st');
  });

  test('ONNX: a weight two nodes read counts once per use in params and weight bytes', () => {
    const ours = analyzeAs(onnxSharedWeight(), 'model-lens');
    const st = analyzeAs(onnxSharedWeight(), 'st');
    assert.equal(ours.totals.params, 64);
    assert.equal(ours.totals.weightBytes, 256);
    assert.equal(st.totals.params, 2 * 64);
    assert.equal(st.totals.weightBytes, 2 * 256);
    // Each node's own weights are the same under both.
    assert.deepEqual(
      st.nodes.map((n) => n.weightBytes),
      ours.nodes.map((n) => n.weightBytes),
    );
  });

  test('TFLite: bias per output channel, Softmax per element, a shared buffer per use', () => {
    const ours = analyzeAs(tfliteNetwork(), 'model-lens');
    const st = analyzeAs(tfliteNetwork(), 'st');
    const convMacs = 8 * 8 * 4 * 27;
    assert.equal(node(ours, 'CONV_2D').macs, convMacs);
    assert.equal(node(st, 'CONV_2D').macs, convMacs + 4);
    assert.equal(node(st, 'SOFTMAX').macs, 15 * 4 * 4 * 4);
    // Pooling is no MAC for ST.
    assert.equal(node(st, 'AVERAGE_POOL_2D').macs, 0);

    const shared = analyzeAs(tfliteSharedBuffer(), 'model-lens');
    const sharedSt = analyzeAs(tfliteSharedBuffer(), 'st');
    assert.equal(shared.totals.params, 64);
    assert.equal(sharedSt.totals.params, 128);
    assert.equal(sharedSt.totals.weightBytes, 2 * shared.totals.weightBytes);
  });

  test('TFLite: weight bytes leave out the per-channel scales and zero points', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 8], TYPE.INT8);
    const values = Int8Array.from({ length: 4 * 8 }, (_, i) => ((i * 37) % 255) - 127);
    const w = n.constant('w', [4, 8], new Uint8Array(values.buffer), TYPE.INT8, {
      scale: [0.1, 0.2, 0.3, 0.4],
      zeroPoint: [0, 0, 0, 0],
      quantizedDimension: 0,
    });
    const y = n.op(BUILTIN.FULLY_CONNECTED, [x, w], [1, 4], undefined, TYPE.INT8);
    const bytes = n.build([y]);
    // Ours: 32 int8 values + 4 float32 scales + 4 int64 zero points; ST: the 32 values.
    assert.equal(analyzeAs(bytes, 'model-lens').nodes[0].weightBytes, 32 + 16 + 32);
    assert.equal(analyzeAs(bytes, 'st').nodes[0].weightBytes, 32);
    assert.equal(analyzeAs(bytes, 'st').totals.weightBytes, 32);
  });
});

describe('Arm Vela convention', () => {
  test('ONNX: pooling windows are MACs; global pools cost their input', () => {
    const ours = analyzeAs(onnxPooling(), 'model-lens');
    const vela = analyzeAs(onnxPooling(), 'vela');
    assert.equal(node(ours, 'MaxPool').macs, 0);
    assert.equal(node(vela, 'MaxPool').macs, 4 * 4 * 4 * (2 * 2));
    assert.equal(node(vela, 'GlobalAveragePool').macs, 4 * 4 * 4);
    assert.equal(node(vela, 'Conv').macs, node(ours, 'Conv').macs);
    assert.equal(vela.totals.macs, ours.totals.macs + 256 + 64);
  });

  test('ONNX: feature maps between layers pad their channels (axis 1) to 16', () => {
    const ours = analyzeAs(onnxPooling(), 'model-lens');
    const vela = analyzeAs(onnxPooling(), 'vela');
    // Conv: input x [1,3,8,8] is the model's input, kept linear; its output [1,4,8,8] is
    // stored as [1,16,8,8].
    assert.equal(node(ours, 'Conv').activationBytes, (3 * 64 + 4 * 64) * 4);
    assert.equal(node(vela, 'Conv').activationBytes, (3 * 64 + 16 * 64) * 4);
    assert.equal(node(vela, 'Relu').activationBytes, 2 * 16 * 64 * 4);
    // GlobalAveragePool: in [1,4,4,4] padded, out y (the model's output) linear.
    assert.equal(node(vela, 'GlobalAveragePool').activationBytes, 16 * 16 * 4 + 4 * 4);
    // Weights are as ours.
    assert.equal(vela.totals.weightBytes, ours.totals.weightBytes);
  });

  test('TFLite: pooling window MACs, NHWC channels (last axis) padded to 16', () => {
    const ours = analyzeAs(tfliteNetwork(), 'model-lens');
    const vela = analyzeAs(tfliteNetwork(), 'vela');
    assert.equal(node(ours, 'AVERAGE_POOL_2D').macs, 0);
    assert.equal(node(vela, 'AVERAGE_POOL_2D').macs, 4 * 4 * 4 * (2 * 2));
    assert.equal(node(vela, 'CONV_2D').macs, node(ours, 'CONV_2D').macs);
    assert.equal(node(vela, 'SOFTMAX').macs, 0);
    // CONV_2D: x [1,8,8,3] linear (model input), t [1,8,8,4] → [1,8,8,16].
    assert.equal(node(ours, 'CONV_2D').activationBytes, (64 * 3 + 64 * 4) * 4);
    assert.equal(node(vela, 'CONV_2D').activationBytes, (64 * 3 + 64 * 16) * 4);
    // SOFTMAX: its input [1,4,4,4] padded, y (the model's output) linear.
    assert.equal(node(vela, 'SOFTMAX').activationBytes, (16 * 16 + 16 * 4) * 4);
  });
});

describe('surfaces name the convention', () => {
  test('the hover says "ST Edge AI convention" and what it changes; ours says nothing', () => {
    const st = analyzeAs(onnxConvSoftmax(), 'st');
    const hover = layerMarkdown(node(st, 'Conv'), st);
    assert.match(hover, /\| MACs \| 6\.92 k \(.*\) · ST Edge AI convention \|/);
    assert.match(hover, /ST Edge AI convention: MACs add 1 per output channel/);
    const vela = analyzeAs(onnxPooling(), 'vela');
    assert.match(layerMarkdown(node(vela, 'MaxPool'), vela), /Arm Vela convention/);
    const ours = analyzeAs(onnxConvSoftmax(), 'model-lens');
    assert.doesNotMatch(layerMarkdown(node(ours, 'Conv'), ours), /convention/);
  });

  test('the JSON, the CLI text report and the markdown report say which convention', () => {
    const st = analyzeAs(onnxConvSoftmax(), 'st');
    assert.equal((toJson(st) as { convention: string }).convention, 'st');
    const text = formatReport(st, 5);
    assert.match(text.split('\n')[0], /counted by the ST Edge AI convention/);
    assert.match(text, /^MACs 10\.8 k .*\(ST Edge AI convention\)$/m);
    assert.doesNotMatch(formatReport(analyzeAs(onnxConvSoftmax(), 'model-lens'), 5), /convention/);
    assert.match(markdownReport(st, 'net'), /counted by the ST Edge AI convention/);
  });

  test('--convention st|vela on analyze and check; anything else is a usage error', () => {
    assert.equal(parseCli(['analyze', 'm.onnx', '--convention', 'st']).convention, 'st');
    assert.equal(
      parseCli(['check', 'm.onnx', '--device', 'x', '--convention', 'vela']).convention,
      'vela',
    );
    assert.equal(parseCli(['analyze', 'm.onnx']).convention, undefined);
    assert.throws(
      () => parseCli(['analyze', 'm.onnx', '--convention', 'tflm']),
      (e: unknown) =>
        e instanceof UsageError && /--convention expects model-lens, st, vela/.test(e.message),
    );
    assert.throws(
      () => parseCli(['text', 'm.onnx', '--convention', 'st']),
      (e: unknown) => e instanceof UsageError && /applies to analyze and check/.test(e.message),
    );
  });

  test('the modelLens.convention setting reaches the analyzer settings, if it names one', () => {
    assert.equal(settingsFromSection({ convention: 'vela' }).convention, 'vela');
    assert.equal(settingsFromSection({ convention: 'st' }).convention, 'st');
    assert.equal(settingsFromSection({ convention: 'bogus' }).convention, undefined);
    assert.equal(settingsFromSection({}).convention, undefined);
  });
});

const DIR = path.resolve(__dirname, '../../../../shared/tflite');
const skipShared = fs.existsSync(path.join(DIR, 'person_detect.tflite'))
  ? false
  : 'no ../shared/tflite in this clone';

describe('person_detect.tflite under each convention', { skip: skipShared }, () => {
  const file = path.join(DIR, 'person_detect.tflite');
  const reports = Object.fromEntries(
    conventions.map((c) => [c, analyzeFile(file, { convention: c, skipBitHints: true })]),
  ) as Record<Convention, AnalysisReport>;

  test('ST adds the bias channels of the 28 layers and 15 per Softmax element', () => {
    // MobileNet-v1 0.25: every conv has a bias; channels of the 13 blocks' depthwise and
    // pointwise layers, the stem (8) and the final 1×1 conv (2).
    const blocks = [16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256];
    let channels = 8; // stem
    let biases = 8;
    for (const out of blocks) {
      biases += channels + out; // depthwise keeps the channels, pointwise makes `out`
      channels = out;
    }
    biases += 2; // Conv2d_1c_1x1, the classifier
    assert.equal(biases, 2738);
    const ours = reports['model-lens'].totals.macs;
    assert.equal(ours, 7_157_888);
    assert.equal(reports.st.totals.macs, ours + biases + 15 * 2);
  });

  test('Vela adds the 3×3 average pool over 256 channels', () => {
    assert.equal(reports.vela.totals.macs, reports['model-lens'].totals.macs + 3 * 3 * 256);
  });

  test('weights: ST leaves out the quantization parameters; Vela counts as ours', () => {
    const ours = reports['model-lens'];
    const st = reports.st;
    assert.equal(st.totals.params, ours.totals.params);
    assert.ok(st.totals.weightBytes < ours.totals.weightBytes);
    assert.equal(reports.vela.totals.weightBytes, ours.totals.weightBytes);
    // No buffer is shared in person_detect, so per use is once.
    const sum = (r: AnalysisReport) => r.nodes.reduce((s, n) => s + n.weightBytes, 0);
    assert.equal(st.totals.weightBytes, sum(st));
  });

  test('Vela pads the 8-channel feature maps to 16; peak RAM stays TFLite Micro’s arena', () => {
    const ours = reports['model-lens'];
    const vela = reports.vela;
    const first = vela.nodes[0];
    // The stem: input [1,96,96,1] (the model's input, linear) → [1,48,48,8] → 16 channels.
    assert.equal(ours.nodes[0].activationBytes, 96 * 96 + 48 * 48 * 8);
    assert.equal(first.activationBytes, 96 * 96 + 48 * 48 * 16);
    assert.equal(vela.totals.peakActivationBytes, ours.totals.peakActivationBytes);
  });
});
