import { test } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import { subgraph } from '../../helpers/modelBuilder';
import { ModelBuilder, assertError, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;

test('activations keep X; PRelu’s slope must broadcast to X', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, ['N', 16, 8, 8]);
  const ops = ['Relu', 'Sigmoid', 'Tanh', 'HardSwish', 'Softplus', 'Elu', 'Mish', 'Celu'];
  const outs = ops.map((op) => b.node(op, [x])[0]);
  const [p] = b.node('PRelu', [x, b.weight('slope', [16, 1, 1])]);
  const r = infer(b);
  for (const o of [...outs, p]) assertType(r, o, F, ['N', 16, 8, 8]);
  const e = new ModelBuilder();
  e.node('PRelu', [e.input('x', F, [1, 16, 8, 8]), e.weight('slope', [4])]);
  assertError(infer(e), /slope \[4\] does not broadcast to \[1, 16, 8, 8\]/);
});

test('Clip: min/max inputs (opset 11+) must be scalars', () => {
  const b = new ModelBuilder();
  const lo = b.initializer('lo', F, [], [0]);
  const [y] = b.node('Clip', [b.input('x', F, ['N', 4]), lo, b.initializer('hi', F, [], [6])]);
  assertType(infer(b), y, F, ['N', 4]);
  const e = new ModelBuilder();
  e.node('Clip', [e.input('x', F, ['N', 4]), e.weight('lo', [4])]);
  assertError(infer(e), /min must be a scalar, got shape \[4\]/);
});

test('QuantizeLinear: zero point type, else output_dtype, else uint8', () => {
  const b = new ModelBuilder({ opset: 21 });
  const x = b.input('x', F, ['N', 3, 8, 8]);
  const s = b.initializer('s', F, [], [0.1]);
  const [u8] = b.node('QuantizeLinear', [x, s]);
  const [i8] = b.node('QuantizeLinear', [x, s, b.initializer('z', DataType.INT8, [], [0])]);
  const [attr] = b.node('QuantizeLinear', [x, s], { output_dtype: DataType.UINT16 });
  const r = infer(b);
  assertType(r, u8, DataType.UINT8, ['N', 3, 8, 8]);
  assertType(r, i8, DataType.INT8, ['N', 3, 8, 8]);
  assertType(r, attr, DataType.UINT16, ['N', 3, 8, 8]);
});

test('QuantizeLinear: a per-axis scale must match the axis length', () => {
  const b = new ModelBuilder({ opset: 13 });
  b.node('QuantizeLinear', [b.input('x', F, [1, 3, 8, 8]), b.weight('s', [4])]);
  assertError(infer(b), /per-axis scale length vs input dim 1: 4 vs 3/);
});

test('DequantizeLinear takes the scale’s type; DynamicQuantizeLinear gives scalar scale and zero point', () => {
  const b = new ModelBuilder({ opset: 19 });
  const q = b.input('q', DataType.INT8, ['N', 16]);
  const [f16] = b.node('DequantizeLinear', [q, b.initializer('s', DataType.FLOAT16, [16])], {
    axis: 1,
  });
  const [y, ys, yz] = b.node(
    'DynamicQuantizeLinear',
    [b.input('x', F, ['N', 16])],
    {},
    { outputs: 3 },
  );
  const r = infer(b);
  assertType(r, f16, DataType.FLOAT16, ['N', 16]);
  assertType(r, y, DataType.UINT8, ['N', 16]);
  assertType(r, ys, F, []);
  assertType(r, yz, DataType.UINT8, []);
});

test('DFT opset 17 (axis attribute) and opset 20 (axis input), onesided halves the axis', () => {
  const b17 = new ModelBuilder({ opset: 17 });
  const [y17] = b17.node('DFT', [b17.input('x', F, ['B', 400, 1])], { onesided: 1 });
  assertType(infer(b17), y17, F, ['B', 201, 2]);
  const b20 = new ModelBuilder({ opset: 20 });
  const x = b20.input('x', F, ['B', 64, 10, 2]);
  const [full] = b20.node('DFT', [x, b20.ints('n', [128], [])]);
  const [ax] = b20.node('DFT', [x, '', b20.ints('axis', [1], [])], { inverse: 1 });
  const r = infer(b20);
  assertType(r, full, F, ['B', 64, 128, 2]);
  assertType(r, ax, F, ['B', 64, 10, 2]);
});

test('DFT IRFFT (onesided inverse) returns a real signal of length 2·(n−1), opset 17 and 20', () => {
  const b = new ModelBuilder({ opset: 20 });
  const [y] = b.node('DFT', [b.input('x', F, [1, 33, 2])], { onesided: 1, inverse: 1 });
  assertType(infer(b), y, F, [1, 64, 1]);
  // DFT-17 documents IRFFT the same way (ONNX's test_dft_irfft_opset19).
  const b17 = new ModelBuilder({ opset: 19 });
  const x = b17.input('x', F, [1, 6, 10, 2]);
  const [y17] = b17.node('DFT', [x], { onesided: 1, inverse: 1, axis: 1 });
  assertType(infer(b17), y17, F, [1, 10, 10, 1]);
});

