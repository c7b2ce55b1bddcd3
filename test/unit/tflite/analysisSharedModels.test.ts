/**
 * The analysis of the real TFLite Micro models in ../shared/tflite, through the same entry as ONNX
 * (analyzeFile). Every expected MAC and parameter count is worked out here by hand from the
 * network's layer shapes and the conventions' formulas (conventions.md "Compute"), not read back
 * from the code under test. A clone without ../shared skips these tests.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile, type AnalysisReport } from '../../../src/core/analyze';
import { toJson } from '../../../src/cli/json';
import { displayCell, layerTable, layerTableCsv } from '../../../src/core/text/layerTable';
import { BUILTIN_DEVICES, findDevice } from '../../../src/core/devices';
import { loadTfliteFile } from '../../../src/core/tflite/load';

const DIR = path.resolve(__dirname, '../../../../shared/tflite');
const skip = fs.existsSync(path.join(DIR, 'person_detect.tflite'))
  ? false
  : 'no ../shared/tflite in this clone';

const analyze = (name: string): AnalysisReport => analyzeFile(path.join(DIR, name));

/** MobileNet-v1 0.25 on 96×96×1 (visual wake words), as person_detect.tflite is built. */
function personDetectHandCount(): { macs: number; params: number } {
  let macs = 0;
  let params = 0;
  let size = 96;
  let channels = 1;
  const conv = (k: number, out: number, stride: number, groups: number): void => {
    size = Math.ceil(size / stride); // SAME padding
    macs += size * size * out * k * k * (channels / groups);
    params += out * k * k * (channels / groups) + out; // weights + bias
    channels = out;
  };
  conv(3, 8, 2, 1); // Conv2d_0 (stored as a depthwise with multiplier 8 on the 1-channel input)
  const blocks: [number, number][] = [
    [16, 1],
    [32, 2],
    [32, 1],
    [64, 2],
    [64, 1],
    [128, 2],
    [128, 1],
    [128, 1],
    [128, 1],
    [128, 1],
    [128, 1],
    [256, 2],
    [256, 1],
  ];
  for (const [out, stride] of blocks) {
    conv(3, channels, stride, channels); // depthwise 3×3
    conv(1, out, 1, 1); // pointwise
  }
  size = 1; // AvgPool 3×3 VALID over 3×3: no MACs
  conv(1, 2, 1, 1); // Conv2d_1c_1x1 logits
  return { macs, params };
}

