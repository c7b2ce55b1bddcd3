/**
 * Other tools' counting conventions (issue 13 item 4): `--convention st|vela` and the
 * `modelLens.convention` setting re-count MACs, weight bytes and feature-map bytes the way ST Edge AI
 * Core or Arm Vela report them, so that a user can reconcile our figures with theirs. This file is
 * the only place that knows how; cost/nodeFigures.ts applies it to every node (and analyze.ts to the
 * totals), so every surface shows the re-counted figure. It is about counting, not the file format:
 * an ONNX model takes a convention as a TFLite one does. `model-lens` (the default) changes nothing.
 *
 * `st` — ST Edge AI Core (X-CUBE-AI) `analyze`/`generate` reports, "MACC" and "weights (ro)":
 * - a layer with a bias adds one MACC per output channel (the bias's last dimension): a Conv
 *   1→16, 3×3 on a 30×10 map is 4,800 × 9 = 43,200 MACs for us and 43,216 MACC for ST; a Gemm
 *   24,300→1 is 24,301;
 * - Softmax adds 15 MACC per output element (a Softmax over [1, 224, 224] is 752,640 MACC);
 * - a constant buffer that several layers read is counted once per use in the model's params and
 *   weight bytes (ST lists each layer's weights as its own C array); ours counts it once;
 * - weight bytes hold the stored weights and biases only: per-channel scales and zero points are
 *   in the generated network's tensor descriptors, not in "weights (ro)" (a quantized Conv of 72
 *   int8 weights and 8 int32 biases is 104 B).
 * Sources: ST Edge AI Core documentation, "Evaluation report and metrics" (MACC and ROM metrics),
 * and the per-layer `macc`/`c_size` columns of ST Edge AI Core 3.0.0 `generate` reports (the
 * figures above). Not reproduced: ST also counts non-linear layers (1 per element for ReLU),
 * Quantize/Dequantize conversions and transposes, and fuses some layers before counting.
 *
 * `vela` — Arm Vela's performance estimate ("Neural network macs"; ethos-u-vela
 * npu_performance.py, tensor.py, architecture_features.py, graph_optimiser_util.py):
 * - pooling windows are MACs: a pooling layer costs kernel height × width per output element
 *   (Vela's Pooling block type, like its depthwise one); global pools and MEAN / ReduceMean cost
 *   their input's elements (Vela lowers MEAN to a depthwise convolution over the reduced window);
 *   the other MAC formulas are the same as ours (Conv: kernel × input depth × output elements);
 * - feature maps between NPU operators are stored in the NHCWB16 brick format, whose channel
 *   dimension is rounded up to 16 (storage rounding quantum 1×1×1×16): a layer's activation bytes
 *   count each such tensor of rank ≥ 2 with its channels padded to 16 (TFLite's last axis; ONNX's
 *   axis 1, or the last axis of a 2-D tensor). The model's inputs and outputs stay linear NHWC,
 *   as Vela keeps them.
 * Not reproduced: which operators fall back to the CPU (every operator is taken to run on the
 * NPU), the other NHWC exceptions (concat/split members, some reshapes), operators Vela lowers to
 * 1×1 pooling (Transpose, Resize, Pad), TRANSPOSE_CONV's upscaled input, weight compression
 * (Vela's encoded weight streams cannot be predicted; weight bytes stay ours) and the activation
 * arena (peak RAM stays our planner's, or TFLite Micro's for a .tflite).
 *
 * Under every convention FLOPs and BOPs stay ours (neither tool reports them), as do the
 * suggested-width weight bytes.
 */
import { storageBytes } from '../onnx/dtype';
import { elementCount } from '../onnx/tensorData';
import type { Node } from '../onnx/types';
import { concreteShape } from '../shapes/infer';
import type { TensorType } from '../shapes/types';
import { TFLITE_DOMAIN } from '../tflite/attributes';
import type { CostShapes } from './opCosts';

export const CONVENTIONS = ['model-lens', 'st', 'vela'] as const;
export type Convention = (typeof CONVENTIONS)[number];
export const DEFAULT_CONVENTION: Convention = 'model-lens';

export function isConvention(x: unknown): x is Convention {
  return typeof x === 'string' && (CONVENTIONS as readonly string[]).includes(x);
}

/** How a surface names the convention: "MACs 1.2 M (ST Edge AI convention)". */
export const CONVENTION_NAMES: Readonly<Record<Convention, string>> = {
  'model-lens': 'Model Lens',
  st: 'ST Edge AI',
  vela: 'Arm Vela',
};

/** One sentence on what a convention changes, for hovers and reports. */
export const CONVENTION_NOTES: Readonly<Record<Convention, string>> = {
  'model-lens': '',
  st: 'ST Edge AI convention: MACs add 1 per output channel of a bias and 15 per Softmax element; a shared weight counts once per use; weight bytes leave out quantization scales and zero points.',
  vela: 'Arm Vela convention: pooling windows count as MACs (global pools and MEAN: their input elements); feature maps between layers have their channels padded to 16 (NHCWB16).',
};

