import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType } from '../../../src/core/onnx/types';
import { makeTensor } from '../../helpers/modelBuilder';
import { ModelBuilder, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;
const I64 = DataType.INT64;
const S = DataType.STRING;
const ML = 'ai.onnx.ml';

function mlModel(): ModelBuilder {
  const b = new ModelBuilder();
  b.extraOpsets.push({ domain: ML, version: 5 });
  return b;
}

const ml = (b: ModelBuilder, op: string, inputs: string[], attrs = {}, outputs = 1): string[] =>
  b.node(op, inputs, attrs, { domain: ML, outputs });

test('ai.onnx.ml per-element maps keep X: Binarizer, Imputer, Scaler, Normalizer, LabelEncoder, CategoryMapper', () => {
  const b = mlModel();
  const x = b.input('x', I64, ['N', 3]);
  const s = b.input('s', S, [5]);
  const [bin] = ml(b, 'Binarizer', [x]);
  const [imp] = ml(b, 'Imputer', [x], { imputed_value_int64s: [0] });
  const [sc] = ml(b, 'Scaler', [x], { scale: [2.5] });
  const [nm] = ml(b, 'Normalizer', [x]);
  const [le] = ml(b, 'LabelEncoder', [s], { keys_strings: ['a'], values_int64s: [1] });
  const [leT] = ml(b, 'LabelEncoder', [s], {
    keys_strings: ['a'],
    values_tensor: makeTensor('v', DataType.INT16, [1], [1]),
  });
  const [cm] = ml(b, 'CategoryMapper', [x], { cats_int64s: [1], cats_strings: ['a'] });
  const r = infer(b);
  assertType(r, bin, I64, ['N', 3]);
  assertType(r, imp, I64, ['N', 3]);
  assertType(r, sc, F, ['N', 3]);
  assertType(r, nm, F, ['N', 3]);
  assertType(r, le, I64, [5]);
  assertType(r, leT, DataType.INT16, [5]);
  assertType(r, cm, S, ['N', 3]);
});

test('ai.onnx.ml selectors and encoders: ArrayFeatureExtractor, OneHotEncoder, FeatureVectorizer', () => {
  const b = mlModel();
  const x = b.input('x', F, [3, 4]);
  const [z] = ml(b, 'ArrayFeatureExtractor', [x, b.ints('idx', [0, 2])]);
  const [one] = ml(b, 'ArrayFeatureExtractor', [b.input('v', F, [4]), b.ints('i1', [1, 2, 3])]);
  const [oh] = ml(b, 'OneHotEncoder', [b.input('c', I64, [3, 2])], { cats_int64s: [1, 2, 3, 4] });
  const [fv] = ml(b, 'FeatureVectorizer', [x, b.input('w', I64, [3, 2])], {
    inputdimensions: [4, 2],
  });
  const r = infer(b);
  assertType(r, z, F, [3, 2]);
  assertType(r, one, F, [1, 3]);
  assertType(r, oh, F, [3, 2, 4]);
  assertType(r, fv, F, [3, 6]);
});

test('ai.onnx.ml classifiers give [N] labels and [N, classes] scores; regressors [N, targets]', () => {
  const b = mlModel();
  const x = b.input('x', F, ['N', 3]);
  const [ly, lz] = ml(
    b,
    'LinearClassifier',
    [x],
    { coefficients: [1.5, 2.5, 3.5], classlabels_ints: [0, 1] },
    2,
  );
  const [ty, tz] = ml(
    b,
    'TreeEnsembleClassifier',
    [x],
    { classlabels_strings: ['a', 'b', 'c'] },
    2,
  );
  const [sy, sz] = ml(b, 'SVMClassifier', [x], { classlabels_ints: [0, 1] }, 2);
  const [lr] = ml(b, 'LinearRegressor', [x], { targets: 2 });
  const [tr] = ml(b, 'TreeEnsembleRegressor', [x], { n_targets: 3 });
  const [svr] = ml(b, 'SVMRegressor', [b.input('one', F, [3])]);
  const [te] = ml(b, 'TreeEnsemble', [b.input('d', DataType.DOUBLE, [6, 3])], { n_targets: 4 });
  const [zm] = ml(b, 'ZipMap', [tz], { classlabels_strings: ['a', 'b', 'c'] });
  const r = infer(b);
  assertType(r, ly, I64, ['N']);
  assertType(r, lz, F, ['N', 2]);
  assertType(r, ty, S, ['N']);
  assertType(r, tz, F, ['N', 3]);
  assertType(r, sy, I64, ['N']);
  assert.equal(typeof r.types.get(sz)?.shape?.[1], 'string');
  assertType(r, lr, F, ['N', 2]);
  assertType(r, tr, F, ['N', 3]);
  assertType(r, svr, F, [1, 1]);
  assertType(r, te, DataType.DOUBLE, [6, 4]);
  assert.equal(r.types.get(zm), undefined);
  assert.deepEqual(r.diagnostics, []);
});
