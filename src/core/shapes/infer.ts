/**
 * Shape and type inference over a graph, in execution order.
 *
 * For each node we look up the rule for its op (rules/index.ts), give it the input types and any
 * constant input values, and record the output types. Shape sub-graphs (Shape → Gather → Concat →
 * Reshape …) resolve because rules fold small constant values as they go. A node without a rule,
 * or whose rule fails, gets a diagnostic and unknown outputs; analysis goes on. Each output is
 * then merged with the type the model declares for it (graph.output, value_info, in sub-graphs
 * too), as ONNX's own inference does: see mergeDeclared.
 */
import { buildGraphView, nodeDependencies, nodeLabel, type GraphView } from '../graph/graph';
import { attributeString } from '../onnx/decode';
import type { ExternalData } from '../onnx/externalData';
import { dtypeName, isFloatType } from '../onnx/dtype';
import { elementCount, tensorNumbers } from '../onnx/tensorData';
import {
  DataType,
  type Attribute,
  type Graph,
  type Node,
  type Tensor,
  type ValueInfo,
} from '../onnx/types';
import { findRule } from './rules';
import { ShapeError, type ConstValue, type Dim, type InferContext, type TensorType } from './types';

/** Constants larger than this are tracked as constant, but their values are not materialised. */
export const MAX_FOLDED_ELEMENTS = 1 << 16;
/** Float tensors up to this size are folded (scales, bounds); larger ones are weights. */
const MAX_FOLDED_FLOATS = 64;

export interface ShapeDiagnostic {
  readonly severity: 'error' | 'warning' | 'info';
  /** Name (or label) of the node concerned, when there is one. */
  readonly node?: string;
  readonly message: string;
}

/** A tensor known before the model runs. `source` names the tensor whose bytes it is (Identity keeps it). */
export interface ConstantInfo {
  readonly source: string;
  readonly tensor?: Tensor;
}

export interface ShapeInference {
  readonly types: Map<string, TensorType>;
  readonly values: Map<string, ConstValue>;
  readonly constants: Map<string, ConstantInfo>;
  readonly diagnostics: ShapeDiagnostic[];
}

export interface InferOptions {
  /** Opset version per domain ('' is ai.onnx). */
  readonly opsets: ReadonlyMap<string, number>;
  /** Fixed dims for graph inputs (the CLI's --input NAME=DIMS). */
  readonly inputShapes?: ReadonlyMap<string, readonly number[]>;
  readonly external?: ExternalData;
}

/** Ops that produce different values on each run, so their outputs are never constant. */
export const NONDETERMINISTIC = new Set([
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'Dropout',
]);

/** What one inference run keeps besides its result. */
interface RunOptions extends InferOptions {
  /**
   * False when --input changes a concrete dim the model declares for an input: the exporter's
   * declared shapes were computed for other input sizes, so their numbers are not merged (a
   * declared type still stands in for a tensor we know nothing about, as before).
   */
  readonly trustDeclaredDims: boolean;
  /** Disagreements between declared and inferred types reported so far (they are capped). */
  readonly conflicts: { count: number };
}

/** At most this many declared-versus-inferred disagreements are listed one by one. */
const MAX_CONFLICT_DIAGNOSTICS = 20;

export function inferShapes(view: GraphView, options: InferOptions): ShapeInference {
  const state: ShapeInference = {
    types: new Map(),
    values: new Map(),
    constants: new Map(),
    diagnostics: [],
  };
  seedGraphInputs(view, options, state);
  const run: RunOptions = {
    ...options,
    trustDeclaredDims: !overridesDeclaredInputs(view, options),
    conflicts: { count: 0 },
  };
  runGraph(view, run, state);
  if (run.conflicts.count > MAX_CONFLICT_DIAGNOSTICS) {
    state.diagnostics.push({
      severity: 'warning',
      message: `${run.conflicts.count - MAX_CONFLICT_DIAGNOSTICS} more tensors whose declared type disagrees with the inferred one (the inferred types are kept)`,
    });
  }
  return state;
}

/** True when a --input shape differs from a concrete dim (or the rank) the model declares. */
function overridesDeclaredInputs(view: GraphView, options: InferOptions): boolean {
  if (!options.inputShapes) return false;
  return view.graph.inputs.some((input) => {
    const fixed = options.inputShapes?.get(input.name);
    const shape = input.type?.kind === 'tensor' ? input.type.shape : undefined;
    if (!fixed || !shape) return false;
    return (
      shape.length !== fixed.length ||
      shape.some((d, i) => typeof d === 'number' && d >= 0 && d !== fixed[i])
    );
  });
}