/** The bias input of the ops that have one (ONNX, then TFLite builtins). */
const BIAS_INPUT: Readonly<Record<string, number>> = {
  Conv: 2,
  ConvTranspose: 2,
  FusedConv: 2,
  NhwcConv: 2,
  DeformConv: 3,
  QLinearConv: 8,
  Gemm: 2,
  FusedGemm: 2,
};
const TFLITE_BIAS_INPUT: Readonly<Record<string, number>> = {
  CONV_2D: 2,
  DEPTHWISE_CONV_2D: 2,
  CONV_3D: 2,
  FULLY_CONNECTED: 2,
  TRANSPOSE_CONV: 3,
  CONV_3D_TRANSPOSE: 3,
};

const SOFTMAX_MACC_PER_ELEMENT = 15;
const WINDOW_POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const WHOLE_INPUT_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const TFLITE_WINDOW_POOLS = new Set(['AVERAGE_POOL_2D', 'MAX_POOL_2D', 'L2_POOL_2D']);
/** NHCWB16: Vela rounds a feature map's channels up to this (storage_rounding_quantums). */
const BRICK_DEPTH = 16;

function size(shape: readonly number[] | undefined): number {
  return shape ? elementCount(shape) : 0;
}

function intAttribute(node: Node, name: string): number | undefined {
  return node.attributes.find((a) => a.name === name)?.i;
}

/**
 * A node's MACs under `convention`, from ours (`macs`) and its concrete shapes. Not for a node
 * whose MACs are unknown (NodeReport.macsUnknown): its placeholder stays.
 */
export function recountMacs(
  convention: Convention,
  node: Node,
  shapes: CostShapes,
  macs: number,
): number {
  if (convention === 'st') return macs + stExtraMacc(node, shapes);
  if (convention === 'vela') return macs + velaPoolingMacs(node, shapes);
  return macs;
}

/** ST: one per output channel of a bias, 15 per Softmax output element. */
function stExtraMacc(node: Node, shapes: CostShapes): number {
  const tflite = node.domain === TFLITE_DOMAIN;
  if (node.opType === (tflite ? 'SOFTMAX' : 'Softmax')) {
    return SOFTMAX_MACC_PER_ELEMENT * size(shapes.outputs[0]);
  }
  const biasInput = (tflite ? TFLITE_BIAS_INPUT : BIAS_INPUT)[node.opType];
  if (biasInput === undefined || !node.inputs[biasInput]) return 0;
  const bias = shapes.inputs[biasInput];
  if (!bias) return 0;
  return bias.length === 0 ? 1 : bias[bias.length - 1];
}

/** Vela: a pooling window's elements per output element (Vela's Pooling and MEAN lowering). */
function velaPoolingMacs(node: Node, shapes: CostShapes): number {
  const outputs = size(shapes.outputs[0]);
  if (node.domain === TFLITE_DOMAIN) {
    if (TFLITE_WINDOW_POOLS.has(node.opType)) {
      const h = intAttribute(node, 'filter_height') ?? 1;
      const w = intAttribute(node, 'filter_width') ?? 1;
      return h * w * outputs;
    }
    return node.opType === 'MEAN' ? size(shapes.inputs[0]) : 0;
  }
  if (WINDOW_POOLS.has(node.opType)) {
    const kernel = node.attributes.find((a) => a.name === 'kernel_shape')?.ints ?? [];
    return elementCount(kernel) * outputs;
  }
  if (WHOLE_INPUT_POOLS.has(node.opType) || node.opType === 'ReduceMean') {
    return size(shapes.inputs[0]);
  }
  return 0;
}

/**
 * Bytes of one feature map of `node` under `convention`; undefined where the convention counts it
 * as we do (tensorBytes). `boundary`: a model input or output, which Vela keeps linear.
 */
export function featureMapBytes(
  convention: Convention,
  node: Node,
  type: TensorType | undefined,
  boundary: boolean,
): number | undefined {
  if (convention !== 'vela' || boundary || !type?.shape || type.dtype === 0) return undefined;
  const shape = concreteShape(type.shape);
  if (shape.length < 2) return undefined;
  const axis = node.domain === TFLITE_DOMAIN || shape.length === 2 ? shape.length - 1 : 1;
  const channels = shape[axis];
  if (channels <= 0 || channels % BRICK_DEPTH === 0) return undefined;
  const padded = Math.ceil(channels / BRICK_DEPTH) * BRICK_DEPTH;
  return storageBytes(type.dtype, (elementCount(shape) / channels) * padded);
}

/** Whether a weight's quantization parameters (scales, zero points) count in its bytes. */
export function countsQuantParams(convention: Convention): boolean {
  return convention !== 'st';
}

/** Whether a weight that several nodes read counts once per use in the model's totals. */
export function countsSharedWeightsPerUse(convention: Convention): boolean {
  return convention === 'st';
}
