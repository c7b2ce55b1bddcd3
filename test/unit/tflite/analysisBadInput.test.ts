/**
 * Files the TFLite reader accepts but whose content makes no sense to the analysis after it, one
 * case per kind of crash the pipeline fuzz (analysisFuzz.test.ts) found: each must give a report
 * with a diagnostic, or one line naming what is wrong (ModelLoadError / GraphError, CLI exit 2),
 * never a TypeError or RangeError.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded, type AnalysisReport } from '../../../src/core/analyze';
import { BUILTIN_DEVICES } from '../../../src/core/devices';
import { findDevice } from '../../../src/core/devices/userProfiles';
import { GraphError } from '../../../src/core/graph/graph';
import { parseAnyModelBytes } from '../../../src/core/modelFile';
import { ModelLoadError, type LoadedModel } from '../../../src/core/onnx/load';
import { printModelView } from '../../../src/core/text/modelView';
import { buildTflite, type ModelSpec, type OptionsSpec } from '../../helpers/tfliteBuilder';

const DEVICE = findDevice('nrf52840', BUILTIN_DEVICES);

function load(bytes: Uint8Array): LoadedModel {
  return parseAnyModelBytes(bytes, undefined, 'bad.tflite');
}

/** Analyses without and with a device and prints the text view; returns the plain report. */
function analyseAll(bytes: Uint8Array): AnalysisReport {
  const loaded = load(bytes);
  const report = analyzeLoaded(loaded);
  analyzeLoaded(loaded, { device: DEVICE });
  printModelView(loaded);
  return report;
}

