/**
 * Shape rules for translated TFLite operators (domain `tflite`, tflite/translate.ts).
 *
 * A TFLite file declares every tensor's shape, and the translation hands those to inference as
 * value_info, which infer.ts merges into each output (mergeDeclared): so a rule may return
 * nothing and the declared shape stands. The layers that carry the cost (convolutions, pools,
 * fully connected) and the elementwise ops are computed anyway, from NHWC inputs and the
 * options, so that a file whose declared shapes disagree with its layers is reported, and an
 * `--input` shape flows through them. Output element types are left to the declaration
 * (UNDEFINED here): quantized and hybrid kernels decide them, and the file states them.
 * CUSTOM operators, builtins newer than the reader, and IF/WHILE/CALL_ONCE (whose bodies are
 * other subgraphs) keep their declared outputs, with a diagnostic that names them and says
 * their MACs are not counted.
 */
import { DataType } from '../../onnx/types';
import {
  customCode,
  intAttr,
  intsAttr,
  isOpaqueOp,
  stringAttr,
  SUBGRAPH_OPS,
} from '../../tflite/attributes';
import { addDim, broadcastShapes, divideProducts, normalizeAxis, productDims } from '../dims';
import {
  ShapeError,
  type Dim,
  type InferContext,
  type InferResult,
  type ShapeRule,
} from '../types';
import { windowOutputDim, type Window } from './nnHelpers';

const DECLARED: InferResult = { types: [] };

function unknownType(shape: readonly Dim[] | undefined): InferResult {
  return { types: [shape ? { dtype: DataType.UNDEFINED, shape } : undefined] };
}

/** Input `i`'s shape, which must be 4-D, laid out as `layout`. */
function nhwc(
  ctx: InferContext,
  i: number,
  what: string,
  layout = 'NHWC',
): readonly Dim[] | undefined {
  const s = ctx.inputType(i)?.shape;
  if (s && s.length !== 4) {
    throw new ShapeError(`${what} has rank ${s.length}, expected 4 (${layout})`);
  }
  return s;
}

/** The output height and width of a 2-D window over an NHWC input, as TFLite pads (SAME/VALID). */
function windowHW(
  ctx: InferContext,
  input: readonly Dim[],
  kernelH: Dim,
  kernelW: Dim,
  dilated: boolean,
): [Dim, Dim] {
  const padding = stringAttr(ctx.node, 'padding', 'SAME');
  if (padding !== 'SAME' && padding !== 'VALID') {
    throw new ShapeError(`padding ${padding} is not SAME or VALID`);
  }
  const window: Window = {
    kernel: [kernelH, kernelW],
    strides: [intAttr(ctx.node, 'stride_h', 1), intAttr(ctx.node, 'stride_w', 1)],
    dilations: dilated
      ? [intAttr(ctx.node, 'dilation_h_factor', 1), intAttr(ctx.node, 'dilation_w_factor', 1)]
      : [1, 1],
    pads: [0, 0, 0, 0],
    // SAME is ceil(in / stride) whichever side gets the odd pixel; VALID pads nothing.
    autoPad: padding === 'SAME' ? 'SAME_UPPER' : 'VALID',
    ceilMode: false,
  };
  if (window.strides.some((s) => s < 1)) throw new ShapeError('strides must be ≥ 1');
  return [windowOutputDim(window, 0, input[1]), windowOutputDim(window, 1, input[2])];
}

/** CONV_2D: input [N, H, W, Cin], filter [Cout, kH, kW, Cin/groups] (TFLM conv.cc, OHWI). */
const conv2d: ShapeRule = (ctx) => {
  const x = nhwc(ctx, 0, 'input');
  const w = nhwc(ctx, 1, 'filter', 'OHWI: Cout, kH, kW, Cin');
  if (!x || !w) return DECLARED;
  const [h, wd] = windowHW(ctx, x, w[1], w[2], true);
  return unknownType([x[0], h, wd, w[0]]);
};

/** DEPTHWISE_CONV_2D: filter [1, kH, kW, Cin·depth_multiplier] (TFLM depthwise_conv.cc). */
const depthwise: ShapeRule = (ctx) => {
  const x = nhwc(ctx, 0, 'input');
  const w = nhwc(ctx, 1, 'filter', '1, kH, kW, Cin·multiplier');
  if (!x || !w) return DECLARED;
  const [h, wd] = windowHW(ctx, x, w[1], w[2], true);
  return unknownType([x[0], h, wd, w[3]]);
};

/** AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D: the window is in the options. */
const pool2d: ShapeRule = (ctx) => {
  const x = nhwc(ctx, 0, 'input');
  if (!x) return DECLARED;
  const kh = intAttr(ctx.node, 'filter_height', 1);
  const kw = intAttr(ctx.node, 'filter_width', 1);
  const [h, wd] = windowHW(ctx, x, kh, kw, false);
  return unknownType([x[0], h, wd, x[3]]);
};

/**
 * FULLY_CONNECTED: weights [units, depth] (TFLM fully_connected.cc); the input is flattened to
 * [elements / depth, depth] unless keep_num_dims keeps its leading dims.
 */
const fullyConnected: ShapeRule = (ctx) => {
  const x = ctx.inputType(0)?.shape;
  const w = ctx.inputType(1)?.shape;
  if (!x || !w || w.length !== 2) return DECLARED;
  if (intAttr(ctx.node, 'keep_num_dims', 0)) return unknownType([...x.slice(0, -1), w[0]]);
  return unknownType([divideProducts(x, [w[1]]), w[0]]);
};

