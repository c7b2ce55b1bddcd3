/**
 * Exact decode cases on tiny .tflite files written by the `flatbuffers` reference Builder: each
 * test states what the file holds and checks the reader returns exactly that.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTfliteBytes } from '../../../src/core/tflite/load';
import { builtinOperatorName, BUILTIN_OPERATOR_NAMES } from '../../../src/core/tflite/ops';
import { tensorTypeBits, tensorTypeName } from '../../../src/core/tflite/tensorType';
import {
  buildTflite,
  type ModelSpec,
  type OptionField,
  type TensorSpec,
} from '../../helpers/tfliteBuilder';

const CONV_2D = 3;
const FULLY_CONNECTED = 9;
const CUSTOM = 32;
const UNIDIRECTIONAL_SEQUENCE_LSTM = 44;
const BATCH_MATMUL = 126;
const CUMSUM = 128;

/** One FULLY_CONNECTED layer: input 0, weights 1 (buffer 1), bias 2 (buffer 2), output 3. */
function fcModel(overrides: Partial<ModelSpec> = {}, tensors?: TensorSpec[]): ModelSpec {
  return {
    description: 'tiny',
    operatorCodes: [{ builtinCode: FULLY_CONNECTED, deprecatedBuiltinCode: FULLY_CONNECTED }],
    subgraphs: [
      {
        name: 'main',
        tensors: tensors ?? [
          { name: 'x', shape: [1, 4] },
          { name: 'w', shape: [2, 4], buffer: 1 },
          { name: 'b', shape: [2], type: 2, buffer: 2 },
          { name: 'y', shape: [1, 2] },
        ],
        inputs: [0],
        outputs: [3],
        operators: [
          {
            opcodeIndex: 0,
            inputs: [0, 1, 2],
            outputs: [3],
            options: { type: 8, fields: [{ id: 0, int8: 1 }] },
          },
        ],
      },
    ],
    buffers: [{ data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }, { data: new Uint8Array(8) }],
    ...overrides,
  };
}

