/**
 * The reader on real TFLite Micro models in ../shared/tflite. The expected figures were
 * cross-checked with an independent hand reader (Python `struct` over the vtables): tensor,
 * operator and buffer counts, operator codes, graph inputs and outputs. A user's clone has no
 * ../shared, so these tests skip cleanly when it is absent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTfliteFile } from '../../../src/core/tflite/load';
import { tensorTypeName } from '../../../src/core/tflite/tensorType';
import type { Subgraph } from '../../../src/core/tflite/types';

const DIR = path.resolve(__dirname, '../../../../shared/tflite');
const skip = fs.existsSync(path.join(DIR, 'person_detect.tflite'))
  ? false
  : 'no ../shared/tflite in this clone';

const load = (name: string) => loadTfliteFile(path.join(DIR, name));

function opCounts(sg: Subgraph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of sg.operators) {
    const name = op.opcode.customCode ?? op.opcode.builtinName;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe('TFLite reader on the shared TFLM models', { skip }, () => {
  test('person_detect: 89 tensors, 31 operators of five kinds, per-channel int8 weights', () => {
    const m = load('person_detect.tflite');
    assert.equal(m.version, 3);
    assert.equal(m.buffers.length, 90);
    assert.deepEqual(
      m.operatorCodes.map((c) => c.builtinName),
      ['AVERAGE_POOL_2D', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'RESHAPE', 'SOFTMAX'],
    );
    const sg = m.subgraphs[0];
    assert.equal(m.subgraphs.length, 1);
    assert.equal(sg.tensors.length, 89);
    assert.deepEqual(sg.inputs, [88]);
    assert.deepEqual(sg.outputs, [87]);
    assert.deepEqual(sg.tensors[88].shape, [1, 96, 96, 1]);
    assert.deepEqual(opCounts(sg), {
      DEPTHWISE_CONV_2D: 14,
      CONV_2D: 14,
      AVERAGE_POOL_2D: 1,
      RESHAPE: 1,
      SOFTMAX: 1,
    });
    // The first layer: a 3x3 stride-2 convolution of the one-channel image, which the converter
    // wrote as a depthwise convolution with depth multiplier 8.
    const first = sg.operators[0];
    assert.deepEqual(first.inputs, [88, 0, 33]);
    assert.deepEqual(first.builtinOptions, {
      kind: 'DepthwiseConv2DOptions',
      padding: 'SAME',
      strideW: 2,
      strideH: 2,
      dilationW: 1,
      dilationH: 1,
      depthMultiplier: 8,
      fusedActivation: 'RELU6',
    });
    const weights = sg.tensors[0];
    assert.equal(tensorTypeName(weights.type), 'INT8');
    assert.deepEqual(weights.shape, [1, 3, 3, 8]);
    assert.equal(weights.buffer.data.length, 72);
    assert.equal(weights.quantization?.scale.length, 8, 'one scale per output channel');
    assert.equal(weights.quantization?.quantizedDimension, 3);
    // Every constant's bytes match its shape and type: int8 weights, int32 biases.
    for (const t of sg.tensors) {
      if (t.buffer.data.length === 0) continue;
      const elements = t.shape.reduce((a, b) => a * b, 1);
      const width = tensorTypeName(t.type) === 'INT32' ? 4 : 1;
      assert.equal(t.buffer.data.length, elements * width, t.name);
    }
  });

  test('person_detect_vela: one ethos-u custom op and its OfflineMemoryAllocation plan', () => {
    const m = load('person_detect_vela.tflite');
    assert.equal(m.description, 'Vela 3.11.0 Optimised');
    assert.deepEqual(
      m.operatorCodes.map((c) => [c.builtinName, c.customCode]),
      [['CUSTOM', 'ethos-u']],
    );
    const sg = m.subgraphs[0];
    assert.equal(sg.operators.length, 1);
    assert.deepEqual(sg.operators[0].inputs, [1, 2, 3, 4, 5]);
    assert.deepEqual(sg.operators[0].outputs, [0]);
    assert.ok(sg.operators[0].customOptions?.length, 'custom options present');
    assert.deepEqual(
      sg.tensors.map((t) => t.name),
      [
        'MobilenetV1/Predictions/Reshape_1',
        '_split_1_command_stream',
        '_split_1_flash',
        '_split_1_scratch',
        '_split_1_scratch_fast',
        'input',
      ],
    );
    assert.deepEqual(
      m.metadata.map((x) => x.name),
      ['vela_version', 'OfflineMemoryAllocation'],
    );
    // Words as stored: [0, 1, 6, then one arena offset per tensor]. TFLM reads the count (word
    // 2) and the offsets; the constant command stream and flash (tensors 1, 2) are -1.
    assert.deepEqual(m.offlineMemoryAllocation, {
      version: 0,
      subgraph: 1,
      tensorCount: 6,
      offsets: [0, -1, -1, 0, 0, 0],
    });
    assert.equal(m.offlineMemoryAllocation?.tensorCount, sg.tensors.length);
  });

  test('keyword_scrambled: SVDF state tensors are variable; operator_codes repeat entries', () => {
    const m = load('keyword_scrambled.tflite');
    assert.deepEqual(
      m.operatorCodes.map((c) => c.builtinName),
      [
        'SVDF',
        'FULLY_CONNECTED',
        'SVDF',
        'FULLY_CONNECTED',
        'SVDF',
        'FULLY_CONNECTED',
        'SVDF',
        'FULLY_CONNECTED',
        'SVDF',
        'SVDF',
        'SVDF',
        'FULLY_CONNECTED',
        'SOFTMAX',
        'QUANTIZE',
        'DEQUANTIZE',
      ],
    );
    const sg = m.subgraphs[0];
    assert.equal(sg.tensors.length, 54);
    assert.deepEqual(opCounts(sg), { QUANTIZE: 2, SVDF: 7, FULLY_CONNECTED: 5, SOFTMAX: 1 });
    const variables = sg.tensors.filter((t) => t.isVariable);
    assert.equal(variables.length, 7);
    for (const v of variables) {
      assert.equal(v.buffer.data.length, 0, `${v.index} has no constant data`);
      assert.equal(tensorTypeName(v.type), 'INT16');
    }
    // Each SVDF's state is its fifth input.
    for (const op of sg.operators.filter((o) => o.opcode.builtinName === 'SVDF')) {
      assert.equal(sg.tensors[op.inputs[4]].isVariable, true);
      assert.equal(op.builtinOptions?.kind, 'SVDFOptions');
    }
  });

  test('trained_lstm_int8: the LSTM with omitted inputs (-1) and two variable states', () => {
    const m = load('trained_lstm_int8.tflite');
    const sg = m.subgraphs[0];
    const lstm = sg.operators[0];
    assert.equal(lstm.opcode.builtinName, 'UNIDIRECTIONAL_SEQUENCE_LSTM');
    assert.equal(lstm.inputs.length, 24);
    // No peepholes (3), no projection (2), no layer norm (4).
    assert.equal(lstm.inputs.filter((i) => i === -1).length, 9);
    assert.deepEqual(
      sg.tensors.filter((t) => t.isVariable).map((t) => t.index),
      [16, 17],
    );
    assert.equal(lstm.builtinOptions?.kind, 'UnidirectionalSequenceLSTMOptions');
    assert.deepEqual(m.signatureDefs[0].inputs, [{ name: 'fixed_input', tensorIndex: 0 }]);
    assert.equal(m.minRuntimeVersion, '1.14.0');
  });

  test('micro_speech and hello_world decode with their operators', () => {
    assert.deepEqual(opCounts(load('micro_speech_quantized.tflite').subgraphs[0]), {
      RESHAPE: 1,
      DEPTHWISE_CONV_2D: 1,
      FULLY_CONNECTED: 1,
      SOFTMAX: 1,
    });
    assert.deepEqual(opCounts(load('hello_world_int8.tflite').subgraphs[0]), {
      FULLY_CONNECTED: 3,
    });
  });
});
