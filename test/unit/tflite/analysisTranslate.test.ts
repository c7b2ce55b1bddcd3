/**
 * The analysis of TFLite networks built here, layer by layer: the same network as ONNX and as
 * TFLite gives the same MACs and params, and the TFLite-only ways of storing weights (shared
 * buffers, fp16 behind DEQUANTIZE, per-channel int8 with its quantization table, custom
 * operators) give the figures the conventions ask for.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeBytes, analyzeLoaded } from '../../../src/core/analyze';
import { parseAnyModelBytes } from '../../../src/core/modelFile';
import { ModelLoadError, parseModelBytes } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';
import {
  BUILTIN,
  TYPE,
  TfliteNetwork,
  conv2d,
  convDepthwiseFcNetwork,
  fullyConnected,
} from '../../helpers/tfliteNetwork';

const tfliteNetwork = (): Uint8Array => convDepthwiseFcNetwork();

function onnxNetwork() {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node('Conv', [x, b.weight('conv_w', [4, 3, 3, 3]), b.weight('conv_b', [4])], {
    pads: [1, 1, 1, 1],
  });
  const [r] = b.node('Relu', [c]);
  const [d] = b.node('Conv', [r, b.weight('dw_w', [4, 1, 3, 3]), b.weight('dw_b', [4])], {
    group: 4,
    strides: [2, 2],
    auto_pad: 'SAME_UPPER',
  });
  const [f] = b.node('Flatten', [d]);
  const [y] = b.node('Gemm', [f, b.weight('fc_w', [5, 64]), b.weight('fc_b', [5])], {
    transB: 1,
  });
  b.output(y);
  return b.load();
}

describe('TFLite analysis of built networks', () => {
  test('the same network as ONNX and as TFLite: equal MACs and params', () => {
    const tflite = analyzeBytes(tfliteNetwork());
    const onnx = analyzeLoaded(onnxNetwork());
    // By hand: 8·8·4·27 + 4·4·4·9 + 5·64.
    assert.equal(tflite.totals.macs, 6912 + 576 + 320);
    assert.equal(tflite.totals.macs, onnx.totals.macs);
    assert.equal(tflite.totals.params, 4 * 27 + 4 + 4 * 9 + 4 + 5 * 64 + 5);
    assert.equal(tflite.totals.params, onnx.totals.params);
    assert.equal(tflite.totals.weightBytes, onnx.totals.weightBytes);
    // The fused ReLU costs what ONNX's Relu node does.
    assert.equal(tflite.totals.flops, onnx.totals.flops);
    assert.deepEqual(
      tflite.diagnostics.filter((d) => d.severity !== 'info'),
      [],
    );
    // Per-channel axes: CONV_2D weights [O, H, W, I] on axis 0, depthwise [1, H, W, C] on axis 3,
    // so the float weights get SQNR curves.
    for (const node of tflite.nodes) assert.ok(node.weightSqnrDb, `${node.op} has hints`);
  });

  test('constants view the file bytes, and a shared buffer is one weight counted once', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 16]);
    const w = n.floatWeight('w', [16, 16]);
    const h = n.op(BUILTIN.FULLY_CONNECTED, [x, w], [1, 16], fullyConnected());
    const y = n.op(
      BUILTIN.FULLY_CONNECTED,
      [h, n.sharing('w_again', w)],
      [1, 16],
      fullyConnected(),
    );
    const bytes = n.build([y]);
    const loaded = parseAnyModelBytes(bytes);
    assert.ok(loaded.tflite, 'marked as TFLite');
    const [init] = loaded.model.graph.initializers;
    assert.equal(loaded.model.graph.initializers.length, 1);
    assert.equal(init.rawData?.buffer, bytes.buffer, 'a view, not a copy');
    assert.deepEqual(
      loaded.model.graph.nodes.map((node) => [node.domain, node.opType, node.inputs[1]]),
      [
        ['tflite', 'FULLY_CONNECTED', 'w'],
        ['tflite', 'FULLY_CONNECTED', 'w'],
      ],
    );
    const r = analyzeLoaded(loaded);
    assert.equal(r.totals.macs, 2 * 256);
    assert.equal(r.totals.params, 256);
    assert.equal(r.totals.weightBytes, 256 * 4);
  });

  test('an fp16 weight behind DEQUANTIZE is the layer weight, at 16 bits (MediaPipe)', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 4, 4, 2]);
    const half = n.constant(
      'w16',
      [3, 1, 1, 2],
      new Uint8Array(3 * 2 * 2).fill(0x3c),
      TYPE.FLOAT16,
    );
    const w = n.op(BUILTIN.DEQUANTIZE, [half], [3, 1, 1, 2]);
    const y = n.op(BUILTIN.CONV_2D, [x, w], [1, 4, 4, 3], conv2d());
    const r = analyzeBytes(n.build([y]));
    const conv = r.nodes.find((node) => node.op === 'CONV_2D')!;
    assert.equal(conv.macs, 4 * 4 * 3 * 2);
    assert.equal(conv.params, 6);
    assert.equal(conv.weightBytes, 12);
    assert.equal(conv.weightBits, 16);
    assert.equal(r.totals.params, 6);
    // The dequantized copy is a constant: no activation memory.
    assert.equal(r.nodes.find((node) => node.op === 'DEQUANTIZE')!.activationBytes, 0);
  });

  test('per-channel int8 weights count their scales and zero points, and get hints', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 8], TYPE.INT8);
    const values = Int8Array.from({ length: 4 * 8 }, (_, i) => ((i * 37) % 255) - 127);
    const w = n.constant('w', [4, 8], new Uint8Array(values.buffer), TYPE.INT8, {
      scale: [0.1, 0.2, 0.3, 0.4],
      zeroPoint: [0, 0, 0, 0],
      quantizedDimension: 0,
    });
    const y = n.op(BUILTIN.FULLY_CONNECTED, [x, w], [1, 4], fullyConnected(), TYPE.INT8);
    const r = analyzeBytes(n.build([y]));
    const [fc] = r.nodes;
    // 32 int8 values + 4 float32 scales + 4 int64 zero points, as the flatbuffer stores them.
    assert.equal(fc.weightBytes, 32 + 4 * 4 + 4 * 8);
    assert.equal(fc.weightBits, 8);
    assert.ok(fc.weightSqnrDb && Object.keys(fc.weightSqnrDb).length > 0);
  });

  test('a custom operator: declared output shape, a diagnostic naming it, MACs unknown', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 8, 8, 4]);
    const y = n.op(
      'Convolution2DTransposeBias',
      [x, n.floatWeight('w', [2, 3, 3, 4])],
      [1, 16, 16, 2],
    );
    const z = n.op(BUILTIN.RELU, [y], [1, 16, 16, 2]);
    const r = analyzeBytes(n.build([z]));
    const custom = r.nodes[0];
    assert.equal(custom.op, 'Convolution2DTransposeBias');
    assert.deepEqual(custom.outputs[0].shape, [1, 16, 16, 2]);
    assert.ok(custom.macsUnknown);
    assert.equal(custom.params, 2 * 9 * 4);
    assert.deepEqual(r.totals.uncountedNodes, [custom.name]);
    assert.ok(
      r.diagnostics.some(
        (d) =>
          d.node === custom.name && /custom operator 'Convolution2DTransposeBias'/.test(d.message),
      ),
    );
    // The op after it is costed from the declared shape.
    assert.equal(r.nodes[1].flops, 16 * 16 * 2);
  });

  test('a declared shape that disagrees with the layer is reported', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 8, 8, 3]);
    const y = n.op(BUILTIN.CONV_2D, [x, n.floatWeight('w', [4, 3, 3, 3])], [1, 4, 4, 4], conv2d(1));
    const r = analyzeBytes(n.build([y]));
    assert.ok(r.diagnostics.some((d) => /declares float32\[1, 4, 4, 4\]/.test(d.message)));
  });

  test('ONNX-only code refuses a TFLite model in one line', () => {
    assert.throws(
      () => parseModelBytes(tfliteNetwork(), undefined, '/tmp/net.tflite'),
      (e: unknown) =>
        e instanceof ModelLoadError &&
        e.message === 'net.tflite is a TensorFlow Lite model: this needs an ONNX model',
    );
  });
});