test('STFT: frames from step and window; onesided bins', () => {
  const b = new ModelBuilder({ opset: 17 });
  const [y] = b.node('STFT', [
    b.input('sig', F, [2, 16000, 1]),
    b.ints('step', [160], []),
    b.weight('win', [400]),
  ]);
  // frames = (16000 − 400) / 160 + 1 = 98; bins = 400 / 2 + 1 = 201
  assertType(infer(b), y, F, [2, 98, 201, 2]);
});

test('window ops read a constant size, else name it; MelWeightMatrix', () => {
  const b = new ModelBuilder({ opset: 17 });
  const [hann] = b.node('HannWindow', [b.ints('n', [400], [])]);
  const [ham] = b.node(
    'HammingWindow',
    [b.input('size', DataType.INT64, [])],
    { output_datatype: DataType.DOUBLE },
    { name: 'hw' },
  );
  const [mel] = b.node('MelWeightMatrix', [
    b.ints('bins', [80], []),
    b.ints('dft', [400], []),
    b.ints('sr', [16000], []),
    b.weight('lo', []),
    b.weight('hi', []),
  ]);
  const r = infer(b);
  assertType(r, hann, F, [400]);
  assertType(r, ham, DataType.DOUBLE, ['hw_size']);
  assertType(r, mel, F, [201, 80]);
});

test('GridSample and AffineGrid', () => {
  const b = new ModelBuilder({ opset: 20 });
  const [gs] = b.node('GridSample', [
    b.input('x', F, ['N', 3, 32, 32]),
    b.input('grid', F, ['N', 16, 24, 2]),
  ]);
  const [ag] = b.node('AffineGrid', [
    b.input('theta', F, ['N', 2, 3]),
    b.ints('size', [4, 3, 16, 24]),
  ]);
  const r = infer(b);
  assertType(r, gs, F, ['N', 3, 16, 24]);
  assertType(r, ag, F, [4, 16, 24, 2]);
  const e = new ModelBuilder({ opset: 20 });
  e.node('GridSample', [e.input('x', F, [1, 3, 32, 32]), e.input('grid', F, [1, 16, 24, 3])]);
  assertError(infer(e), /grid last dim vs number of spatial axes: 3 vs 2/);
});

test('losses: scalar by default, per item with reduction none; log_prob like the scores', () => {
  const b = new ModelBuilder({ opset: 13 });
  const scores = b.input('scores', F, ['N', 10, 5]);
  const labels = b.input('labels', DataType.INT64, ['N', 5]);
  const [nll] = b.node('NegativeLogLikelihoodLoss', [scores, labels]);
  const [sce, logp] = b.node(
    'SoftmaxCrossEntropyLoss',
    [scores, labels],
    { reduction: 'none' },
    { outputs: 2 },
  );
  const r = infer(b);
  assertType(r, nll, F, []);
  assertType(r, sce, F, ['N', 5]);
  assertType(r, logp, F, ['N', 10, 5]);
});

test('random ops: shape attribute or input shape; dtype attribute', () => {
  const b = new ModelBuilder();
  const [rn] = b.node('RandomNormal', [], { shape: [2, 3] });
  const [ru] = b.node('RandomUniformLike', [b.input('x', DataType.FLOAT16, ['N', 4])], {
    dtype: DataType.FLOAT,
  });
  const [be] = b.node('Bernoulli', ['x']);
  const [mn] = b.node('Multinomial', [b.input('p', F, ['N', 10])], { sample_size: 5 });
  const [eye] = b.node('EyeLike', [b.input('sq', F, [4, 4])], { dtype: DataType.INT32 });
  const r = infer(b);
  assertType(r, rn, F, [2, 3]);
  assertType(r, ru, F, ['N', 4]);
  assertType(r, be, DataType.FLOAT16, ['N', 4]);
  assertType(r, mn, DataType.INT32, ['N', 5]);
  assertType(r, eye, DataType.INT32, [4, 4]);
});