describe('TFLite analysis on the shared TFLM models', { skip }, () => {
  test('person_detect: MACs and params equal the hand count from the layer shapes', () => {
    const r = analyze('person_detect.tflite');
    const hand = personDetectHandCount();
    assert.equal(hand.macs, 7_157_888);
    assert.equal(r.totals.macs, hand.macs);
    assert.equal(r.totals.params, hand.params);
    assert.equal(r.nodes.length, 31);
    assert.equal(r.totals.uncountedNodes, undefined);
    // Declared and computed shapes agree: no shape diagnostics.
    assert.deepEqual(
      r.diagnostics.filter((d) => d.source === 'shapes'),
      [],
    );
    // int8 weights: 1 byte per weight, int32 biases, and per-channel float32 scales and int64
    // zero points as the flatbuffer stores them (12 bytes per channel of weights and biases).
    const first = r.nodes[2]; // Conv2d_1_pointwise: 8 → 16
    assert.equal(first.op, 'CONV_2D');
    assert.equal(first.macs, 48 * 48 * 16 * 8);
    assert.equal(first.weightBytes, 16 * 8 + 16 * 4 + 16 * 12 * 2);
    assert.equal(first.weightBits, 8);
    assert.ok(first.weightSqnrDb, 'int8 weights get a measured SQNR curve');
    assert.ok(first.suggestedWeightBits !== null && first.suggestedWeightBits <= 8);
  });

  test('hello_world: three FULLY_CONNECTED layers, 1 → 16 → 16 → 1', () => {
    const r = analyze('hello_world_int8.tflite');
    assert.deepEqual(
      r.nodes.map((n) => [n.op, n.macs]),
      [
        ['FULLY_CONNECTED', 1 * 16],
        ['FULLY_CONNECTED', 16 * 16],
        ['FULLY_CONNECTED', 16 * 1],
      ],
    );
    assert.equal(r.totals.macs, 288);
    assert.equal(r.totals.params, 16 + 16 + 16 * 16 + 16 + 16 + 1);
  });

  test('trained_lstm_int8: the LSTM by the cell formula, gates × hidden × (input + hidden) × steps', () => {
    const r = analyze('trained_lstm_int8.tflite');
    // MNIST rows as a sequence: 28 steps of 28 pixels, 20 hidden units, 4 gates; then 560 → 10.
    const lstm = r.nodes.find((n) => n.op === 'UNIDIRECTIONAL_SEQUENCE_LSTM')!;
    assert.equal(lstm.macs, 4 * 20 * (28 + 20) * 28);
    const fc = r.nodes.find((n) => n.op === 'FULLY_CONNECTED')!;
    assert.equal(fc.macs, 28 * 20 * 10);
    assert.equal(r.totals.macs, 4 * 20 * (28 + 20) * 28 + 28 * 20 * 10);
    // Weights: 4 input [20, 28] and 4 recurrent [20, 20] matrices, 4 gate biases; FC 560×10 + 10.
    assert.equal(lstm.params, 4 * 20 * 28 + 4 * 20 * 20 + 4 * 20);
    assert.equal(r.totals.params, lstm.params + 560 * 10 + 10);
  });

  test('keyword_scrambled: each SVDF is batch × filters × (input + memory), states are no weights', () => {
    const r = analyze('keyword_scrambled.tflite');
    const sg = loadTfliteFile(path.join(DIR, 'keyword_scrambled.tflite')).subgraphs[0];
    const svdfs = sg.operators.filter((op) => op.opcode.builtinName === 'SVDF');
    const expected = svdfs.map((op) => {
      const [, input] = sg.tensors[op.inputs[0]].shape;
      const [filters, inputSize] = sg.tensors[op.inputs[1]].shape; // weights_feature
      const [, memory] = sg.tensors[op.inputs[2]].shape; // weights_time
      assert.equal(inputSize, input);
      return filters * (inputSize + memory);
    });
    const svdfNodes = r.nodes.filter((n) => n.op === 'SVDF');
    assert.equal(svdfNodes.length, 7);
    assert.deepEqual(
      svdfNodes.map((n) => n.macs),
      expected,
    );
    assert.equal(svdfNodes[0].macs, 64 * (96 + 8));
    // The state tensor (input 4) is a variable, not a weight: params are the two weight matrices
    // and the bias.
    const op0 = svdfs[0];
    const elements = (i: number) =>
      sg.tensors[op0.inputs[i]].shape.reduce((a: number, b: number) => a * b, 1);
    assert.equal(svdfNodes[0].params, elements(1) + elements(2) + elements(3));
  });

  test('micro_speech: depthwise 10×8 window with multiplier 8, then FULLY_CONNECTED 4000 → 4', () => {
    const r = analyze('micro_speech_quantized.tflite');
    assert.equal(r.nodes[1].macs, 25 * 20 * 8 * 10 * 8);
    assert.equal(r.nodes[2].macs, 4000 * 4);
  });

  test('person_detect_vela: the ethos-u custom op is named, and its MACs are unknown, not 0', () => {
    const r = analyze('person_detect_vela.tflite');
    assert.equal(r.nodes.length, 1);
    const [ethos] = r.nodes;
    assert.equal(ethos.op, 'ethos-u');
    assert.match(ethos.macsUnknown ?? '', /ethos-u/);
    assert.deepEqual(r.totals.uncountedNodes, [ethos.name]);
    assert.ok(
      r.diagnostics.some(
        (d) => /custom operator 'ethos-u'/.test(d.message) && d.node === ethos.name,
      ),
    );
    // Its output shape comes from the file; its constants (command stream, compressed weights)
    // are stored with the model, so they count toward flash.
    assert.deepEqual(r.outputs[0].shape, [1, 2]);
    assert.ok(ethos.weightBytes > 0);
    // The JSON and the layer table say "unknown", never 0.
    const json = toJson(r) as { nodes: { macs: number | null; macsUnknown?: string }[] };
    assert.equal(json.nodes[0].macs, null);
    assert.match(json.nodes[0].macsUnknown ?? '', /ethos-u/);
    const table = layerTable(r);
    assert.equal(table.rows[0].macs, null);
    assert.equal(table.rows[0].macsShare, null, 'no share of an unknown count');
    assert.equal(layerTableCsv(table).split('\r\n')[1].split(',')[4], '');
    // With a device, no latency either: '?' for people, empty in the CSV.
    const onDevice = layerTable(
      analyzeFile(path.join(DIR, 'person_detect_vela.tflite'), {
        device: findDevice('ethos-u55-256', BUILTIN_DEVICES),
      }),
    );
    assert.equal(onDevice.rows[0].latencySeconds, null);
    assert.equal(displayCell(onDevice.rows[0], 'latencySeconds'), '?');
    assert.equal(displayCell(onDevice.rows[0], 'macsShare'), '?');
  });
});