function seedGraphInputs(view: GraphView, options: InferOptions, state: ShapeInference): void {
  const { graph } = view;
  for (const t of view.initializers.values()) addInitializer(t, options, state);
  for (const input of graph.inputs) {
    if (view.initializers.has(input.name)) continue;
    const declared = input.type;
    const fixed = options.inputShapes?.get(input.name);
    if (fixed) {
      if (declared?.shape && declared.shape.length !== fixed.length) {
        state.diagnostics.push({
          severity: 'error',
          message: `--input ${input.name}: the model declares rank ${declared.shape.length}, got ${fixed.length} dims`,
        });
      }
      state.types.set(input.name, { dtype: declared?.elemType ?? DataType.FLOAT, shape: fixed });
      continue;
    }
    state.types.set(
      input.name,
      declaredInputType(input) ?? { dtype: declared?.elemType ?? DataType.UNDEFINED },
    );
  }
  if (options.inputShapes) {
    for (const name of options.inputShapes.keys()) {
      if (!view.inputNames.includes(name)) {
        state.diagnostics.push({
          severity: 'error',
          message: `--input ${name}: the model has no input of that name (inputs: ${view.inputNames.join(', ')})`,
        });
      }
    }
  }
}

/**
 * A graph input's declared tensor type; a dimension with neither value nor name gets one. A
 * sequence or optional input is typed by its element type, as the rules represent it.
 */
function declaredInputType(input: ValueInfo): TensorType | undefined {
  let declared = input.type;
  while (declared && (declared.kind === 'sequence' || declared.kind === 'optional')) {
    declared = declared.inner;
  }
  if (!declared || declared.kind !== 'tensor') return undefined;
  const shape = declared.shape?.map((d, i) => (d === '' ? `${input.name}_dim${i}` : d));
  return { dtype: declared.elemType, shape };
}

function addInitializer(t: Tensor, options: InferOptions, state: ShapeInference): void {
  state.types.set(t.name, { dtype: t.dataType, shape: [...t.dims] });
  state.constants.set(t.name, { source: t.name, tensor: t });
  foldTensorValue(t.name, t, options, state);
}

/** Materialises the values of a small integer or float tensor for constant folding. */
function foldTensorValue(
  name: string,
  t: Tensor,
  options: InferOptions,
  state: ShapeInference,
): void {
  const n = elementCount(t.dims);
  // Shape arithmetic folds integers; float constants that matter to shapes (Resize scales,
  // Clip bounds, Range limits) are tiny. Weights are neither, and materialising them as JS
  // numbers would cost memory for nothing.
  const limit = isFloatType(t.dataType) ? MAX_FOLDED_FLOATS : MAX_FOLDED_ELEMENTS;
  if (n > limit || t.dataType === DataType.STRING) return;
  try {
    state.values.set(name, { dims: [...t.dims], values: tensorNumbers(t, options.external) });
  } catch {
    // Unreadable values just mean nothing is folded from this tensor; the loader reports bad data.
  }
}

function runGraph(view: GraphView, options: RunOptions, state: ShapeInference): void {
  const declared = declaredTypes(view);
  const symbolUses = new Map<string, number>();
  const nextSymbol = (name: string): number => {
    const n = (symbolUses.get(name) ?? 0) + 1;
    symbolUses.set(name, n);
    return n;
  };
  view.order.forEach((node, index) => {
    const label = nodeLabel(node, index);
    if (node.opType === 'Constant' && node.domain === '') {
      inferConstantNode(node, label, options, state);
      return;
    }
    const opset = options.opsets.get(node.domain === 'ai.onnx' ? '' : node.domain) ?? 0;
    const ctx = makeContext(node, label, opset, view, options, state, nextSymbol);
    const rule = findRule(node.domain, node.opType);
    let types: readonly (TensorType | undefined)[] = [];
    let values: readonly (ConstValue | undefined)[] | undefined;
    if (!rule) {
      state.diagnostics.push({
        severity: 'warning',
        node: label,
        message: `no shape rule for op '${node.domain ? node.domain + '.' : ''}${node.opType}': its outputs are unknown, and the rest of the model is still analysed`,
      });
    } else {
      try {
        ({ types, values } = rule(ctx));
      } catch (e) {
        const message =
          e instanceof ShapeError ? e.message : `internal error (${(e as Error).message})`;
        state.diagnostics.push({
          severity: e instanceof ShapeError ? 'error' : 'warning',
          node: label,
          message: `${node.opType}: ${message}`,
        });
        types = [];
      }
    }
    // Constant when everything it reads is: its inputs and, for If/Loop/Scan, the outer names
    // its sub-graphs read.
    const dependencies = nodeDependencies(node);
    const allInputsConstant =
      !NONDETERMINISTIC.has(node.opType) &&
      dependencies.length > 0 &&
      dependencies.every((i) => state.constants.has(i));
    node.outputs.forEach((out, i) => {
      if (out === '') return;
      const t = mergeDeclared(out, checkedType(types[i], label, state), declared.get(out), label, {
        options,
        state,
      });
      if (t) state.types.set(out, t);
      const v = values?.[i];
      if (v && v.values.length <= MAX_FOLDED_ELEMENTS) state.values.set(out, v);
      if (allInputsConstant) {
        // Identity (exporters emit it for shared weights) passes the same bytes on.
        const source =
          node.opType === 'Identity' ? (state.constants.get(node.inputs[0])?.source ?? out) : out;
        const tensor =
          node.opType === 'Identity' ? state.constants.get(node.inputs[0])?.tensor : undefined;
        state.constants.set(out, { source, tensor });
      }
    });
  });
}

