/**
 * The vocabulary of shape inference: tensor types with symbolic dimensions, constant values,
 * and the signature every per-op shape rule implements.
 */
import type { Attribute, DataType, Graph, Node, Tensor } from '../onnx/types';

/** A dimension: a number when known, a name when symbolic (e.g. 'batch', 'NonZero_3_count'). */
export type Dim = number | string;

/** dtype and shape of a tensor. `shape` undefined means even the rank is unknown. */
export interface TensorType {
  readonly dtype: DataType;
  readonly shape?: readonly Dim[];
}

/**
 * A tensor whose values are known before running the model: an initializer, a Constant node, or
 * the folded output of a shape computation. `values` is present for small tensors (shape
 * arithmetic); integer entries may be symbolic names when they come from a symbolic Shape.
 */
export interface ConstValue {
  readonly dims: readonly number[];
  readonly values: readonly Dim[];
}

/** What a rule can ask about the node it infers. */
export interface InferContext {
  readonly node: Node;
  /** Opset version in force for the node's domain. */
  readonly opset: number;
  /** Number of input slots, including omitted optional ones (empty names). */
  readonly inputCount: number;
  /** True when input `i` is present (a non-empty name). */
  hasInput(i: number): boolean;
  /** Type of input `i`; undefined when absent or unknown. */
  inputType(i: number): TensorType | undefined;
  /** Folded value of input `i` when it is a known constant (small tensors only). */
  inputValue(i: number): ConstValue | undefined;
  /** Folded value of any tensor in scope by name (e.g. a sub-graph output after inferSubgraph). */
  valueOf(name: string): ConstValue | undefined;
  /** Initializer/Constant tensor feeding input `i` directly, when there is one. */
  inputTensor(i: number): Tensor | undefined;
  attr(name: string): Attribute | undefined;
  attrInt(name: string, fallback: number): number;
  attrInts(name: string): readonly number[] | undefined;
  attrFloat(name: string, fallback: number): number;
  attrString(name: string, fallback: string): string;
  /**
   * A fresh symbolic dimension for a size only known at run time (NonZero's count, TopK's K),
   * named after the node so the user can trace it.
   */
  newSymbol(label: string): string;
  /** Infers a sub-graph (If/Loop/Scan body) with the given input types; returns its output types. */
  inferSubgraph(
    graph: Graph,
    inputTypes: readonly (TensorType | undefined)[],
  ): (TensorType | undefined)[];
  /** Records a diagnostic about this node and goes on. */
  warn(message: string): void;
}

/** Output types in output order (undefined = unknown), with folded values when computable. */
export interface InferResult {
  readonly types: readonly (TensorType | undefined)[];
  readonly values?: readonly (ConstValue | undefined)[];
}

export type ShapeRule = (ctx: InferContext) => InferResult;

/** Thrown by a rule when the node's inputs are inconsistent (e.g. Conv channels mismatch). */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}