/** The one-line refusal a user sees for `bytes`, from any stage. */
function refusal(bytes: Uint8Array): Error {
  try {
    analyseAll(bytes);
  } catch (e) {
    assert.ok(e instanceof ModelLoadError || e instanceof GraphError, `known error: ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    return e;
  }
  assert.fail('expected the file to be refused');
}

/** One subgraph: tensors, operators by builtin code, edges; buffers after the sentinel. */
function model(spec: Omit<ModelSpec['subgraphs'][number], 'name'> & Partial<ModelSpec>): ModelSpec {
  const { tensors, inputs, outputs, operators, ...rest } = spec;
  return {
    operatorCodes: [],
    ...rest,
    subgraphs: [{ name: 'main', tensors, inputs, outputs, operators }],
  };
}

describe('TFLite analysis of files the reader accepts but the analysis cannot use', () => {
  test('a variable tensor without data whose size is negative or absurd is one line, quickly', () => {
    for (const shape of [
      [-1, 4],
      [1 << 30, 8],
      // 256 MiB of float32 zeros: made and summarised, it took seconds.
      [1 << 16, 16, 64],
    ]) {
      const started = performance.now();
      const e = refusal(
        buildTflite(
          model({
            tensors: [
              { name: 'x', shape: [1, 4], type: 0 },
              { name: 'state', shape, type: 0, isVariable: true },
            ],
            inputs: [0],
            outputs: [0],
            operators: [],
          }),
        ),
      );
      assert.match(e.message, /variable tensor 'state'/);
      assert.ok(performance.now() - started < 500);
    }
  });

  test("a line break in a name or the runtime version stays out of the refusal and the view's preamble", () => {
    const spec = (bytes: number): ModelSpec =>
      model({
        tensors: [
          { name: 'in\nput', shape: [1, 4], type: 0 },
          { name: 'we\r\night', shape: [4], type: 0, buffer: 1 },
          { name: 'out', shape: [1, 4], type: 0 },
        ],
        operatorCodes: [{ builtinCode: 0 }],
        inputs: [0],
        outputs: [2],
        operators: [{ opcodeIndex: 0, inputs: [0, 1], outputs: [2] }],
        buffers: [{ data: new Uint8Array(bytes) }, { data: new TextEncoder().encode('2.\n1\0') }],
        metadata: [{ name: 'min_runtime_version', buffer: 2 }],
      });
    assert.match(refusal(buildTflite(spec(15))).message, /tensor 'we ight' \[4\] needs 16 bytes/);
    const lines = printModelView(load(buildTflite(spec(16)))).text.split('\n');
    assert.equal(
      lines[0],
      '# TensorFlow Lite model (schema 3, min runtime 2. 1): one line per operator of subgraph 0, in execution order',
    );
  });

  test('a WHILE whose options are another table, or hold a field too narrow, names no subgraph', () => {
    const body = {
      name: 'body',
      tensors: [{ name: 'b', shape: [1], type: 0 }],
      inputs: [0],
      outputs: [0],
      operators: [],
    };
    const spec = (options: OptionsSpec): ModelSpec => ({
      operatorCodes: [{ builtinCode: 119 }],
      subgraphs: [
        {
          name: 'main',
          tensors: [
            { name: 'x', shape: [1], type: 0 },
            { name: 'y', shape: [1], type: 0 },
          ],
          inputs: [0],
          outputs: [1],
          operators: [{ opcodeIndex: 0, inputs: [0], outputs: [1], options }],
        },
        body,
      ],
    });
    const cases: [OptionsSpec, RegExp][] = [
      // SparseToDenseOptions (member 50) where WhileOptions (93) belong.
      [{ type: 50, fields: [{ id: 0, int32: 1 }] }, /has SparseToDenseOptions, not WhileOptions/],
      // WhileOptions with cond_subgraph_index written as one byte: the int32 would read past it.
      [{ type: 93, fields: [{ id: 0, int8: 1 }] }, /unreadable WhileOptions/],
    ];
    for (const [options, message] of cases) {
      const report = analyseAll(buildTflite(spec(options)));
      assert.ok(
        report.diagnostics.some((d) => message.test(d.message)),
        report.diagnostics.map((d) => d.message).join('\n'),
      );
    }
  });

  test('an operator reading the same unwritten tensor twice is analysed, the tensor planned once', () => {
    // t is no graph input and nothing writes it: the translation makes it its reader's scratch.
    const report = analyseAll(
      buildTflite(
        model({
          operatorCodes: [{ builtinCode: 0 }],
          tensors: [
            { name: 'x', shape: [1, 4], type: 0 },
            { name: 't', shape: [1, 4], type: 0 },
            { name: 'y', shape: [1, 4], type: 0 },
          ],
          inputs: [0],
          outputs: [2],
          operators: [{ opcodeIndex: 0, inputs: [1, 1], outputs: [2] }],
        }),
      ),
    );
    assert.deepEqual(
      report.nodes[0].outputs.map((o) => o.name),
      ['y', 't'],
    );
    assert.equal(report.totals.flops, 4);
  });

  test('an operator whose shapes do not fit its kernel has unknown MACs and says why, never NaN or < 0', () => {
    const f32 = (name: string, shape: number[], buffer = 0) => ({ name, shape, type: 0, buffer });
    const pool = (h: number, w: number): OptionsSpec => ({
      type: 5,
      fields: [
        { id: 3, int32: w },
        { id: 4, int32: h },
      ],
    });
    const cases: {
      code: number;
      tensors: ReturnType<typeof f32>[];
      inputs: number[];
      options?: OptionsSpec;
      why: RegExp;
    }[] = [
      {
        // CONV_2D with a 1-D filter.
        code: 3,
        tensors: [f32('x', [1, 4, 4, 2]), f32('w', [16], 1), f32('y', [1, 4, 4, 2])],
        inputs: [0, 1],
        why: /CONV_2D: its filter has rank 1, not \[Cout, kH, kW, Cin\]/,
      },
      {
        // FULLY_CONNECTED with no weights input at all.
        code: 9,
        tensors: [f32('x', [1, 8]), f32('y', [1, 2])],
        inputs: [0],
        why: /FULLY_CONNECTED: its weights \(\[units, depth\]\) is missing/,
      },
      {
        // UNIDIRECTIONAL_SEQUENCE_LSTM with a 1-D input_to_forget_weights.
        code: 44,
        tensors: [f32('x', [1, 3, 4]), f32('w', [16], 1), f32('y', [1, 3, 2])],
        inputs: [0, -1, 1, -1, -1, -1, 1],
        why: /input_to_forget_weights has rank 1/,
      },
      {
        // SVDF with a 3-D input.
        code: 27,
        tensors: [f32('x', [1, 3, 4]), f32('w', [4, 4], 1), f32('y', [1, 2])],
        inputs: [0, 1, 1],
        why: /SVDF: its input has rank 3, not \[batch, input\]/,
      },
      {
        // MAX_POOL_2D with a negative window (its output shape is the declared one).
        code: 17,
        tensors: [f32('x', [1, 4, 4, 2]), f32('y', [1, 4, 4, 2])],
        inputs: [0],
        options: pool(-3, 2),
        why: /MAX_POOL_2D: its window -3×2 is empty/,
      },
      {
        code: 1,
        tensors: [f32('x', [1, 4, 4, 2]), f32('y', [1, 4, 4, 2])],
        inputs: [0],
        options: pool(0, 0),
        why: /AVERAGE_POOL_2D: its window 0×0 is empty/,
      },
    ];
    for (const c of cases) {
      const out = c.tensors.length - 1;
      const report = analyseAll(
        buildTflite(
          model({
            operatorCodes: [{ builtinCode: c.code }],
            tensors: c.tensors,
            inputs: [0],
            outputs: [out],
            operators: [{ opcodeIndex: 0, inputs: c.inputs, outputs: [out], options: c.options }],
            buffers: [{ data: new Uint8Array(64) }],
          }),
        ),
      );
      const node = report.nodes[0];
      assert.match(node.macsUnknown ?? '', c.why, `${c.code}: ${node.macsUnknown}`);
      assert.match(node.macsUnknown ?? '', /so its MACs are unknown$/);
      assert.equal(node.macs, 0);
      assert.equal(node.flops, 0);
      assert.deepEqual(report.totals.uncountedNodes, [node.name]);
      if (c.code === 3) {
        // The shape rule names the filter's layout, not the input's.
        const shapes = report.diagnostics.filter((d) => d.source === 'shapes');
        assert.match(
          shapes[0]?.message ?? '',
          /filter has rank 1, expected 4 \(OHWI: Cout, kH, kW, Cin\)/,
        );
      }
    }
  });

  describe('odd inputs that never crashed, kept as cases', () => {
    const conv = (extra: Partial<ModelSpec> & { w?: object; y?: object }): ModelSpec =>
      model({
        operatorCodes: [{ builtinCode: 3 }],
        tensors: [
          { name: 'x', shape: [1, 4, 4, 2], type: 0 },
          { name: 'w', shape: [3, 1, 1, 2], type: 9, buffer: 1, ...extra.w },
          { name: 'y', shape: [1, 4, 4, 3], type: 0, ...extra.y },
        ],
        inputs: [0],
        outputs: [2],
        operators: [{ opcodeIndex: 0, inputs: [0, 1], outputs: [2] }],
        buffers: [{ data: new Uint8Array([1, 2, 3, 4, 5, 6]) }, ...(extra.buffers ?? [])],
        ...(extra.metadata && { metadata: extra.metadata }),
      });

    test('a per-channel quantization with fewer scales than channels', () => {
      const report = analyseAll(
        buildTflite(
          conv({
            w: { quantization: { scale: [0.5, 0.25], zeroPoint: [0, 0], quantizedDimension: 0 } },
          }),
        ),
      );
      assert.equal(report.nodes[0].macs, 4 * 4 * 3 * 2);
    });

    test('an offline plan with odd, negative and huge offsets', () => {
      const plan = new Int32Array([1, 0, 3, 0x7fffffff, -1, -7]);
      const report = analyseAll(
        buildTflite(
          conv({
            buffers: [{ data: new Uint8Array(plan.buffer) }],
            metadata: [{ name: 'OfflineMemoryAllocation', buffer: 2 }],
          }),
        ),
      );
      assert.equal(report.totals.peakActivationBytes, 0x7fffffff + 128);
      assert.ok(report.diagnostics.some((d) => /offset -7; planned online/.test(d.message)));
    });

    test('a zero-size activation', () => {
      const report = analyseAll(buildTflite(conv({ y: { shape: [1, 0, 4, 3] } })));
      assert.equal(report.nodes[0].activationBytes >= 0, true);
    });

    test('operators in a cyclic order are one line (GraphError)', () => {
      const e = refusal(
        buildTflite(
          model({
            operatorCodes: [{ builtinCode: 0 }],
            tensors: [
              { name: 'x', shape: [1, 4], type: 0 },
              { name: 'a', shape: [1, 4], type: 0 },
              { name: 'b', shape: [1, 4], type: 0 },
            ],
            inputs: [0],
            outputs: [2],
            operators: [
              { opcodeIndex: 0, inputs: [0, 2], outputs: [1] },
              { opcodeIndex: 0, inputs: [1, 1], outputs: [2] },
            ],
          }),
        ),
      );
      assert.ok(e instanceof GraphError);
      assert.match(e.message, /cycle/);
    });
  });
});