/**
 * A rule's output with impossible dims (negative, fractional) is reported and its shape
 * dropped, so no later figure is computed from it. Rules should throw ShapeError first; this is
 * the net under them.
 */
function checkedType(
  t: TensorType | undefined,
  label: string,
  state: ShapeInference,
): TensorType | undefined {
  if (!t?.shape) return t;
  const bad = t.shape.find((d) => typeof d === 'number' && (d < 0 || !Number.isInteger(d)));
  if (bad === undefined) return t;
  state.diagnostics.push({
    severity: 'error',
    node: label,
    message: `inferred an invalid dimension ${bad} in [${t.shape.join(', ')}]; the shape is treated as unknown`,
  });
  return { dtype: t.dtype };
}

/**
 * The exporter's own types, by name: graph.output and value_info of this graph (a sub-graph has
 * its own). A sequence or optional is declared by its element type, as the rules represent it.
 * A dim without value or name, or a negative one, is '' (unknown).
 */
function declaredTypes(view: GraphView): Map<string, TensorType> {
  const types = new Map<string, TensorType>();
  for (const info of [...view.graph.outputs, ...view.graph.valueInfo]) {
    let t = info.type;
    while (t && (t.kind === 'sequence' || t.kind === 'optional') && t.inner) t = t.inner;
    if (!t || t.kind !== 'tensor') continue;
    const shape = t.shape?.map((d) => (typeof d === 'number' && d < 0 ? '' : d));
    types.set(info.name, { dtype: t.elemType, shape });
  }
  return types;
}

function typeText(t: TensorType): string {
  return `${dtypeName(t.dtype)}${t.shape ? `[${t.shape.map((d) => (d === '' ? '?' : d)).join(', ')}]` : '[?]'}`;
}

/**
 * A node output's inferred type merged with the type the model declares for it, as ONNX's own
 * inference merges them (shape_inference/implementation.cc): a dim we only know symbolically
 * takes the declared number, a missing element type or shape takes the declared one, and a
 * tensor we know nothing about takes the declared type. When both are known and disagree
 * (element type, rank, or two different numbers) ours is kept and a warning names both.
 */
function mergeDeclared(
  name: string,
  ours: TensorType | undefined,
  declared: TensorType | undefined,
  label: string,
  { options, state }: { options: RunOptions; state: ShapeInference },
): TensorType | undefined {
  if (!declared) return ours;
  // Declared dims without a value get a name of their own, as graph inputs' do.
  const named = declared.shape?.map((d, i) => (d === '' ? `${name}_dim${i}` : d));
  if (!ours)
    return declared.dtype === DataType.UNDEFINED ? undefined : { ...declared, shape: named };
  const conflict = (): TensorType => {
    if (++options.conflicts.count <= MAX_CONFLICT_DIAGNOSTICS) {
      state.diagnostics.push({
        severity: 'warning',
        node: label,
        message: `${name}: the model declares ${typeText(declared)} but inference gives ${typeText(ours)}; the inferred type is kept`,
      });
    }
    return ours;
  };
  const dtypeKnown = ours.dtype !== DataType.UNDEFINED && declared.dtype !== DataType.UNDEFINED;
  if (dtypeKnown && ours.dtype !== declared.dtype) return conflict();
  const dtype = ours.dtype === DataType.UNDEFINED ? declared.dtype : ours.dtype;
  if (!options.trustDeclaredDims || !named) return { dtype, shape: ours.shape };
  if (!ours.shape) return { dtype, shape: named };
  if (ours.shape.length !== named.length) return conflict();
  const differ = ours.shape.some(
    (o, i) => typeof o === 'number' && typeof named[i] === 'number' && o !== named[i],
  );
  if (differ) return conflict();
  // A symbol of ours stays when the model declares a symbol too: ours may say more (N*4).
  const shape = ours.shape.map((o, i) => (typeof named[i] === 'number' ? named[i] : o));
  return { dtype, shape };
}