/** RESHAPE: the target from the shape input, else the options; one -1 takes the rest. */
const reshape: ShapeRule = (ctx) => {
  const x = ctx.inputType(0)?.shape;
  const target = ctx.hasInput(1)
    ? ctx.inputValue(1)?.values
    : (intsAttr(ctx.node, 'new_shape') as readonly Dim[] | undefined);
  if (!x || !target) return DECLARED;
  const known = target.filter((d) => d !== -1);
  if (known.length === target.length) {
    const [from, to] = [productDims(x), productDims(target)];
    if (typeof from === 'number' && typeof to === 'number' && from !== to) {
      throw new ShapeError(
        `cannot reshape [${x.join(', ')}] (${from} elements) to [${target.join(', ')}]`,
      );
    }
    return unknownType(target);
  }
  if (target.length - known.length > 1) throw new ShapeError('new shape has more than one -1');
  const rest = divideProducts(x, known);
  return unknownType(target.map((d) => (d === -1 ? rest : d)));
};

/** Elementwise with numpy broadcasting (TFLM's broadcast kernels, up to 5-D or 6-D). */
const broadcast: ShapeRule = (ctx) => {
  const shapes = [0, 1].map((i) => ctx.inputType(i)?.shape);
  if (shapes.some((s) => !s)) return DECLARED;
  return unknownType(broadcastShapes(shapes as Dim[][]));
};

const sameShape: ShapeRule = (ctx) => unknownType(ctx.inputType(0)?.shape);

/** CONCATENATION along `axis`. */
const concatenation: ShapeRule = (ctx) => {
  const shapes = ctx.node.inputs.map((_, i) => ctx.inputType(i)?.shape);
  if (shapes.length === 0 || shapes.some((s) => !s)) return DECLARED;
  const first = shapes[0]!;
  const axis = normalizeAxis(intAttr(ctx.node, 'axis', 0), first.length);
  let sum: Dim = 0;
  for (const s of shapes) sum = addDim(sum, s![axis]);
  return unknownType(first.map((d, i) => (i === axis ? sum : d)));
};

/**
 * Any other tflite op: its declared outputs. An operator Model Lens cannot compute (CUSTOM, a
 * builtin newer than the reader, a call into another subgraph) also gets a diagnostic naming it.
 */
const declaredOrOpaque: ShapeRule = (ctx) => {
  if (!isOpaqueOp(ctx.node)) return DECLARED;
  const code = customCode(ctx.node);
  const what = code
    ? `custom operator '${code}'`
    : SUBGRAPH_OPS.has(ctx.node.opType)
      ? `${ctx.node.opType} (its body is another subgraph, not analysed)`
      : ctx.node.opType.startsWith('UNKNOWN_')
        ? `operator ${ctx.node.opType} (newer than this reader)`
        : `${ctx.node.opType} (no cost formula yet)`;
  if (code === 'ethos-u') {
    // Vela compiles the whole network into one NPU command stream and its weights: the layers
    // and their MACs are inside the stream, which is the NPU's, not the model's, format.
    ctx.warn(
      "custom operator 'ethos-u' (compiled by Arm Vela for an Ethos-U NPU): the layers run as one command stream, so their MACs are hidden in it, unknown rather than 0; SRAM is the model's offline plan and flash its constant buffers",
    );
    return DECLARED;
  }
  ctx.warn(`${what}: output shapes as the file declares them; its MACs are unknown, not counted`);
  return DECLARED;
};

/** Same shape as input 0. */
const SAME_SHAPE = [
  'RELU',
  'RELU6',
  'RELU_N1_TO_1',
  'RELU_0_TO_1',
  'LOGISTIC',
  'TANH',
  'HARD_SWISH',
  'LEAKY_RELU',
  'ELU',
  'GELU',
  'SOFTMAX',
  'LOG_SOFTMAX',
  'QUANTIZE',
  'DEQUANTIZE',
  'ABS',
  'NEG',
  'EXP',
  'LOG',
  'SQRT',
  'RSQRT',
  'SQUARE',
  'SIN',
  'COS',
  'FLOOR',
  'CEIL',
  'ROUND',
  'SIGN',
  'CAST',
  'L2_NORMALIZATION',
  'LOCAL_RESPONSE_NORMALIZATION',
  'LOGICAL_NOT',
];

const BROADCAST = [
  'ADD',
  'SUB',
  'MUL',
  'DIV',
  'POW',
  'MAXIMUM',
  'MINIMUM',
  'SQUARED_DIFFERENCE',
  'FLOOR_DIV',
  'FLOOR_MOD',
  'EQUAL',
  'NOT_EQUAL',
  'GREATER',
  'GREATER_EQUAL',
  'LESS',
  'LESS_EQUAL',
  'LOGICAL_AND',
  'LOGICAL_OR',
  'PRELU',
];

export const tfliteRules: Readonly<Record<string, ShapeRule>> = {
  CONV_2D: conv2d,
  DEPTHWISE_CONV_2D: depthwise,
  AVERAGE_POOL_2D: pool2d,
  MAX_POOL_2D: pool2d,
  L2_POOL_2D: pool2d,
  FULLY_CONNECTED: fullyConnected,
  RESHAPE: reshape,
  CONCATENATION: concatenation,
  ...Object.fromEntries(SAME_SHAPE.map((op) => [op, sameShape])),
  ...Object.fromEntries(BROADCAST.map((op) => [op, broadcast])),
};

/** The rule for a node of the tflite domain: computed for the ops above, else declared. */
export function tfliteRule(opType: string): ShapeRule {
  return tfliteRules[opType] ?? declaredOrOpaque;
}
