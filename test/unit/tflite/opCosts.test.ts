/**
 * Exact MACs, FLOPs and params of one TFLite operator at a time, on tiny files built here with
 * the flatbuffers Builder. Every expected figure is worked out by hand below from the layout TFLite
 * Micro's kernel indexes (tensorflow/lite/kernels/internal/reference/*.h, called by
 * tensorflow/lite/micro/kernels/*.cc) and the counting conventions every ONNX op follows
 * (cost/opCosts.ts): MACs = output elements × products per output; FLOPs = 2 × MACs + bias adds
 * + the per-element FLOPs of the non-linear parts (Relu 1, Clip 2, Tanh 1); pools are counted as
 * ONNX's are, one FLOP per window element per output.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeBytes, analyzeLoaded, type AnalysisReport } from '../../../src/core/analyze';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';
import {
  BUILTIN,
  RELU,
  RELU6,
  SAME,
  TANH,
  TfliteNetwork,
  VALID,
  batchMatMul,
  conv2dWith,
  conv3d,
  depthwise,
  fullyConnected,
  pool2d,
  sequenceLstm,
  sequenceRnn,
  svdf,
  transposeConv,
} from '../../helpers/tfliteNetwork';

/** The report of a network whose last op is the one under test; its shapes must agree. */
function analyse(n: TfliteNetwork, output: number): AnalysisReport {
  const report = analyzeBytes(n.build([output]));
  const shapeProblems = report.diagnostics.filter((d) => d.source === 'shapes');
  assert.deepEqual(
    shapeProblems.map((d) => d.message),
    [],
    'the declared shapes agree with the shape rules',
  );
  return report;
}

/** The figures of the op that writes `output` (the last node). */
function figures(report: AnalysisReport) {
  const node = report.nodes[report.nodes.length - 1];
  assert.equal(node.macsUnknown, undefined, node.macsUnknown);
  return { macs: node.macs, flops: node.flops, params: node.params };
}

