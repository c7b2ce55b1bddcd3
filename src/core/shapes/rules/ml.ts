/**
 * The ai.onnx.ml domain (scikit-learn and other classical-ML exports): per-element maps keep X's
 * shape; classifiers and regressors give one row per example. A 1-D X is one example
 * ([C] is read as [1, C]), as ONNX Runtime reads it. ZipMap's sequence of maps is no tensor: its
 * type stays unknown, without a diagnostic. The ops that read maps (CastMap, DictVectorizer) have
 * no rule.
 */
import { elementCount } from '../../onnx/tensorData';
import { DataType } from '../../onnx/types';
import { allKnown, tensorType } from '../dims';
import type { Dim, InferContext, ShapeRule, TensorType } from '../types';
import { dtypeOf, shapeOf } from './nnHelpers';

/** Rows of X: its first dim, or 1 for a single example given as a vector. */
function examples(ctx: InferContext): Dim {
  const x = shapeOf(ctx, 0);
  if (!x) return ctx.newSymbol('N');
  return x.length >= 2 ? x[0] : 1;
}

function attrLength(ctx: InferContext, names: readonly string[]): number | undefined {
  for (const name of names) {
    const a = ctx.attr(name);
    const n = a ? Math.max(a.ints.length, a.floats.length, a.strings.length) : 0;
    if (n > 0) return n;
  }
  return undefined;
}

/** X's shape with another element type. */
function sameShape(ctx: InferContext, dtype: DataType): TensorType {
  return tensorType(dtype, shapeOf(ctx, 0));
}

/** ArrayFeatureExtractor: the indices pick along the last axis ([C] is read as [1, C]). */
const arrayFeatureExtractor: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const indices = shapeOf(ctx, 1);
  const picked: Dim = allKnown(indices) ? elementCount(indices) : ctx.newSymbol('indices');
  const dtype = dtypeOf(ctx, 0);
  if (!x) return { types: [tensorType(dtype)] };
  const rows = x.length >= 2 ? x.slice(0, -1) : [1];
  return { types: [tensorType(dtype, [...rows, picked])] };
};

/** The label type a classifier's attributes name (int64 labels unless strings are given). */
function labelType(ctx: InferContext, stringsAttr: string): DataType {
  return (ctx.attr(stringsAttr)?.strings.length ?? 0) > 0 ? DataType.STRING : DataType.INT64;
}

/**
 * A classifier: Y [N] labels, Z [N, E] scores, E the number of class labels (a binary model
 * with one set of coefficients still scores both classes).
 */
function classifier(
  labels: readonly string[],
  stringsAttr: string,
  binaryKnown: boolean,
): ShapeRule {
  return (ctx) => {
    const n = examples(ctx);
    const classes = attrLength(ctx, labels);
    const e: Dim =
      classes !== undefined && (binaryKnown || classes > 2) ? classes : ctx.newSymbol('classes');
    return {
      types: [tensorType(labelType(ctx, stringsAttr), [n]), tensorType(DataType.FLOAT, [n, e])],
    };
  };
}

/** LabelEncoder: X's shape; the element type of the values (or, opset 1, the other of the two). */
const labelEncoder: ShapeRule = (ctx) => {
  const valueTypes: [string, DataType][] = [
    ['values_strings', DataType.STRING],
    ['values_int64s', DataType.INT64],
    ['values_floats', DataType.FLOAT],
  ];
  const tensor = ctx.attr('values_tensor')?.t;
  let dtype: DataType | undefined = tensor?.dataType;
  for (const [name, t] of valueTypes) {
    const a = ctx.attr(name);
    if (
      dtype === undefined &&
      a &&
      Math.max(a.ints.length, a.floats.length, a.strings.length) > 0
    ) {
      dtype = t;
    }
  }
  if (dtype === undefined) {
    // Opset 1: strings ↔ int64 through classes_strings.
    dtype = dtypeOf(ctx, 0) === DataType.STRING ? DataType.INT64 : DataType.STRING;
  }
  return { types: [sameShape(ctx, dtype)] };
};

/** CategoryMapper: strings ↔ int64, X's shape. */
const categoryMapper: ShapeRule = (ctx) => ({
  types: [sameShape(ctx, dtypeOf(ctx, 0) === DataType.STRING ? DataType.INT64 : DataType.STRING)],
});

/** OneHotEncoder: a trailing axis of one column per category, float. */
const oneHotEncoder: ShapeRule = (ctx) => {
  const x = shapeOf(ctx, 0);
  const cats = attrLength(ctx, ['cats_int64s', 'cats_strings']) ?? ctx.newSymbol('categories');
  return { types: [tensorType(DataType.FLOAT, x && [...x, cats])] };
};

/** FeatureVectorizer: the inputs' columns side by side, float. */
const featureVectorizer: ShapeRule = (ctx) => {
  const dims = ctx.attrInts('inputdimensions');
  const columns: Dim =
    dims && dims.length === ctx.inputCount
      ? dims.reduce((a, b) => a + b, 0)
      : ctx.newSymbol('features');
  return { types: [tensorType(DataType.FLOAT, [examples(ctx), columns])] };
};

/** Regressors: [N, targets] float (TreeEnsemble keeps X's float type). */
function regressor(targetsAttr: string | undefined, fromInput = false): ShapeRule {
  return (ctx) => {
    const targets = targetsAttr ? ctx.attrInt(targetsAttr, 1) : 1;
    const dtype = fromInput ? dtypeOf(ctx, 0) : DataType.FLOAT;
    return { types: [tensorType(dtype, [examples(ctx), targets])] };
  };
}

const notATensor: ShapeRule = (ctx) => ({ types: ctx.node.outputs.map(() => undefined) });

export const mlRules: Record<string, ShapeRule> = {
  ArrayFeatureExtractor: arrayFeatureExtractor,
  Binarizer: (ctx) => ({ types: [sameShape(ctx, dtypeOf(ctx, 0))] }),
  CategoryMapper: categoryMapper,
  FeatureVectorizer: featureVectorizer,
  Imputer: (ctx) => ({ types: [sameShape(ctx, dtypeOf(ctx, 0))] }),
  LabelEncoder: labelEncoder,
  LinearClassifier: classifier(
    ['classlabels_ints', 'classlabels_strings'],
    'classlabels_strings',
    true,
  ),
  LinearRegressor: regressor('targets'),
  Normalizer: (ctx) => ({ types: [sameShape(ctx, DataType.FLOAT)] }),
  OneHotEncoder: oneHotEncoder,
  Scaler: (ctx) => ({ types: [sameShape(ctx, DataType.FLOAT)] }),
  // A binary SVM without probabilities may give one score column: the count stays a symbol.
  SVMClassifier: classifier(
    ['classlabels_ints', 'classlabels_strings'],
    'classlabels_strings',
    false,
  ),
  SVMRegressor: regressor(undefined),
  TreeEnsemble: regressor('n_targets', true),
  TreeEnsembleClassifier: classifier(
    ['classlabels_int64s', 'classlabels_strings'],
    'classlabels_strings',
    true,
  ),
  TreeEnsembleRegressor: regressor('n_targets'),
  // A sequence of maps, not a tensor.
  ZipMap: notATensor,
};