function inferConstantNode(
  node: Node,
  label: string,
  options: InferOptions,
  state: ShapeInference,
): void {
  const out = node.outputs[0];
  if (!out) return;
  const a = node.attributes[0];
  let tensor: Tensor | undefined;
  let type: TensorType | undefined;
  let value: ConstValue | undefined;
  switch (a?.name) {
    case 'value':
      tensor = a.t;
      break;
    case 'sparse_value':
      if (a.sparseTensor?.values)
        type = { dtype: a.sparseTensor.values.dataType, shape: [...a.sparseTensor.dims] };
      break;
    case 'value_float':
      type = { dtype: DataType.FLOAT, shape: [] };
      value = { dims: [], values: [a.f ?? 0] };
      break;
    case 'value_floats':
      type = { dtype: DataType.FLOAT, shape: [a.floats.length] };
      value = { dims: [a.floats.length], values: [...a.floats] };
      break;
    case 'value_int':
      type = { dtype: DataType.INT64, shape: [] };
      value = { dims: [], values: [a.i ?? 0] };
      break;
    case 'value_ints':
      type = { dtype: DataType.INT64, shape: [a.ints.length] };
      value = { dims: [a.ints.length], values: [...a.ints] };
      break;
    case 'value_string':
      type = { dtype: DataType.STRING, shape: [] };
      break;
    case 'value_strings':
      type = { dtype: DataType.STRING, shape: [a.strings.length] };
      break;
  }
  if (tensor) {
    state.types.set(out, { dtype: tensor.dataType, shape: [...tensor.dims] });
    state.constants.set(out, { source: out, tensor });
    foldTensorValue(out, tensor, options, state);
    return;
  }
  if (!type) {
    state.diagnostics.push({
      severity: 'error',
      node: label,
      message: 'Constant node has no value attribute',
    });
    return;
  }
  state.types.set(out, type);
  state.constants.set(out, { source: out });
  if (value) state.values.set(out, value);
}

function makeContext(
  node: Node,
  label: string,
  opset: number,
  view: GraphView,
  options: RunOptions,
  state: ShapeInference,
  nextSymbol: (name: string) => number,
): InferContext {
  const attrs = new Map<string, Attribute>();
  for (const a of node.attributes) attrs.set(a.name, a);
  const name = (i: number): string => node.inputs[i] ?? '';
  return {
    node,
    opset,
    inputCount: node.inputs.length,
    hasInput: (i) => name(i) !== '',
    inputType: (i) => (name(i) ? state.types.get(name(i)) : undefined),
    inputValue: (i) => (name(i) ? state.values.get(name(i)) : undefined),
    valueOf: (n) => state.values.get(n),
    inputTensor: (i) => (name(i) ? state.constants.get(name(i))?.tensor : undefined),
    attr: (n) => attrs.get(n),
    attrInt: (n, fallback) => attrs.get(n)?.i ?? fallback,
    attrInts: (n) => attrs.get(n)?.ints,
    attrFloat: (n, fallback) => attrs.get(n)?.f ?? fallback,
    attrString: (n, fallback) => {
      const a = attrs.get(n);
      return a?.s ? attributeString(a) : fallback;
    },
    newSymbol: (what) => {
      // Unique per graph run: a second symbol with the same label gets a numeric suffix.
      const n = nextSymbol(`${label}_${what}`);
      return n === 1 ? `${label}_${what}` : `${label}_${what}_${n}`;
    },
    inferSubgraph: (graph: Graph, inputTypes) =>
      inferSubgraph(graph, inputTypes, view, options, state),
    warn: (message) => state.diagnostics.push({ severity: 'warning', node: label, message }),
  };
}

/**
 * Infers an If/Loop/Scan body. Its formal inputs get the given types; names from enclosing
 * scopes resolve through the shared maps. Returns the body's output types.
 */
function inferSubgraph(
  graph: Graph,
  inputTypes: readonly (TensorType | undefined)[],
  parent: GraphView,
  options: RunOptions,
  state: ShapeInference,
): (TensorType | undefined)[] {
  const view = buildGraphView(graph, parent.scopeNames);
  graph.inputs.forEach((input, i) => {
    const given = inputTypes[i];
    const t = given ?? declaredInputType(input);
    if (t) state.types.set(input.name, t);
    // A body input is never a constant, even when the value fed on the first iteration is.
    state.constants.delete(input.name);
    state.values.delete(input.name);
  });
  for (const t of view.initializers.values()) addInitializer(t, options, state);
  runGraph(view, options, state);
  return graph.outputs.map((o) => state.types.get(o.name));
}

/** Shape with every symbolic dim replaced by 1, as the cost model counts them. */
export function concreteShape(shape: readonly Dim[]): number[] {
  return shape.map((d) => (typeof d === 'number' ? d : 1));
}