describe('TFLite reader: exact decode', () => {
  test('a minimal model: header, tensors, operator, options and buffers', () => {
    const bytes = buildTflite(fcModel());
    const m = parseTfliteBytes(bytes);
    assert.equal(m.version, 3);
    assert.equal(m.description, 'tiny');
    assert.equal(m.subgraphs.length, 1);
    const sg = m.subgraphs[0];
    assert.equal(sg.name, 'main');
    assert.deepEqual(sg.inputs, [0]);
    assert.deepEqual(sg.outputs, [3]);
    assert.deepEqual(
      sg.tensors.map((t) => [t.name, t.shape, tensorTypeName(t.type), t.bufferIndex]),
      [
        ['x', [1, 4], 'INT8', 0],
        ['w', [2, 4], 'INT8', 1],
        ['b', [2], 'INT32', 2],
        ['y', [1, 2], 'INT8', 0],
      ],
    );
    const op = sg.operators[0];
    assert.equal(op.opcode.builtinName, 'FULLY_CONNECTED');
    assert.deepEqual(op.builtinOptions, {
      kind: 'FullyConnectedOptions',
      fusedActivation: 'RELU',
      weightsFormat: 'DEFAULT',
      keepNumDims: false,
    });
    assert.deepEqual([...sg.tensors[1].buffer.data], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(sg.tensors[0].buffer.data.length, 0, 'buffer 0 is the empty sentinel');
  });

  test('buffer data is a view of the file bytes, shared by tensors naming the same buffer', () => {
    const bytes = buildTflite(
      fcModel({}, [
        { name: 'x', shape: [1, 4] },
        { name: 'w', shape: [2, 4], buffer: 1 },
        { name: 'w_again', shape: [2, 4], buffer: 1 },
        { name: 'y', shape: [1, 2] },
      ]),
    );
    const m = parseTfliteBytes(bytes);
    const [, w, wAgain] = m.subgraphs[0].tensors;
    assert.equal(w.buffer, wAgain.buffer, 'one Buffer object per index');
    assert.equal(w.buffer, m.buffers[1]);
    assert.equal(w.buffer.data.buffer, bytes.buffer, 'no copy');
    assert.equal(w.buffer.outsideFlatbuffer, false);
    assert.deepEqual(
      [...bytes.subarray(w.buffer.fileOffset, w.buffer.fileOffset + 8)],
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
  });

  test('a buffer stored outside the flatbuffer by offset/size resolves to a view at that offset', () => {
    const outside = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
    const bytes = buildTflite(fcModel({ buffers: [{ outside }, { data: new Uint8Array(8) }] }));
    const m = parseTfliteBytes(bytes);
    const w = m.subgraphs[0].tensors[1].buffer;
    assert.equal(w.outsideFlatbuffer, true);
    assert.deepEqual([...w.data], [...outside]);
    assert.equal(w.data.buffer, bytes.buffer);
    assert.equal(w.fileOffset % 16, 0);
    assert.deepEqual([...bytes.subarray(w.fileOffset, w.fileOffset + 8)], [...outside]);
  });

  test('offset 1 is the converter placeholder, not an outside buffer: the inline data counts', () => {
    const bytes = buildTflite(
      fcModel({ buffers: [{ data: new Uint8Array([5, 5]), offset: 1, size: 0 }, {}] }),
    );
    const w = parseTfliteBytes(bytes).buffers[1];
    assert.equal(w.outsideFlatbuffer, false);
    assert.deepEqual([...w.data], [5, 5]);
  });

  test('per-axis quantization: scales and zero points along quantized_dimension, min/max', () => {
    const bytes = buildTflite(
      fcModel({}, [
        { name: 'x', shape: [1, 4], quantization: { scale: [0.5], zeroPoint: [-128] } },
        {
          name: 'w',
          shape: [2, 4],
          buffer: 1,
          quantization: {
            scale: [0.25, 0.125],
            zeroPoint: [0, 0],
            min: [-1, -2],
            max: [1, 2],
            quantizedDimension: 0,
          },
        },
        { name: 'b', shape: [2], type: 2, buffer: 2 },
        {
          name: 'y',
          shape: [1, 2],
          quantization: { scale: [1], zeroPoint: [-3], quantizedDimension: 1 },
        },
      ]),
    );
    const [x, w, b, y] = parseTfliteBytes(bytes).subgraphs[0].tensors;
    assert.deepEqual(x.quantization, {
      scale: [0.5],
      zeroPoint: [-128],
      min: [],
      max: [],
      quantizedDimension: 0,
    });
    assert.deepEqual(w.quantization, {
      scale: [0.25, 0.125],
      zeroPoint: [0, 0],
      min: [-1, -2],
      max: [1, 2],
      quantizedDimension: 0,
    });
    assert.equal(b.quantization, undefined);
    assert.equal(y.quantization?.quantizedDimension, 1);
    assert.deepEqual(y.quantization?.zeroPoint, [-3]);
  });

  test('an empty QuantizationParameters table (float tensors) reads as no quantization', () => {
    const bytes = buildTflite(
      fcModel({}, [
        { name: 'x', shape: [1, 4], type: 0, quantization: {} },
        { name: 'w', shape: [2, 4], buffer: 1 },
        { name: 'b', shape: [2], type: 2, buffer: 2 },
        { name: 'y', shape: [1, 2] },
      ]),
    );
    assert.equal(parseTfliteBytes(bytes).subgraphs[0].tensors[0].quantization, undefined);
  });

  test('quantization details: blockwise (tensor indices) and custom (a view)', () => {
    const bytes = buildTflite(
      fcModel({}, [
        { name: 'x', shape: [1, 4] },
        {
          name: 'w',
          shape: [2, 4],
          type: 17,
          buffer: 1,
          quantization: { blockwise: { scales: 4, zeroPoints: -1, blockSize: 32 } },
        },
        {
          name: 'b',
          shape: [2],
          type: 2,
          buffer: 2,
          quantization: { custom: new Uint8Array([7]) },
        },
        { name: 'y', shape: [1, 2] },
        { name: 'w_scales', shape: [2, 1], type: 1 },
      ]),
    );
    const [, w, b] = parseTfliteBytes(bytes).subgraphs[0].tensors;
    assert.equal(tensorTypeName(w.type), 'INT4');
    assert.deepEqual(w.quantization?.details, {
      kind: 'blockwise',
      scalesTensor: 4,
      zeroPointsTensor: -1,
      blockSize: 32,
    });
    const custom = b.quantization?.details;
    assert.equal(custom?.kind, 'custom');
    assert.deepEqual(custom?.kind === 'custom' && [...custom.custom], [7]);
  });

  test('deprecated_builtin_code alone, builtin_code alone, and both: the larger one wins', () => {
    const bytes = buildTflite(
      fcModel({
        operatorCodes: [
          { deprecatedBuiltinCode: FULLY_CONNECTED },
          { builtinCode: CUMSUM, deprecatedBuiltinCode: 127 },
          { builtinCode: CONV_2D, version: 5 },
        ],
      }),
    );
    const codes = parseTfliteBytes(bytes).operatorCodes;
    assert.deepEqual(
      codes.map((c) => [c.builtinCode, c.builtinName, c.version]),
      [
        [FULLY_CONNECTED, 'FULLY_CONNECTED', 1],
        [CUMSUM, 'CUMSUM', 1],
        [CONV_2D, 'CONV_2D', 5],
      ],
    );
  });

  test('a custom operator keeps its name and its options bytes as a view', () => {
    const options = new Uint8Array([1, 4, 1]);
    const spec = fcModel({ operatorCodes: [{ builtinCode: CUSTOM, customCode: 'ethos-u' }] });
    const sg = spec.subgraphs[0];
    const bytes = buildTflite({
      ...spec,
      subgraphs: [
        {
          ...sg,
          operators: [{ opcodeIndex: 0, inputs: [0, 1], outputs: [3], customOptions: options }],
        },
      ],
    });
    const op = parseTfliteBytes(bytes).subgraphs[0].operators[0];
    assert.equal(op.opcode.builtinName, 'CUSTOM');
    assert.equal(op.opcode.customCode, 'ethos-u');
    assert.deepEqual(op.customOptions && [...op.customOptions], [1, 4, 1]);
    assert.equal(op.customOptions?.buffer, bytes.buffer);
    assert.equal(op.builtinOptions, undefined);
  });

  test('an unknown builtin code is kept as its number, named UNKNOWN_<n>', () => {
    const bytes = buildTflite(fcModel({ operatorCodes: [{ builtinCode: 4000 }] }));
    const code = parseTfliteBytes(bytes).operatorCodes[0];
    assert.equal(code.builtinCode, 4000);
    assert.equal(code.builtinName, 'UNKNOWN_4000');
  });

  test('variable tensors, mutating inputs, omitted inputs (-1) and intermediates', () => {
    const tensors: TensorSpec[] = [
      { name: 'x', shape: [1, 3, 2] },
      { name: 'w', shape: [4, 2], buffer: 1 },
      { name: 'state', shape: [1, 4], isVariable: true, type: 7 },
      { name: 'y', shape: [1, 3, 4] },
      { name: 'gate_scratch', shape: [1, 4], type: 7 },
    ];
    const spec = fcModel(
      { operatorCodes: [{ builtinCode: UNIDIRECTIONAL_SEQUENCE_LSTM, deprecatedBuiltinCode: 44 }] },
      tensors,
    );
    const bytes = buildTflite({
      ...spec,
      subgraphs: [
        {
          ...spec.subgraphs[0],
          outputs: [3],
          operators: [
            {
              opcodeIndex: 0,
              inputs: [0, 1, -1, -1, 2],
              outputs: [3],
              intermediates: [4],
              mutatingVariableInputs: [false, false, false, false, true],
              options: {
                type: 71,
                fields: [
                  { id: 0, int8: 4 },
                  { id: 1, float32: 10 },
                  { id: 3, bool: true },
                ],
              },
            },
          ],
        },
      ],
    });
    const sg = parseTfliteBytes(bytes).subgraphs[0];
    const op = sg.operators[0];
    assert.deepEqual(op.inputs, [0, 1, -1, -1, 2]);
    assert.deepEqual(op.intermediates, [4]);
    assert.deepEqual(op.mutatingVariableInputs, [false, false, false, false, true]);
    assert.deepEqual(
      sg.tensors.map((t) => t.isVariable),
      [false, false, true, false, false],
    );
    assert.deepEqual(op.builtinOptions, {
      kind: 'UnidirectionalSequenceLSTMOptions',
      timeMajor: true,
      fusedActivation: 'TANH',
      cellClip: 10,
      projClip: 0,
    });
  });

  test('shape_signature, has_rank and sparsity', () => {
    const bytes = buildTflite(
      fcModel({}, [
        { name: 'x', shape: [1, 4], shapeSignature: [-1, 4], hasRank: true },
        {
          name: 'w',
          shape: [2, 4],
          buffer: 1,
          sparsity: {
            traversalOrder: [0, 1],
            dimMetadata: [
              { format: 0, denseSize: 2 },
              { format: 1, segments: [0, 1, 3], indices: [2, 0, 3], vectorType: 3 },
            ],
          },
        },
        { name: 'b', shape: [2], type: 2, buffer: 2 },
        { name: 'y', shape: [1, 2] },
      ]),
    );
    const [x, w, , y] = parseTfliteBytes(bytes).subgraphs[0].tensors;
    assert.deepEqual(x.shapeSignature, [-1, 4]);
    assert.equal(x.hasRank, true);
    assert.equal(y.hasRank, false);
    assert.equal(y.shapeSignature, undefined);
    assert.deepEqual(w.sparsity, {
      traversalOrder: [0, 1],
      blockMap: [],
      dimMetadata: [
        { format: 'DENSE', denseSize: 2 },
        { format: 'SPARSE_CSR', denseSize: 0, arraySegments: [0, 1, 3], arrayIndices: [2, 0, 3] },
      ],
    });
  });

  test('options the analysis reads: conv, depthwise, pool, transpose conv, batch matmul, ...', () => {
    const cases: [number, OptionField[], object][] = [
      [
        1,
        [
          { id: 0, int8: 1 },
          { id: 1, int32: 2 },
          { id: 2, int32: 3 },
          { id: 3, int8: 3 },
          { id: 4, int32: 2 },
        ],
        {
          kind: 'Conv2DOptions',
          padding: 'VALID',
          strideW: 2,
          strideH: 3,
          dilationW: 2,
          dilationH: 1,
          fusedActivation: 'RELU6',
        },
      ],
      [
        2,
        [
          { id: 1, int32: 1 },
          { id: 2, int32: 1 },
          { id: 3, int32: 4 },
        ],
        {
          kind: 'DepthwiseConv2DOptions',
          padding: 'SAME',
          strideW: 1,
          strideH: 1,
          dilationW: 1,
          dilationH: 1,
          depthMultiplier: 4,
          fusedActivation: 'NONE',
        },
      ],
      [
        5,
        [
          { id: 0, int8: 1 },
          { id: 1, int32: 2 },
          { id: 2, int32: 2 },
          { id: 3, int32: 3 },
          { id: 4, int32: 5 },
          { id: 5, int8: 1 },
        ],
        {
          kind: 'Pool2DOptions',
          padding: 'VALID',
          strideW: 2,
          strideH: 2,
          filterWidth: 3,
          filterHeight: 5,
          fusedActivation: 'RELU',
        },
      ],
      [
        49,
        [
          { id: 1, int32: 2 },
          { id: 2, int32: 2 },
        ],
        {
          kind: 'TransposeConvOptions',
          padding: 'SAME',
          strideW: 2,
          strideH: 2,
          fusedActivation: 'NONE',
        },
      ],
      [101, [{ id: 1, bool: true }], { kind: 'BatchMatMulOptions', adjX: false, adjY: true }],
      [6, [{ id: 0, int32: 2 }], { kind: 'SVDFOptions', rank: 2, fusedActivation: 'NONE' }],
      [9, [{ id: 0, float32: 0.5 }], { kind: 'SoftmaxOptions', beta: 0.5 }],
      [
        10,
        [{ id: 0, int32: -1 }],
        { kind: 'ConcatenationOptions', axis: -1, fusedActivation: 'NONE' },
      ],
      [21, [{ id: 0, int8: 2 }], { kind: 'MulOptions', fusedActivation: 'RELU_N1_TO_1' }],
      [11, [{ id: 0, int8: 9 }], { kind: 'AddOptions', fusedActivation: 'UNKNOWN_9' }],
      [
        31,
        [{ id: 0, bool: true }],
        { kind: 'SequenceRNNOptions', timeMajor: true, fusedActivation: 'NONE' },
      ],
      [
        106,
        [{ id: 1, int32: 2 }],
        {
          kind: 'Conv3DOptions',
          padding: 'SAME',
          strideD: 2,
          strideW: 0,
          strideH: 0,
          dilationD: 1,
          dilationW: 1,
          dilationH: 1,
          fusedActivation: 'NONE',
        },
      ],
      [17, [], { kind: 'ReshapeOptions' }],
    ];
    for (const [type, fields, expected] of cases) {
      const spec = fcModel();
      const sg = spec.subgraphs[0];
      const bytes = buildTflite({
        ...spec,
        subgraphs: [
          {
            ...sg,
            operators: [{ ...sg.operators[0], options: { type, fields } }],
          },
        ],
      });
      const options = parseTfliteBytes(bytes).subgraphs[0].operators[0].builtinOptions;
      assert.deepEqual(options, expected, `options type ${type}`);
    }
  });

  test('reshape new_shape, and any other options table kept as a reference to its bytes', () => {
    const spec = fcModel();
    const sg = spec.subgraphs[0];
    const withOptions = (options: ModelSpec['subgraphs'][0]['operators'][0]['options']) =>
      parseTfliteBytes(
        buildTflite({
          ...spec,
          subgraphs: [{ ...sg, operators: [{ ...sg.operators[0], options }] }],
        }),
      ).subgraphs[0].operators[0].builtinOptions;
    assert.deepEqual(withOptions({ type: 17, fields: [{ id: 0, int32s: [-1, 8] }] }), {
      kind: 'ReshapeOptions',
      newShape: [-1, 8],
    });
    const gather = withOptions({ type: 23, fields: [{ id: 0, int32: 1 }] });
    assert.equal(gather?.kind, 'other');
    assert.equal(gather?.kind === 'other' && gather.name, 'GatherOptions');
    assert.equal(gather?.kind === 'other' && gather.union, 1);
    const stablehlo = withOptions({ union: 2, type: 1, fields: [{ id: 0, int32: 1 }] });
    assert.equal(stablehlo?.kind === 'other' && stablehlo.name, 'StablehloConcatenateOptions');
    assert.equal(stablehlo?.kind === 'other' && stablehlo.union, 2);
    const unknown = withOptions({ type: 200, fields: [] });
    assert.equal(unknown?.kind === 'other' && unknown.name, 'UNKNOWN_200');
  });

  test('metadata: names, buffers, OfflineMemoryAllocation and min_runtime_version decoded', () => {
    const plan = new Int32Array([1, 0, 4, 0, -1, 64, -1]);
    const version = new TextEncoder().encode('2.3.0\0\0\0');
    const bytes = buildTflite(
      fcModel({
        buffers: [
          { data: new Uint8Array(8) },
          { data: new Uint8Array(8) },
          { data: new Uint8Array(plan.buffer) },
          { data: version },
        ],
        metadata: [
          { name: 'OfflineMemoryAllocation', buffer: 3 },
          { name: 'min_runtime_version', buffer: 4 },
        ],
      }),
    );
    const m = parseTfliteBytes(bytes);
    assert.deepEqual(
      m.metadata.map((x) => [x.name, x.bufferIndex, x.data.length]),
      [
        ['OfflineMemoryAllocation', 3, 28],
        ['min_runtime_version', 4, 8],
      ],
    );
    assert.deepEqual(m.offlineMemoryAllocation, {
      version: 1,
      subgraph: 0,
      tensorCount: 4,
      offsets: [0, -1, 64, -1],
    });
    assert.equal(m.minRuntimeVersion, '2.3.0');
  });

  test('signature defs map names to tensor indices', () => {
    const bytes = buildTflite(
      fcModel({
        signatureDefs: [
          {
            key: 'serving_default',
            subgraphIndex: 0,
            inputs: [{ name: 'x', tensorIndex: 0 }],
            outputs: [{ name: 'y', tensorIndex: 3 }],
          },
        ],
      }),
    );
    assert.deepEqual(parseTfliteBytes(bytes).signatureDefs, [
      {
        key: 'serving_default',
        subgraphIndex: 0,
        inputs: [{ name: 'x', tensorIndex: 0 }],
        outputs: [{ name: 'y', tensorIndex: 3 }],
      },
    ]);
  });

  test('tables: every TensorType named with its width; operator names complete to 209', () => {
    assert.deepEqual(
      [0, 1, 9, 17, 18, 19, 5, 42].map((t) => [tensorTypeName(t), tensorTypeBits(t)]),
      [
        ['FLOAT32', 32],
        ['FLOAT16', 16],
        ['INT8', 8],
        ['INT4', 4],
        ['BFLOAT16', 16],
        ['INT2', 2],
        ['STRING', undefined],
        ['UNKNOWN_42', undefined],
      ],
    );
    assert.equal(BUILTIN_OPERATOR_NAMES.length, 210);
    assert.equal(new Set(BUILTIN_OPERATOR_NAMES).size, 210, 'no duplicate names');
    assert.equal(builtinOperatorName(BATCH_MATMUL), 'BATCH_MATMUL');
    assert.equal(builtinOperatorName(209), 'STABLEHLO_CASE');
    assert.equal(builtinOperatorName(210), 'UNKNOWN_210');
  });
});