describe('per-op MACs of built TFLite files, by hand from the TFLM kernel layouts', () => {
  describe('CONV_2D: filter [Cout, kH, kW, Cin] (OHWI); MACs = outputs × kH·kW·Cin', () => {
    const conv = (
      input: number[],
      filter: number[],
      output: number[],
      options: Parameters<typeof conv2dWith>[0],
    ) => {
      const n = new TfliteNetwork();
      const x = n.input('x', input);
      const w = n.floatWeight('w', filter);
      const b = n.floatWeight('b', [filter[0]]);
      return analyse(n, n.op(BUILTIN.CONV_2D, [x, w, b], output, conv2dWith(options)));
    };

    test('stride 2, SAME: 9×9 → ceil(9/2) = 5', () => {
      const r = conv([1, 9, 9, 3], [8, 3, 3, 3], [1, 5, 5, 8], { strideH: 2, strideW: 2 });
      // 5·5·8 outputs × 3·3·3 products; one bias add per output.
      const macs = 5 * 5 * 8 * (3 * 3 * 3);
      assert.equal(macs, 5400);
      assert.deepEqual(figures(r), {
        macs,
        flops: 2 * macs + 5 * 5 * 8,
        params: 8 * 3 * 3 * 3 + 8,
      });
    });

    test('stride 2, VALID: 9×9, 3×3 → floor((9 − 3) / 2) + 1 = 4', () => {
      const r = conv([1, 9, 9, 3], [8, 3, 3, 3], [1, 4, 4, 8], {
        strideH: 2,
        strideW: 2,
        padding: VALID,
      });
      assert.equal(figures(r).macs, 4 * 4 * 8 * 27);
    });

    test('stride 2 down, 1 across: 9×9 → 5×9', () => {
      const r = conv([1, 9, 9, 3], [8, 3, 3, 3], [1, 5, 9, 8], { strideH: 2, strideW: 1 });
      assert.equal(figures(r).macs, 5 * 9 * 8 * 27);
    });

    test('dilation 2: the window spans 5 pixels, the products stay 3·3·Cin', () => {
      // SAME keeps 8×8; VALID gives 8 − 5 + 1 = 4.
      const same = conv([1, 8, 8, 2], [4, 3, 3, 2], [1, 8, 8, 4], { dilationH: 2, dilationW: 2 });
      assert.equal(figures(same).macs, 8 * 8 * 4 * (3 * 3 * 2));
      const valid = conv([1, 8, 8, 2], [4, 3, 3, 2], [1, 4, 4, 4], {
        dilationH: 2,
        dilationW: 2,
        padding: VALID,
      });
      assert.equal(figures(valid).macs, 4 * 4 * 4 * 18);
    });

    test('a fused ReLU adds one FLOP per output, ReLU6 two (a clip), as ONNX Relu/Clip', () => {
      const outputs = 8 * 8 * 4;
      const macs = outputs * 18;
      const relu = conv([1, 8, 8, 2], [4, 3, 3, 2], [1, 8, 8, 4], { activation: RELU });
      assert.equal(figures(relu).flops, 2 * macs + outputs + outputs);
      const relu6 = conv([1, 8, 8, 2], [4, 3, 3, 2], [1, 8, 8, 4], { activation: RELU6 });
      assert.equal(figures(relu6).flops, 2 * macs + outputs + 2 * outputs);
    });
  });

  test('DEPTHWISE_CONV_2D, depth_multiplier 2: filter [1, kH, kW, Cin·2]; kH·kW per output', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 6, 6, 3]);
    const w = n.floatWeight('w', [1, 3, 3, 6]);
    const b = n.floatWeight('b', [6]);
    const y = n.op(BUILTIN.DEPTHWISE_CONV_2D, [x, w, b], [1, 6, 6, 6], depthwise(1, 2));
    // Each of the 6·6·6 outputs reads one input channel through a 3×3 window.
    const outputs = 6 * 6 * 6;
    assert.deepEqual(figures(analyse(n, y)), {
      macs: outputs * 9,
      flops: 2 * outputs * 9 + outputs,
      params: 9 * 6 + 6,
    });
  });

  describe('FULLY_CONNECTED: weights [units, depth]; MACs = outputs × depth', () => {
    test('batch 5: [5, 10] × [4, 10]ᵀ', () => {
      const n = new TfliteNetwork();
      const x = n.input('x', [5, 10]);
      const y = n.op(
        BUILTIN.FULLY_CONNECTED,
        [x, n.floatWeight('w', [4, 10]), n.floatWeight('b', [4])],
        [5, 4],
        fullyConnected(),
      );
      assert.deepEqual(figures(analyse(n, y)), {
        macs: 5 * 4 * 10,
        flops: 2 * 200 + 5 * 4,
        params: 44,
      });
    });

    test('keep_num_dims: [2, 3, 10] → [2, 3, 4], the same 6 rows as flattened to [6, 4]', () => {
      for (const [keep, output] of [
        [true, [2, 3, 4]],
        [false, [6, 4]],
      ] as const) {
        const n = new TfliteNetwork();
        const x = n.input('x', [2, 3, 10]);
        const y = n.op(
          BUILTIN.FULLY_CONNECTED,
          [x, n.floatWeight('w', [4, 10])],
          [...output],
          fullyConnected(0, keep),
        );
        const r = analyse(n, y);
        assert.deepEqual(r.nodes[0].outputs[0].shape, [...output]);
        // No bias: 2 FLOPs per MAC only.
        assert.deepEqual(figures(r), { macs: 6 * 4 * 10, flops: 480, params: 40 });
      }
    });

    test('a fused TANH adds one FLOP per output', () => {
      const n = new TfliteNetwork();
      const x = n.input('x', [3, 8]);
      const y = n.op(
        BUILTIN.FULLY_CONNECTED,
        [x, n.floatWeight('w', [2, 8])],
        [3, 2],
        fullyConnected(TANH),
      );
      assert.equal(figures(analyse(n, y)).flops, 2 * (3 * 2 * 8) + 3 * 2);
    });
  });

  test('TRANSPOSE_CONV: (output_shape, filter [Cout, kH, kW, Cin], input, bias); inputs × Cout·kH·kW', () => {
    const n = new TfliteNetwork();
    const shape = n.int32Constant('output_shape', [1, 8, 8, 4]);
    const w = n.floatWeight('w', [4, 3, 3, 2]);
    const x = n.input('x', [1, 4, 4, 2]);
    const b = n.floatWeight('b', [4]);
    const y = n.op(BUILTIN.TRANSPOSE_CONV, [shape, w, x, b], [1, 8, 8, 4], transposeConv(2, SAME));
    // Each of the 4·4·2 input values is scattered through a 3×3 window into 4 channels; the
    // bias is added to each of the 8·8·4 outputs. The output_shape operand is no weight.
    const macs = 4 * 4 * 2 * (4 * 3 * 3);
    assert.equal(macs, 1152);
    assert.deepEqual(figures(analyse(n, y)), {
      macs,
      flops: 2 * macs + 8 * 8 * 4,
      params: 4 * 3 * 3 * 2 + 4,
    });
  });

  describe('BATCH_MATMUL: lhs [..., rows, depth] ([..., depth, rows] with adj_x); outputs × depth', () => {
    const matmul = (
      lhs: number[],
      rhs: number[],
      output: number[],
      adjX = false,
      adjY = false,
    ): ReturnType<typeof figures> => {
      const n = new TfliteNetwork();
      const a = n.input('a', lhs);
      const y = n.op(
        BUILTIN.BATCH_MATMUL,
        [a, n.floatWeight('b', rhs)],
        output,
        batchMatMul(adjX, adjY),
      );
      return figures(analyse(n, y));
    };

    test('[2, 3, 4] × [4, 5] → [2, 3, 5]: 30 outputs × depth 4', () => {
      assert.deepEqual(matmul([2, 3, 4], [4, 5], [2, 3, 5]), {
        macs: 120,
        flops: 240,
        params: 20,
      });
    });

    test('adj_x: lhs [2, 4, 3] holds depth 4 before the rows; adj_y: rhs [5, 4]', () => {
      assert.equal(matmul([2, 4, 3], [4, 5], [2, 3, 5], true).macs, 120);
      assert.equal(matmul([2, 3, 4], [5, 4], [2, 3, 5], false, true).macs, 120);
      assert.equal(matmul([2, 4, 3], [5, 4], [2, 3, 5], true, true).macs, 120);
    });

    test('broadcast batch: [2, 1, 3, 4] × [1, 6, 4, 5] → [2, 6, 3, 5]', () => {
      // 2·6 matrix products of 3×4 by 4×5.
      assert.equal(matmul([2, 1, 3, 4], [1, 6, 4, 5], [2, 6, 3, 5]).macs, 2 * 6 * 3 * 5 * 4);
    });
  });

  test('CONV_3D: filter [kD, kH, kW, Cin, Cout] (DHWIO); outputs × kD·kH·kW·Cin', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 4, 6, 6, 2]);
    const w = n.floatWeight('w', [3, 3, 3, 2, 5]);
    const b = n.floatWeight('b', [5]);
    // VALID: 4 − 3 + 1 = 2 deep, 6 − 3 + 1 = 4 high and wide.
    const y = n.op(BUILTIN.CONV_3D, [x, w, b], [1, 2, 4, 4, 5], conv3d(1, VALID));
    const outputs = 2 * 4 * 4 * 5;
    const macs = outputs * (3 * 3 * 3 * 2);
    assert.equal(macs, 8640);
    assert.deepEqual(figures(analyse(n, y)), {
      macs,
      flops: 2 * macs + outputs,
      params: 27 * 2 * 5 + 5,
    });
  });

  describe('UNIDIRECTIONAL_SEQUENCE_LSTM (lstm_shared.h inputs): per step and row, gates × cell × (input + output) + projection', () => {
    /** batch 2, 3 steps, 5 inputs, cell 4; `projection` outputs, CIFG drops the input gate. */
    function lstm(o: { projection?: number; cifg?: boolean; timeMajor?: boolean }) {
      const [batch, steps, input, cell] = [2, 3, 5, 4];
      const output = o.projection ?? cell;
      const n = new TfliteNetwork();
      const x = n.input('x', o.timeMajor ? [steps, batch, input] : [batch, steps, input]);
      const gate = (g: string) => n.floatWeight(`input_to_${g}`, [cell, input]);
      const recurrent = (g: string) => n.floatWeight(`recurrent_to_${g}`, [cell, output]);
      const bias = (g: string) => n.floatWeight(`${g}_bias`, [cell]);
      const absent = -1;
      const inputs = [
        x,
        o.cifg ? absent : gate('input'),
        gate('forget'),
        gate('cell'),
        gate('output'),
        o.cifg ? absent : recurrent('input'),
        recurrent('forget'),
        recurrent('cell'),
        recurrent('output'),
        absent, // 9–11: no peepholes
        absent,
        absent,
        o.cifg ? absent : bias('input'),
        bias('forget'),
        bias('cell'),
        bias('output'),
        o.projection ? n.floatWeight('projection', [output, cell]) : absent,
        absent, // 17: no projection bias
        n.variable('output_state', [batch, output]),
        n.variable('cell_state', [batch, cell]),
      ];
      const y = n.op(
        BUILTIN.UNIDIRECTIONAL_SEQUENCE_LSTM,
        inputs,
        o.timeMajor ? [steps, batch, output] : [batch, steps, output],
        sequenceLstm(o.timeMajor ?? false),
      );
      return figures(analyse(n, y));
    }

    test('4 gates, no projection: 3 steps × 2 rows × 4·4·(5 + 4)', () => {
      const macs = 3 * 2 * (4 * 4 * (5 + 4));
      assert.equal(macs, 864);
      const gates = 4;
      assert.deepEqual(lstm({}), {
        macs,
        // Gate non-linearities and the cell update, 4 per gate unit per step, as ONNX LSTM's;
        // the fused TANH is the cell's own activation, inside those.
        flops: 2 * macs + gates * 4 * 4 * 3 * 2,
        // Weights 4·(4·5) + 4·(4·4) and biases 4·4; the two states are no params.
        params: 4 * 20 + 4 * 16 + 4 * 4,
      });
      assert.equal(lstm({ timeMajor: true }).macs, macs);
    });

    test('projection to 3 outputs: recurrent weights [4, 3], and 3·4 more per step and row', () => {
      const macs = 3 * 2 * (4 * 4 * (5 + 3) + 3 * 4);
      assert.equal(macs, 840);
      const r = lstm({ projection: 3 });
      assert.equal(r.macs, macs);
      assert.equal(r.params, 4 * 20 + 4 * 12 + 4 * 4 + 3 * 4);
    });

    test('CIFG (no input gate): 3 gates', () => {
      const macs = 3 * 2 * (3 * 4 * (5 + 4));
      assert.equal(macs, 648);
      const r = lstm({ cifg: true });
      assert.equal(r.macs, macs);
      assert.equal(r.flops, 2 * macs + 3 * 4 * 4 * 3 * 2);
      assert.equal(r.params, 3 * 20 + 3 * 16 + 3 * 4);
    });

    test('the same cell as an ONNX LSTM: equal MACs and FLOPs', () => {
      const b = new ModelBuilder();
      const x = b.input('x', DataType.FLOAT, [3, 2, 5]);
      const [, y] = b.node(
        'LSTM',
        [x, b.weight('W', [1, 16, 5]), b.weight('R', [1, 16, 4])],
        { hidden_size: 4 },
        { outputs: ['', 'y_h'] },
      );
      b.output(y);
      const onnx = analyzeLoaded(b.load());
      assert.deepEqual(
        [onnx.totals.macs, onnx.totals.flops],
        [lstm({ timeMajor: true }).macs, lstm({ timeMajor: true }).flops],
      );
    });
  });

  test('UNIDIRECTIONAL_SEQUENCE_RNN: (input, weights [units, input], recurrent [units, units], bias, state)', () => {
    const [batch, steps, input, units] = [2, 4, 3, 5];
    const n = new TfliteNetwork();
    const x = n.input('x', [batch, steps, input]);
    const y = n.op(
      BUILTIN.UNIDIRECTIONAL_SEQUENCE_RNN,
      [
        x,
        n.floatWeight('w', [units, input]),
        n.floatWeight('r', [units, units]),
        n.floatWeight('b', [units]),
        n.variable('hidden', [batch, units]),
      ],
      [batch, steps, units],
      sequenceRnn(),
    );
    // Per step and row: 5·(3 + 5) products; the activation inside the one-gate budget of 4.
    const macs = steps * batch * units * (input + units);
    assert.equal(macs, 320);
    assert.deepEqual(figures(analyse(n, y)), {
      macs,
      flops: 2 * macs + 4 * units * steps * batch,
      params: 15 + 25 + 5,
    });
  });

  test('SVDF rank 2: weights_feature [units·rank, input], weights_time [units·rank, memory]', () => {
    const [batch, input, units, rank, memory] = [2, 6, 3, 2, 4];
    const filters = units * rank;
    const n = new TfliteNetwork();
    const x = n.input('x', [batch, input]);
    const y = n.op(
      BUILTIN.SVDF,
      [
        x,
        n.floatWeight('feature', [filters, input]),
        n.floatWeight('time', [filters, memory]),
        n.floatWeight('bias', [units]),
        n.variable('state', [batch, memory * filters]),
      ],
      [batch, units],
      svdf(rank, RELU),
    );
    // Per row, each filter: a dot product with the input (6) and one with its memory (4).
    const macs = batch * filters * (input + memory);
    assert.equal(macs, 120);
    assert.deepEqual(figures(analyse(n, y)), {
      macs,
      // The rank sum (one add per filter), the bias and the ReLU per output.
      flops: 2 * macs + batch * filters + batch * units + batch * units,
      params: filters * input + filters * memory + units,
    });
  });

  describe('pools: one FLOP per window element per output, as ONNX MaxPool/AveragePool', () => {
    test('AVERAGE_POOL_2D 3×3, stride 2, SAME: 8×8 → 4×4, the same FLOPs as ONNX AveragePool', () => {
      const n = new TfliteNetwork();
      const x = n.input('x', [1, 8, 8, 3]);
      const y = n.op(BUILTIN.AVERAGE_POOL_2D, [x], [1, 4, 4, 3], pool2d(3, 3, 2, SAME));
      const tflite = figures(analyse(n, y));
      assert.deepEqual(tflite, { macs: 0, flops: 4 * 4 * 3 * 9, params: 0 });

      const b = new ModelBuilder();
      const ox = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
      const [oy] = b.node('AveragePool', [ox], {
        kernel_shape: [3, 3],
        strides: [2, 2],
        auto_pad: 'SAME_UPPER',
      });
      b.output(oy);
      assert.equal(analyzeLoaded(b.load()).totals.flops, tflite.flops);
    });

    test('MAX_POOL_2D 2×2, stride 2, VALID, with a fused ReLU6 (a clip: 2 per output)', () => {
      const n = new TfliteNetwork();
      const x = n.input('x', [1, 8, 8, 3]);
      const y = n.op(BUILTIN.MAX_POOL_2D, [x], [1, 4, 4, 3], pool2d(2, 2, 2, VALID, RELU6));
      assert.deepEqual(figures(analyse(n, y)), {
        macs: 0,
        flops: 4 * 4 * 3 * 4 + 4 * 4 * 3 * 2,
        params: 0,
      });
    });
  });
});
