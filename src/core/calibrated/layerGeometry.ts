/**
 * How a layer's weight meets its input, in the terms calibrated compression needs: the weight
 * as `groups` matrices of rows × columns, where a column is one element of the layer's input
 * patch (the index of H = XᵀX) and a row is one output of the reduction.
 *
 * - Conv, weight [M, C/g, k₁…kₛ]: group j holds rows M/g (output channels j·M/g…), columns
 *   (c, k₁…kₛ) flattened, the weight's own memory order. The input patch is the im2col of X.
 * - ConvTranspose, weight [C, M/g, k₁…kₛ]: every output pixel of one kernel offset is a 1×1
 *   product over the input channels, so a column is an input channel of the group and a row is
 *   (output channel, kernel offset). The patch is one input pixel's channels.
 * - Gemm B [K, N] (transB 0) or [N, K] (transB 1), MatMul B [..K, N]: columns K, rows N.
 *
 * The layout is described, not copied: `elementIndex(group, row, column)` gives the weight
 * tensor's flat index, so callers gather and scatter without a transposed copy of the model.
 */
import { intAttr, intsAttr, stringAttr } from '../onnx/attributes';
import type { Node } from '../onnx/types';
import { stridesOf } from '../shapes/dims';

export type LayerKind = 'conv' | 'convTranspose' | 'gemm' | 'matmul';

export interface LayerGeometry {
  readonly kind: LayerKind;
  /** The data input whose patches form the columns. */
  readonly input: string;
  readonly groups: number;
  /** Rows per group. */
  readonly rows: number;
  /** Columns per group (the order of H). */
  readonly columns: number;
  /** The weight tensor's flat index of (group, row, column). */
  elementIndex(group: number, row: number, column: number): number;
  /** Conv only: kernel, strides, dilations, pads (begin…, end…), auto_pad. */
  readonly conv?: ConvWindow;
  /** Gemm with transA: the input is [K, M], patches are its columns. */
  readonly transposedInput?: boolean;
}

export interface ConvWindow {
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  readonly pads: readonly number[];
  readonly autoPad: string;
  /** Input channels per group. */
  readonly channels: number;
}

/** The geometry of a Conv/ConvTranspose/Gemm/MatMul with weight dims `dims`; else undefined. */
export function layerGeometry(node: Node, dims: readonly number[]): LayerGeometry | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  switch (node.opType) {
    case 'Conv':
      return convGeometry(node, dims);
    case 'ConvTranspose':
      return convTransposeGeometry(node, dims);
    case 'Gemm':
      return gemmGeometry(node, dims);
    case 'MatMul':
      return matmulGeometry(node, dims);
    default:
      return undefined;
  }
}

function window(node: Node, dims: readonly number[]): ConvWindow | undefined {
  const kernel = dims.slice(2);
  const s = kernel.length;
  if (s === 0) return undefined;
  const ones = new Array<number>(s).fill(1);
  const pads = intsAttr(node, 'pads') ?? new Array<number>(2 * s).fill(0);
  const strides = intsAttr(node, 'strides') ?? ones;
  const dilations = intsAttr(node, 'dilations') ?? ones;
  if (pads.length !== 2 * s || strides.length !== s || dilations.length !== s) return undefined;
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET');
  return { kernel, strides, dilations, pads, autoPad, channels: dims[1] };
}

function convGeometry(node: Node, dims: readonly number[]): LayerGeometry | undefined {
  const conv = window(node, dims);
  const groups = intAttr(node, 'group', 1);
  if (!conv || groups < 1 || dims[0] % groups !== 0) return undefined;
  const rows = dims[0] / groups;
  const columns = dims.slice(1).reduce((a, b) => a * b, 1);
  return {
    kind: 'conv',
    input: node.inputs[0],
    groups,
    rows,
    columns,
    conv,
    elementIndex: (g, r, c) => (g * rows + r) * columns + c,
  };
}

function convTransposeGeometry(node: Node, dims: readonly number[]): LayerGeometry | undefined {
  const groups = intAttr(node, 'group', 1);
  if (dims.length < 3 || groups < 1 || dims[0] % groups !== 0) return undefined;
  const columns = dims[0] / groups;
  const inner = dims.slice(1).reduce((a, b) => a * b, 1); // (M/g)·k₁…kₛ
  return {
    kind: 'convTranspose',
    input: node.inputs[0],
    groups,
    rows: inner,
    columns,
    elementIndex: (g, r, c) => (g * columns + c) * inner + r,
  };
}

function gemmGeometry(node: Node, dims: readonly number[]): LayerGeometry | undefined {
  if (dims.length !== 2) return undefined;
  const transB = intAttr(node, 'transB', 0) !== 0;
  const [k, n] = transB ? [dims[1], dims[0]] : dims;
  return {
    kind: 'gemm',
    input: node.inputs[0],
    groups: 1,
    rows: n,
    columns: k,
    transposedInput: intAttr(node, 'transA', 0) !== 0,
    elementIndex: transB ? (_g, r, c) => r * k + c : (_g, r, c) => c * n + r,
  };
}

/** A 2-D B only: a batched B ([b, K, N]) has one matrix per batch that sees different inputs. */
function matmulGeometry(node: Node, dims: readonly number[]): LayerGeometry | undefined {
  if (dims.length !== 2) return undefined;
  const [k, n] = dims;
  return {
    kind: 'matmul',
    input: node.inputs[0],
    groups: 1,
    rows: n,
    columns: k,
    elementIndex: (_g, r, c) => c * n + r,
  };
}

/**
 * The geometry of a layer that reads its stored weight through a transposition (weightChain.ts):
 * axis i of what it reads is axis perm[i] of the stored tensor. Indices are mapped to the stored
 * layout, so callers gather from and scatter into the stored tensor as before.
 */
export function storedGeometry(
  node: Node,
  storedDims: readonly number[],
  perm?: readonly number[],
): LayerGeometry | undefined {
  if (!perm) return layerGeometry(node, storedDims);
  if (perm.length !== storedDims.length) return undefined;
  const seen = perm.map((a) => storedDims[a]);
  const geometry = layerGeometry(node, seen);
  if (!geometry) return undefined;
  const storedStrides = stridesOf(storedDims);
  // A seen axis steps through the stored tensor by its stored axis' stride.
  const step = perm.map((a) => storedStrides[a]);
  const seenStrides = stridesOf(seen);
  const inner = geometry.elementIndex;
  return {
    ...geometry,
    elementIndex(g, r, c) {
      let flat = inner(g, r, c);
      let stored = 0;
      for (let i = 0; i < seen.length; i++) {
        const index = Math.floor(flat / seenStrides[i]);
        flat -= index * seenStrides[i];
        stored += index * step[i];
      }
      return stored;
    },
  };
}