test('text and image ops', () => {
  const b = new ModelBuilder({ opset: 20 });
  const s = b.input('s', DataType.STRING, ['N']);
  const [img] = b.node(
    'ImageDecoder',
    [b.input('bytes', DataType.UINT8, ['L'])],
    { pixel_format: 'Grayscale' },
    { name: 'dec' },
  );
  const [tf] = b.node('TfIdfVectorizer', [b.input('ids', DataType.INT64, ['B', 'T'])], {
    mode: 'TF',
    min_gram_length: 1,
    max_gram_length: 1,
    max_skip_count: 0,
    ngram_counts: [0],
    ngram_indexes: [0, 1, 2, 3, 4, 5, 6],
    pool_int64s: [1, 2, 3, 4, 5, 6, 7],
  });
  const [norm] = b.node('StringNormalizer', [s], { case_change_action: 'LOWER' });
  const [parts, counts] = b.node('StringSplit', [s], {}, { outputs: 2, name: 'split' });
  const [cat] = b.node('StringConcat', [s, b.input('t', DataType.STRING, [1])]);
  const [match] = b.node('RegexFullMatch', [s], { pattern: 'a.*' });
  const r = infer(b);
  assertType(r, img, DataType.UINT8, ['dec_height', 'dec_width', 1]);
  assertType(r, tf, F, ['B', 7]);
  assertType(r, norm, DataType.STRING, ['N']);
  assertType(r, parts, DataType.STRING, ['N', 'split_max_substrings']);
  assertType(r, counts, DataType.INT64, ['N']);
  assertType(r, cat, DataType.STRING, ['N']);
  assertType(r, match, DataType.BOOL, ['N']);
});

test('training optimizers (ai.onnx.preview.training): each output is shaped as what it updates', () => {
  const T = 'ai.onnx.preview.training';
  const b = new ModelBuilder();
  b.extraOpsets.push({ domain: T, version: 1 });
  const r = b.input('r', F, []);
  const t = b.input('t', DataType.INT64, []);
  const w = (name: string, shape: number[]): string => b.input(name, F, shape);
  const [x1, x2, h1, h2] = b.node(
    'Adagrad',
    [
      r,
      t,
      w('X1', [3]),
      w('X2', [2, 2]),
      w('G1', [3]),
      w('G2', [2, 2]),
      w('H1', [3]),
      w('H2', [2, 2]),
    ],
    {},
    { domain: T, outputs: 4 },
  );
  const [mx, mv] = b.node(
    'Momentum',
    [r, t, w('X', [5]), w('G', [5]), w('V', [5])],
    {},
    {
      domain: T,
      outputs: 2,
    },
  );
  const [ax, av, ah] = b.node(
    'Adam',
    [r, t, w('AX', [4, 1]), w('AG', [4, 1]), w('AV', [4, 1]), w('AH', [4, 1])],
    {},
    { domain: T, outputs: 3 },
  );
  const result = infer(b);
  for (const [out, shape] of [
    [x1, [3]],
    [x2, [2, 2]],
    [h1, [3]],
    [h2, [2, 2]],
    [mx, [5]],
    [mv, [5]],
    [ax, [4, 1]],
    [av, [4, 1]],
    [ah, [4, 1]],
  ] as const) {
    assertType(result, out, F, shape);
  }
});

test('a training optimizer with a partial block of inputs is an error', () => {
  const T = 'ai.onnx.preview.training';
  const b = new ModelBuilder();
  b.extraOpsets.push({ domain: T, version: 1 });
  const x = b.input('x', F, [3]);
  b.node(
    'Adam',
    [b.input('r', F, []), b.input('t', DataType.INT64, []), x, x, x],
    {},
    {
      domain: T,
      outputs: 3,
    },
  );
  assertError(infer(b), /R, T and 4 inputs per weight/);
});

test('FlexAttention (ai.onnx.preview): [B, Hq, L, Ev], grouped heads, score_mod sees the scores', () => {
  const P = 'ai.onnx.preview';
  const b = new ModelBuilder();
  b.extraOpsets.push({ domain: P, version: 1 });
  const scoreMod = subgraph((g) => {
    g.input('scores', F, undefined);
    g.node('Identity', ['scores'], {}, { name: 'mod_id', outputs: ['scores_out'] });
    g.output('scores_out');
  }, 'score_mod');
  const [y] = b.node(
    'FlexAttention',
    [
      b.input('q', F, ['B', 8, 4, 16]),
      b.input('k', F, ['B', 2, 6, 16]),
      b.input('v', F, ['B', 2, 6, 32]),
    ],
    { score_mod: scoreMod },
    { domain: P },
  );
  const r = infer(b);
  assertType(r, y, F, ['B', 8, 4, 32]);
  assertType(r, 'scores_out', F, ['B', 8, 4, 6]);
});

test('FlexAttention: heads that do not group, or head sizes that differ, are errors', () => {
  const P = 'ai.onnx.preview';
  for (const [k, message] of [
    [[1, 3, 6, 16], /not a multiple of kv_num_heads 3/],
    [[1, 2, 6, 8], /head sizes differ/],
  ] as const) {
    const b = new ModelBuilder();
    b.extraOpsets.push({ domain: P, version: 1 });
    b.node(
      'FlexAttention',
      [b.input('q', F, [1, 8, 4, 16]), b.input('k', F, k), b.input('v', F, k)],
      {},
      {
        domain: P,
      },
    );
    assertError(infer(b), message);
  }
});
