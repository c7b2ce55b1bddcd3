/**
 * Opset conversion: raises a model's default-domain (ai.onnx) opset and rewrites every node whose
 * signature or meaning changed on the way, so the converted model computes exactly what the
 * original did. This is what lets compression reach the opset it needs (DequantizeLinear 10,
 * per-channel axis 13, int4 21, int2 25) on models exported at an older one.
 *
 * The semantics follow the ONNX operator changelog (docs/Changelog.md) and onnx/version_converter,
 * with ONNX Runtime's kernels as the reference where the spec was loose (Resize-10's rounding).
 * Conversion goes version by version like the ONNX converter: an adapter registered at opset V
 * takes a node valid at V−1 and returns nodes valid at V, which later adapters take further
 * (Upsample-7 → Upsample-9 → Resize-10 → Resize-11). Sub-graphs (If/Loop/Scan bodies) and local
 * functions are converted the same way. Attributes that became inputs become new initializers
 * (Constant nodes inside functions, which have none), with names unique in the whole model.
 * Every rewrite keeps the original node's output names, so consumers, graph outputs and
 * value_info stay valid.
 *
 * Ops whose changes were additive (new optional attributes with the old behaviour as default, new
 * types, negative axes) need nothing. The converter refuses, with a one-line reason, only what has
 * no equivalent at the new opset (e.g. a linear Resize with tf_half_pixel_for_nn, a batched
 * opset-8 Scan, BatchNormalization's saved_mean output), and the few ops whose new version ONNX
 * Runtime has no kernel for (ONNX_RUNTIME_GAPS: RoiAlign-22, the random generators at 22, …), since
 * every converted model is verified and run there.
 */
import { buildGraphView, nodeLabel } from '../graph/graph';
import { float, makeAttribute, makeTensor, type AttrValue, type FloatAttr } from '../onnx/build';
import { attributeString } from '../onnx/decode';
import type { ExternalData } from '../onnx/externalData';
import { opsetVersions } from '../onnx/opsets';
import {
  AttributeType,
  DataType,
  type Attribute,
  type Graph,
  type Model,
  type Node,
  type OnnxFunction,
  type Tensor,
} from '../onnx/types';
import { inferShapes, type ShapeInference } from '../shapes/infer';
import type { TensorType } from '../shapes/types';
import { floatToHalf } from '../verify/inputs';
import { defaultOpset } from './graphEdit';
import { CompressionRefusal } from './summary';

/**
 * The newest opset the adapters cover: 25, where int2/uint2 arrived (ternary and binary weights
 * behind DequantizeLinear); ONNX Runtime 1.30 runs opsets up to 26.
 */
export const NEWEST_CONVERTIBLE_OPSET = 25;
/** The oldest source opset converted (ONNX Runtime itself runs opset 7 and later). */
export const OLDEST_CONVERTIBLE_OPSET = 6;

export interface OpsetConversion {
  readonly model: Model;
  /** 'opset raised 9 → 13 for … (Clip ×3, Upsample→Resize ×1 converted)', the IR version, … */
  readonly notes: string[];
  /** Rewritten nodes by op ('Clip', 'Upsample→Resize'), each original node counted once. */
  readonly converted: ReadonlyMap<string, number>;
}

export interface ConvertOptions {
  /** For tensors stored outside the model file (shape inference reads small constants). */
  readonly external?: ExternalData;
  /** Why the opset is raised ('per-channel scales'): named in the note and in a refusal. */
  readonly reason?: string;
  /** Appended to a refusal, e.g. a cheaper alternative that needs no conversion. */
  readonly refusalHint?: string;
}

/**
 * The model at default-domain opset `to` (never lowered: a model already at `to` or above comes
 * back as it is), its IR version raised as that opset needs. Throws CompressionRefusal when a
 * node has no equivalent at `to`.
 */
export function convertOpset(
  model: Model,
  to: number,
  options: ConvertOptions = {},
): OpsetConversion {
  const from = defaultOpset(model);
  if (from >= to) return { model, notes: [], converted: new Map() };
  try {
    return convert(model, from, to, options);
  } catch (e) {
    if (!(e instanceof CompressionRefusal) || options.reason === undefined) throw e;
    throw new CompressionRefusal(
      `${options.reason} needs opset ${to}, and opset ${from} can't be converted: ${e.message}${options.refusalHint ?? ''}`,
    );
  }
}

/**
 * Why `model` can't be converted to default-domain opset `to` (the one-line refusal convertOpset
 * would throw), or undefined when it can or already is there. Compression asks before choosing a
 * storage that needs `to` (int2 weights need 25), so that it can fall back to an older one.
 */
export function conversionRefusal(
  model: Model,
  to: number,
  options: Pick<ConvertOptions, 'external'> = {},
): string | undefined {
  try {
    convertOpset(model, to, { external: options.external });
    return undefined;
  } catch (e) {
    if (e instanceof CompressionRefusal) return e.message;
    throw e;
  }
}

/** True when convertOpset(model, to) succeeds (or the model is already at `to` or above). */
export function canConvertTo(
  model: Model,
  to: number,
  options: Pick<ConvertOptions, 'external'> = {},
): boolean {
  return conversionRefusal(model, to, options) === undefined;
}

/** The IR version an opset needs (onnx/helper.py VERSION_TABLE). */
export function minIrVersion(opset: number): number {
  if (opset >= 25) return 13;
  if (opset >= 24) return 12;
  if (opset >= 23) return 11;
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 14) return 8;
  if (opset >= 12) return 7;
  if (opset >= 11) return 6;
  return 5;
}

function convert(model: Model, from: number, to: number, options: ConvertOptions): OpsetConversion {
  if (to > NEWEST_CONVERTIBLE_OPSET) {
    throw new CompressionRefusal(
      `opset ${to} is newer than the converter knows (${NEWEST_CONVERTIBLE_OPSET})`,
    );
  }
  // 0: no default-domain import at all, so no default-domain node to convert.
  if (from > 0 && from < OLDEST_CONVERTIBLE_OPSET) {
    throw new CompressionRefusal(
      `opset ${from} is older than ${OLDEST_CONVERTIBLE_OPSET}, the oldest the converter reads`,
    );
  }
  // Inferred only when an adapter asks for a type or a constant: most nodes need neither.
  let shapes: ShapeInference | undefined;
  const lazyShapes = (): ShapeInference =>
    (shapes ??= inferShapes(buildGraphView(model.graph), {
      opsets: opsetVersions(model),
      external: options.external,
    }));
  const run = new Conversion(to, lazyShapes, model);
  const graph = run.graph(model.graph, from);
  const functions = model.functions.map((f) => run.function(f));

  const { raw: _raw, ...rest } = model;
  const hasDefault = model.opsetImport.some((o) => isDefaultDomain(o.domain));
  const opsetImport = hasDefault
    ? model.opsetImport.map((o) =>
        isDefaultDomain(o.domain) ? { extra: o.extra, domain: o.domain, version: to } : o,
      )
    : [...model.opsetImport, { extra: [], domain: '', version: to }];
  const ir = minIrVersion(to);
  const converted: Model = {
    ...rest,
    graph,
    functions,
    opsetImport,
    irVersion: Math.max(model.irVersion, ir),
  };

  const counts = [...run.converted].map(([op, n]) => `${op} ×${n}`).join(', ');
  const why = options.reason ? ` for ${options.reason}` : '';
  const notes = [
    from === 0
      ? `default-domain opset ${to} imported${why}`
      : `opset raised ${from} → ${to}${why}${counts ? ` (${counts} converted)` : ''}`,
  ];
  if (model.irVersion < ir) {
    notes.push(`IR version raised ${model.irVersion} → ${ir} (opset ${to} needs it)`);
  }
  return { model: converted, notes, converted: run.converted };
}

function isDefaultDomain(domain: string): boolean {
  return domain === '' || domain === 'ai.onnx';
}

// ---------------------------------------------------------------------------------------------
// The conversion driver
// ---------------------------------------------------------------------------------------------

/** Where an adapter's new constants go: initializers of a graph, or Constant nodes (functions). */
interface Scope {
  constant(tensor: Tensor): void;
  /** Constant nodes made for the node being adapted, emitted before it. */
  readonly pending: Node[];
}

/** What an adapter can ask and make while converting one node to `version`. */
interface Step {
  /** The opset this step lands on. */
  readonly version: number;
  /** Element type and shape of a tensor of the original model, when inferred. */
  type(name: string): TensorType | undefined;
  rank(name: string): number | undefined;
  /** The numeric values of a small constant tensor of the original model, when known. */
  values(name: string): number[] | undefined;
  /** True when some node (in any graph) or a graph output reads `name`. */
  isRead(name: string): boolean;
  /** A name unused anywhere in the model, from `${base of the node}_${suffix}`. */
  name(suffix: string): string;
  /** A new constant (initializer) named after the node; returns its name. */
  constant(
    suffix: string,
    dataType: DataType,
    dims: readonly number[],
    values: readonly number[],
  ): string;
  /** A new default-domain node named after the adapted one; `outputs` default to one fresh name. */
  node(
    opType: string,
    inputs: readonly string[],
    attrs?: Record<string, AttrValue>,
    outputs?: readonly string[],
  ): Node;
  /** Refuses the conversion, naming the node. */
  refuse(why: string): never;
  /** Marks a node as an Upsample turned Resize (its scales are ≥ 1 by Upsample's contract). */
  markUpscale(node: Node): void;
  isUpscale(node: Node): boolean;
}

type Adapter = (node: Node, step: Step) => readonly Node[] | undefined;

class Conversion {
  readonly converted = new Map<string, number>();
  private readonly names: Set<string>;
  private readonly reads: Set<string>;
  private readonly upscale = new WeakSet<Node>();

  constructor(
    private readonly to: number,
    private readonly shapes: () => ShapeInference,
    model: Model,
  ) {
    this.names = new Set();
    this.reads = new Set();
    const visit = (g: Graph): void => {
      for (const i of [...g.inputs, ...g.outputs, ...g.valueInfo]) this.names.add(i.name);
      for (const o of g.outputs) this.reads.add(o.name);
      for (const t of g.initializers) this.names.add(t.name);
      visitNodes(g.nodes);
    };
    const visitNodes = (nodes: readonly Node[]): void => {
      for (const n of nodes) {
        this.names.add(n.name);
        for (const o of n.outputs) this.names.add(o);
        for (const i of n.inputs) this.reads.add(i);
        for (const a of n.attributes) for (const g of subgraphs(a)) visit(g);
      }
    };
    visit(model.graph);
    for (const f of model.functions) {
      for (const n of [...f.inputs, ...f.outputs]) this.names.add(n);
      for (const o of f.outputs) this.reads.add(o);
      visitNodes(f.nodes);
    }
  }

  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** The graph with every node converted from `from` to the target; new constants as initializers. */
  graph(g: Graph, from: number): Graph {
    const added: Tensor[] = [];
    const scope: Scope = { constant: (t) => added.push(t), pending: [] };
    const nodes = this.nodes(g.nodes, from, scope);
    if (!nodes && added.length === 0) return g;
    const { raw: _raw, ...rest } = g;
    return { ...rest, nodes: nodes ?? g.nodes, initializers: [...g.initializers, ...added] };
  }

  /** A local function converted from its own default-domain opset; constants as Constant nodes. */
  function(f: OnnxFunction): OnnxFunction {
    const own = f.opsetImport.find((o) => isDefaultDomain(o.domain));
    if (!own || own.version >= this.to) return f;
    if (own.version < OLDEST_CONVERTIBLE_OPSET) {
      throw new CompressionRefusal(
        `function '${f.name}' imports opset ${own.version}, older than ${OLDEST_CONVERTIBLE_OPSET}`,
      );
    }
    const pending: Node[] = [];
    const scope: Scope = {
      constant: (t) =>
        pending.push(
          newNode(
            this.uniqueName(`${t.name}_Constant`),
            'Constant',
            [],
            [t.name],
            [makeAttribute('value', t)],
          ),
        ),
      pending,
    };
    const nodes = this.nodes(f.nodes, own.version, scope) ?? f.nodes;
    const { raw: _raw, ...rest } = f;
    const opsetImport = f.opsetImport.map((o) =>
      isDefaultDomain(o.domain) ? { extra: o.extra, domain: o.domain, version: this.to } : o,
    );
    return { ...rest, nodes, opsetImport };
  }

  /** The converted node list, or undefined when no node changed. */
  private nodes(nodes: readonly Node[], from: number, scope: Scope): Node[] | undefined {
    let changed = false;
    const out: Node[] = [];
    for (const original of nodes) {
      const node = this.withSubgraphs(original, from);
      const result = this.upgrade(node, from, scope);
      if (result.length !== 1 || result[0] !== node) this.count(original, result);
      if (result.length !== 1 || result[0] !== original) changed = true;
      out.push(...result);
    }
    return changed ? out : undefined;
  }

  private count(original: Node, result: readonly Node[]): void {
    const ops = [...new Set(result.filter((n) => n.opType !== 'Constant').map((n) => n.opType))];
    const key = ops.includes(original.opType)
      ? original.opType
      : `${original.opType}→${ops.join('+')}`;
    this.converted.set(key, (this.converted.get(key) ?? 0) + 1);
  }

  /** The node with its If/Loop/Scan bodies (any graph attribute) converted. */
  private withSubgraphs(node: Node, from: number): Node {
    let changed = false;
    const attributes = node.attributes.map((a) => {
      if (!a.g && a.graphs.length === 0) return a;
      const g = a.g ? this.graph(a.g, from) : undefined;
      const graphs = a.graphs.map((sub) => this.graph(sub, from));
      if (g === a.g && graphs.every((sub, i) => sub === a.graphs[i])) return a;
      changed = true;
      const { raw: _raw, ...rest } = a;
      return { ...rest, g, graphs };
    });
    return changed ? edit(node, { attributes }) : node;
  }

  /** Applies the adapters from `from` (exclusive) to the target, each on the previous one's output. */
  private upgrade(node: Node, from: number, scope: Scope): Node[] {
    if (!isDefaultDomain(node.domain)) return [node];
    const gap = ONNX_RUNTIME_GAPS.get(node.opType);
    if (gap !== undefined && from < gap && gap <= this.to) {
      throw new CompressionRefusal(
        `${node.opType} '${nodeLabel(node)}' would become ${node.opType}-${gap}, which ONNX Runtime has no kernel for (it runs the opset-${gap - 1} form)`,
      );
    }
    for (const { version, adapt } of ADAPTERS.get(node.opType) ?? []) {
      if (version <= from || version > this.to) continue;
      const result = adapt(node, this.step(version, node, scope));
      if (!result) continue;
      const before = scope.pending.splice(0);
      return [...before, ...result.flatMap((n) => this.upgrade(n, version, scope))];
    }
    return [node];
  }

  private step(version: number, node: Node, scope: Scope): Step {
    const base = node.name || node.outputs[0] || node.opType;
    const label = nodeLabel(node);
    const type = (name: string): TensorType | undefined =>
      name ? this.shapes().types.get(name) : undefined;
    return {
      version,
      type,
      rank: (name) => type(name)?.shape?.length,
      values: (name) => {
        const v = name ? this.shapes().values.get(name) : undefined;
        return v?.values.every((x) => typeof x === 'number') ? (v.values as number[]) : undefined;
      },
      isRead: (name) => this.reads.has(name),
      name: (suffix) => this.uniqueName(`${base}_${suffix}`),
      constant: (suffix, dataType, dims, values) => {
        const name = this.uniqueName(`${base}_${suffix}`);
        scope.constant(constantTensor(name, dataType, dims, values));
        return name;
      },
      node: (opType, inputs, attrs = {}, outputs) => {
        const name = this.uniqueName(`${base}_${opType}`);
        const outs = outputs ?? [this.uniqueName(`${name}_output`)];
        const attributes = Object.entries(attrs).map(([k, v]) => makeAttribute(k, v));
        return newNode(name, opType, inputs, outs, attributes);
      },
      refuse: (why) => {
        throw new CompressionRefusal(`${node.opType} '${label}' ${why}`);
      },
      markUpscale: (n) => this.upscale.add(n),
      isUpscale: (n) => this.upscale.has(n),
    };
  }
}

function subgraphs(a: Attribute): Graph[] {
  return a.g ? [a.g, ...a.graphs] : [...a.graphs];
}

function newNode(
  name: string,
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: Attribute[],
): Node {
  return {
    extra: [],
    name,
    opType,
    domain: '',
    inputs: [...inputs],
    outputs: [...outputs],
    attributes,
    docString: '',
  };
}

/** A copy of `node` (its other fields kept, `raw` dropped so it is re-encoded) with changes. */
function edit(
  node: Node,
  changes: {
    opType?: string;
    inputs?: readonly string[];
    outputs?: readonly string[];
    attributes?: readonly Attribute[];
    /** Attributes to drop. */
    remove?: readonly string[];
    /** Attributes to add or replace (in place). */
    set?: Record<string, AttrValue>;
  },
): Node {
  const { raw: _raw, ...rest } = node;
  const set = changes.set ?? {};
  const drop = new Set(changes.remove ?? []);
  let attributes = (changes.attributes ?? node.attributes)
    .filter((a) => !drop.has(a.name))
    .map((a) => (a.name in set ? makeAttribute(a.name, set[a.name]) : a));
  for (const [k, v] of Object.entries(set)) {
    if (!attributes.some((a) => a.name === k)) attributes = [...attributes, makeAttribute(k, v)];
  }
  let inputs = [...(changes.inputs ?? node.inputs)];
  // Trailing omitted optional inputs are dropped, as exporters write them.
  while (inputs.length > 0 && inputs[inputs.length - 1] === '') inputs = inputs.slice(0, -1);
  return {
    ...rest,
    opType: changes.opType ?? node.opType,
    inputs,
    outputs: [...(changes.outputs ?? node.outputs)],
    attributes,
  };
}

// ---------------------------------------------------------------------------------------------
// Attribute and tensor helpers
// ---------------------------------------------------------------------------------------------

function attr(n: Node, name: string): Attribute | undefined {
  return n.attributes.find((a) => a.name === name);
}

/** Refuses an attribute that refers to a function's attribute: its value isn't known here. */
function literal(n: Node, name: string, step: Step): Attribute | undefined {
  const a = attr(n, name);
  if (a?.refAttrName) {
    step.refuse(
      `takes '${name}' from its function's attribute '${a.refAttrName}', which can't become a constant input`,
    );
  }
  return a;
}

function intOf(a: Attribute): number {
  return a.type === AttributeType.FLOAT ? (a.f ?? 0) : (a.i ?? 0);
}

function floatOf(a: Attribute): number {
  return a.type === AttributeType.INT ? (a.i ?? 0) : (a.f ?? 0);
}

function intsOf(a: Attribute): number[] {
  return a.type === AttributeType.INT ? [a.i ?? 0] : [...a.ints];
}

function stringOf(a: Attribute | undefined): string | undefined {
  return a ? attributeString(a) : undefined;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * A new tensor from plain numbers. int64 values are clamped to the int64 range: an attribute
 * holding INT64_MAX (Slice's "to the end") reads back as 2^63, which would wrap negative.
 */
function constantTensor(
  name: string,
  dataType: DataType,
  dims: readonly number[],
  values: readonly number[],
): Tensor {
  if (dataType === DataType.INT64) {
    const big = values.map((v) => {
      const b = BigInt(Math.trunc(v));
      return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
    });
    return makeTensor(name, dataType, dims, new Uint8Array(BigInt64Array.from(big).buffer));
  }
  if (dataType === DataType.FLOAT16)
    return makeTensor(name, dataType, dims, values.map(floatToHalf));
  return makeTensor(name, dataType, dims, values);
}

/** The float type a bound or pad value is stored in: the input's, or float32 when unknown. */
function floatTypeOf(step: Step, name: string): DataType {
  const dt = step.type(name)?.dtype;
  return dt === DataType.FLOAT16 || dt === DataType.DOUBLE ? dt : DataType.FLOAT;
}

// ---------------------------------------------------------------------------------------------
// The adapters, by the opset at which the op changed
// ---------------------------------------------------------------------------------------------

const ADAPTERS = new Map<string, { version: number; adapt: Adapter }[]>();

function register(ops: string | readonly string[], version: number, adapt: Adapter): void {
  for (const op of typeof ops === 'string' ? [ops] : ops) {
    const list = ADAPTERS.get(op) ?? [];
    list.push({ version, adapt });
    list.sort((a, b) => a.version - b.version);
    ADAPTERS.set(op, list);
  }
}

/** The ops that changed at some opset the converter covers, with those opsets (for docs and tests). */
export function adaptedOps(): Map<string, number[]> {
  return new Map([...ADAPTERS].map(([op, list]) => [op, list.map((a) => a.version)]));
}

/** An attribute that became an int64 input (axes, split, …): `[data, <attr as tensor>]`. */
function intsAttributeToInput(name: string): Adapter {
  return (n, s) => {
    const a = literal(n, name, s);
    if (!a) return undefined;
    const values = intsOf(a);
    const input = s.constant(name, DataType.INT64, [values.length], values);
    return [edit(n, { inputs: [n.inputs[0], input], remove: [name] })];
  };
}

// ---- opset 7: numpy broadcasting replaces `broadcast`/`axis`; is_test goes ----

register(
  ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less'],
  7,
  (n, s) => {
    const broadcast = attr(n, 'broadcast');
    const axisAttr = attr(n, 'axis');
    if (!broadcast && !axisAttr) return undefined;
    const plain = edit(n, { remove: ['broadcast', 'axis'] });
    // Without `broadcast` both shapes were equal; without `axis`, B matched A's trailing dims.
    if (!broadcast || intOf(broadcast) === 0 || !axisAttr) return [plain];
    const ra = s.rank(n.inputs[0]);
    const rb = s.rank(n.inputs[1]);
    if (ra === undefined || rb === undefined) {
      return s.refuse(
        `broadcasts its second input from axis ${intOf(axisAttr)} and the ranks are unknown`,
      );
    }
    const axis = intOf(axisAttr) < 0 ? intOf(axisAttr) + ra : intOf(axisAttr);
    const trailing = ra - axis - rb;
    if (trailing <= 0) return [plain];
    // B aligned at `axis` = B with trailing 1s, under numpy broadcasting.
    const axes = Array.from({ length: trailing }, (_, i) => rb + i);
    const unsqueeze = s.node('Unsqueeze', [n.inputs[1]], { axes });
    return [unsqueeze, edit(plain, { inputs: [n.inputs[0], unsqueeze.outputs[0]] })];
  },
);

register('Gemm', 7, (n) =>
  attr(n, 'broadcast') ? [edit(n, { remove: ['broadcast'] })] : undefined,
);

register(['BatchNormalization', 'Dropout'], 7, (n) =>
  attr(n, 'is_test') ? [edit(n, { remove: ['is_test'] })] : undefined,
);

register(['RNN', 'GRU', 'LSTM'], 7, (n) =>
  attr(n, 'output_sequence') ? [edit(n, { remove: ['output_sequence'] })] : undefined,
);

// PRelu-6 applied a 1-D slope per channel (axis 1); PRelu-7 broadcasts it numpy-style (last axis).
register('PRelu', 7, (n, s) => {
  const slope = s.type(n.inputs[1])?.shape;
  const rx = s.rank(n.inputs[0]);
  if (slope?.length !== 1 || slope[0] === 1 || rx === 2) return undefined;
  if (rx === undefined) return s.refuse('has a per-channel slope and an input of unknown rank');
  const axes = Array.from({ length: rx - 2 }, (_, i) => i + 1);
  const unsqueeze = s.node('Unsqueeze', [n.inputs[1]], { axes });
  return [unsqueeze, edit(n, { inputs: [n.inputs[0], unsqueeze.outputs[0]] })];
});

register('Upsample', 7, (n, s) => {
  const h = literal(n, 'height_scale', s);
  const w = literal(n, 'width_scale', s);
  if (!h && !w) return undefined;
  const mode = stringOf(attr(n, 'mode')) === 'bilinear' ? 'linear' : 'nearest';
  const scales = [1, 1, h ? floatOf(h) : 1, w ? floatOf(w) : 1].map(float32);
  return [edit(n, { remove: ['height_scale', 'width_scale'], set: { mode, scales } })];
});

// ---- opset 9 ----

// BatchNormalization-9 dropped `spatial`: non-spatial (per-activation) statistics become a
// BatchNormalization over the input flattened to [N, C·D1·…], as the changelog suggests.
register('BatchNormalization', 9, (n, s) => {
  const spatial = attr(n, 'spatial');
  if (!spatial) return undefined;
  const plain = edit(n, { remove: ['spatial'] });
  if (intOf(spatial) !== 0) return [plain];
  if (n.outputs.slice(1).some((o) => o !== '')) {
    s.refuse('is non-spatial (spatial=0) in training mode, which opset 9 has no form for');
  }
  const [x, ...params] = n.inputs;
  const shape = s.node('Shape', [x]);
  const flat = s.node('Flatten', [x], { axis: 1 });
  const minusOne = s.constant('flat_shape', DataType.INT64, [1], [-1]);
  const reshaped = params.map((p) => s.node('Reshape', [p, minusOne]));
  const y = s.name('flat_output');
  const bn = edit(plain, {
    inputs: [flat.outputs[0], ...reshaped.map((r) => r.outputs[0])],
    outputs: [y],
  });
  const back = s.node('Reshape', [y, shape.outputs[0]], {}, [n.outputs[0]]);
  return [shape, flat, ...reshaped, bn, back];
});

register('Upsample', 9, (n, s) => {
  const a = literal(n, 'scales', s);
  if (!a) return undefined;
  const scales = s.constant('scales', DataType.FLOAT, [a.floats.length], a.floats);
  return [edit(n, { inputs: [n.inputs[0], scales], remove: ['scales'] })];
});

// MeanVarianceNormalization was experimental before 9 (across_channels, normalize_variance);
// MVN-9 normalizes over `axes`, always dividing by the standard deviation.
register('MeanVarianceNormalization', 9, (n, s) => {
  if (attr(n, 'axes')) return undefined;
  const rank = s.rank(n.inputs[0]) ?? 4;
  const across = attr(n, 'across_channels');
  const first = across && intOf(across) !== 0 ? 1 : 2;
  const axes = Array.from({ length: rank - first }, (_, i) => first + i);
  const variance = attr(n, 'normalize_variance');
  if (!variance || intOf(variance) !== 0) {
    return [edit(n, { remove: ['across_channels', 'normalize_variance'], set: { axes } })];
  }
  const mean = s.node('ReduceMean', [n.inputs[0]], { axes, keepdims: 1 });
  return [mean, s.node('Sub', [n.inputs[0], mean.outputs[0]], {}, n.outputs)];
});

// Scan-8 ran over a batch axis (and took sequence_lens); Scan-9 has neither. A batch of one
// converts exactly: squeeze it off every input, run Scan-9, put it back on every output.
register('Scan', 9, (n, s) => {
  if (n.inputs[0]) s.refuse('passes sequence_lens, which opset 9 has no input for');
  const inputs = n.inputs.slice(1);
  const batches = inputs.map((i) => s.type(i)?.shape?.[0]);
  if (!batches.every((b) => b === 1)) {
    const known = batches.find((b) => typeof b === 'number' && b !== 1);
    s.refuse(
      `runs over ${known !== undefined ? `a batch of ${known}` : 'a batch axis of unknown size'}; opset 9's Scan has no batch axis (only a batch of 1 converts)`,
    );
  }
  const squeezes = inputs.map((i) => s.node('Squeeze', [i], { axes: [0] }));
  const outputs = n.outputs.map((o) => (o ? s.name(`${o}_unbatched`) : ''));
  const unsqueezes = n.outputs.flatMap((o, i) =>
    o ? [s.node('Unsqueeze', [outputs[i]], { axes: [0] }, [o])] : [],
  );
  const directions = attr(n, 'directions');
  const scan = edit(n, {
    inputs: squeezes.map((q) => q.outputs[0]),
    outputs,
    remove: ['directions'],
    set: directions ? { scan_input_directions: [...directions.ints] } : {},
  });
  return [...squeezes, scan, ...unsqueezes];
});

// ---- opset 10 ----

// The experimental ops ONNX removed at opset 10 (ONNX Runtime runs them up to opset 9), as the
// standard ops they stood for. Attribute defaults are ONNX Runtime's.

/** `x · scale + bias`, without the Mul when scale is 1 and the Add when there is no bias. */
function scaleShift(n: Node, s: Step, scale: number, bias: string | undefined): Node[] {
  const dt = floatTypeOf(s, n.inputs[0]);
  const out: Node[] = [];
  let x = n.inputs[0];
  const last = (): readonly string[] | undefined => (bias === undefined ? n.outputs : undefined);
  if (scale !== 1 || bias === undefined) {
    const mul = s.node('Mul', [x, s.constant('scale', dt, [], [scale])], {}, last());
    out.push(mul);
    x = mul.outputs[0];
  }
  if (bias !== undefined) out.push(s.node('Add', [x, bias], {}, n.outputs));
  return out;
}

const floatAttrOr = (n: Node, name: string, fallback: number): number => {
  const a = attr(n, name);
  return a ? floatOf(a) : fallback;
};

// ImageScaler: x · scale + bias[c] on NCHW.
register('ImageScaler', 10, (n, s) => {
  const bias = attr(n, 'bias')?.floats ?? [];
  const biasName =
    bias.length > 0
      ? s.constant('bias', floatTypeOf(s, n.inputs[0]), [1, bias.length, 1, 1], bias)
      : undefined;
  return scaleShift(n, s, floatAttrOr(n, 'scale', 1), biasName);
});

register('Affine', 10, (n, s) => {
  const beta = floatAttrOr(n, 'beta', 0);
  const bias = beta !== 0 ? s.constant('beta', floatTypeOf(s, n.inputs[0]), [], [beta]) : undefined;
  return scaleShift(n, s, floatAttrOr(n, 'alpha', 1), bias);
});

register('Scale', 10, (n, s) => scaleShift(n, s, floatAttrOr(n, 'scale', 1), undefined));

/** `alpha · f(beta · x)` for an elementwise f. */
function scaledActivation(op: string): Adapter {
  return (n, s) => {
    const dt = floatTypeOf(s, n.inputs[0]);
    const beta = s.constant('beta', dt, [], [floatAttrOr(n, 'beta', 1)]);
    const inner = s.node('Mul', [n.inputs[0], beta]);
    const f = s.node(op, [inner.outputs[0]]);
    const alpha = s.constant('alpha', dt, [], [floatAttrOr(n, 'alpha', 1)]);
    return [inner, f, s.node('Mul', [f.outputs[0], alpha], {}, n.outputs)];
  };
}
register('ScaledTanh', 10, scaledActivation('Tanh'));
register('ParametricSoftplus', 10, scaledActivation('Softplus'));

// Crop: border [left, top, right, bottom] on NCHW, or a [height, width] window from (top, left).
register('Crop', 10, (n, s) => {
  const [left, top, right, bottom] = attr(n, 'border')?.ints ?? [0, 0, 0, 0];
  const scale = attr(n, 'scale')?.ints;
  const end = (border: number): number => (border > 0 ? -border : Number.MAX_SAFE_INTEGER);
  const ends = scale ? [top + scale[0], left + scale[1]] : [end(bottom), end(right)];
  const inputs = [
    n.inputs[0],
    s.constant('starts', DataType.INT64, [2], [top, left]),
    s.constant('ends', DataType.INT64, [2], ends),
    s.constant('axes', DataType.INT64, [2], [2, 3]),
  ];
  return [s.node('Slice', inputs, {}, n.outputs)];
});

register('DynamicSlice', 10, (n) => [edit(n, { opType: 'Slice' })]);

register(['ATen', 'GRUUnit', 'GivenTensorFill', 'ConstantFill'], 10, (n, s) =>
  s.refuse(`is an experimental op that opset 10 removed, with no standard equivalent here`),
);

register('Slice', 10, (n, s) => {
  const starts = literal(n, 'starts', s);
  const ends = literal(n, 'ends', s);
  if (!starts || !ends) return undefined;
  const axes = literal(n, 'axes', s);
  const input = (name: string, a: Attribute): string =>
    s.constant(name, DataType.INT64, [intsOf(a).length], intsOf(a));
  const inputs = [n.inputs[0], input('starts', starts), input('ends', ends)];
  if (axes) inputs.push(input('axes', axes));
  return [edit(n, { inputs, remove: ['starts', 'ends', 'axes'] })];
});

register('TopK', 10, (n, s) => {
  const k = literal(n, 'k', s);
  if (!k) return undefined;
  const input = s.constant('k', DataType.INT64, [1], [intOf(k)]);
  return [edit(n, { inputs: [n.inputs[0], input], remove: ['k'] })];
});

// Upsample-9 and Resize-10 compute the same thing (asymmetric coordinates, ONNX Runtime's
// "simple" nearest rounding); Upsample is deprecated from 10.
register('Upsample', 10, (n, s) => {
  const resize = edit(n, { opType: 'Resize' });
  s.markUpscale(resize);
  return [resize];
});

// Dropout-10's mask is bool (before, the input's type): a mask someone reads is cast back.
register('Dropout', 10, (n, s) => {
  const mask = n.outputs[1];
  if (!mask || !s.isRead(mask)) return undefined;
  const boolMask = s.name('mask_bool');
  const to = s.type(n.inputs[0])?.dtype ?? DataType.FLOAT;
  return [
    edit(n, { outputs: [n.outputs[0], boolMask] }),
    s.node('Cast', [boolMask], { to }, [mask]),
  ];
});

// ---- opset 11 ----

// Clip-11 takes min/max as optional scalar inputs of the input's type. An absent bound stays
// absent (no bound), as the ONNX converter does; Clip-6's default bounds were ±FLT_MAX, which
// differs only in mapping ±inf to ±FLT_MAX.
register('Clip', 11, (n, s) => {
  const lo = literal(n, 'min', s);
  const hi = literal(n, 'max', s);
  if (!lo && !hi) return undefined;
  const dt = floatTypeOf(s, n.inputs[0]);
  const bound = (name: string, a: Attribute | undefined): string =>
    a ? s.constant(name, dt, [], [floatOf(a)]) : '';
  return [
    edit(n, { inputs: [n.inputs[0], bound('min', lo), bound('max', hi)], remove: ['min', 'max'] }),
  ];
});

register('Pad', 11, (n, s) => {
  const pads = literal(n, 'pads', s) ?? literal(n, 'paddings', s);
  if (!pads) return undefined;
  const mode = stringOf(attr(n, 'mode')) ?? 'constant';
  const value = literal(n, 'value', s);
  const padValues = intsOf(pads);
  const inputs = [n.inputs[0], s.constant('pads', DataType.INT64, [padValues.length], padValues)];
  if (mode === 'constant' && value && floatOf(value) !== 0) {
    inputs.push(s.constant('constant_value', floatTypeOf(s, n.inputs[0]), [], [floatOf(value)]));
  }
  return [edit(n, { inputs, remove: ['pads', 'paddings', 'value'] })];
});

// Resize-10 (and Upsample) used asymmetric coordinates; its nearest rounding (ONNX Runtime's
// "simple") floors on enlarged axes and takes the ceiling on shrunk ones. Resize-11 defaults to
// half_pixel and one rounding for every axis, so both are set explicitly; mixed scales split
// into a shrinking Resize then an enlarging one (nearest is separable per axis).
register('Resize', 11, (n, s) => {
  if (n.inputs.length !== 2) return undefined;
  const [x, scales] = n.inputs;
  const mode = stringOf(attr(n, 'mode')) ?? 'nearest';
  const roi = (): string => s.constant('roi', DataType.FLOAT, [0], []);
  const set = { coordinate_transformation_mode: 'asymmetric' };
  if (mode !== 'nearest') return [edit(n, { inputs: [x, roi(), scales], set })];
  const values = s.values(scales);
  const up = s.isUpscale(n) || values?.every((v) => v >= 1);
  if (up || values?.every((v) => v <= 1)) {
    const nearest_mode = up ? 'floor' : 'ceil';
    return [edit(n, { inputs: [x, roi(), scales], set: { ...set, nearest_mode } })];
  }
  if (!values) {
    return s.refuse(
      "(nearest) reads its scales at run time: opset 10 floors on enlarged axes and rounds up on shrunk ones, and opset 11's Resize has one rounding for all axes",
    );
  }
  const r = roi();
  const down = s.constant(
    'scales_down',
    DataType.FLOAT,
    [values.length],
    values.map((v) => Math.min(v, 1)),
  );
  const upScales = s.constant(
    'scales_up',
    DataType.FLOAT,
    [values.length],
    values.map((v) => Math.max(v, 1)),
  );
  const mid = s.name('shrunk');
  return [
    edit(n, { inputs: [x, r, down], outputs: [mid], set: { ...set, nearest_mode: 'ceil' } }),
    s.node('Resize', [mid, r, upScales], { mode, ...set, nearest_mode: 'floor' }, n.outputs),
  ];
});

register('Scatter', 11, (n) => [edit(n, { opType: 'ScatterElements' })]);

// ---- opset 12 ----

register('Dropout', 12, (n, s) => {
  const ratio = literal(n, 'ratio', s);
  if (!ratio) return undefined;
  const input = s.constant('ratio', DataType.FLOAT, [], [floatOf(ratio)]);
  return [edit(n, { inputs: [n.inputs[0], input], remove: ['ratio'] })];
});

// ---- opset 13 ----

register(['ReduceSum', 'Squeeze', 'Unsqueeze'], 13, intsAttributeToInput('axes'));
register('Split', 13, intsAttributeToInput('split'));

// Softmax/LogSoftmax/Hardmax before 13 coerced the input to 2-D at `axis` (default 1) and
// normalized over everything after it; from 13 they normalize over the one axis (default −1).
// The same when `axis` is the last; otherwise Flatten → op over the last axis → Reshape back.
register(['Softmax', 'LogSoftmax', 'Hardmax'], 13, (n, s) => {
  const a = attr(n, 'axis');
  const axis = a ? intOf(a) : 1;
  const rank = s.rank(n.inputs[0]);
  if (rank !== undefined && (axis < 0 ? axis + rank : axis) === rank - 1) return undefined;
  const x = n.inputs[0];
  const shape = s.node('Shape', [x]);
  const flat = s.node('Flatten', [x], { axis });
  const y = s.name('flat_output');
  const op = edit(n, { inputs: [flat.outputs[0]], outputs: [y], set: { axis: -1 } });
  const back = s.node('Reshape', [y, shape.outputs[0]], {}, [n.outputs[0]]);
  return [shape, flat, op, back];
});

// Resize-13 dropped tf_half_pixel_for_nn (x = (x' + 0.5) / scale). For nearest it is half_pixel
// shifted by half a pixel, which a rounding change absorbs: floor(x) = round_prefer_ceil(x − ½)
// and round_prefer_floor(x) = ceil(x − ½).
register('Resize', 13, (n, s) => {
  if (stringOf(attr(n, 'coordinate_transformation_mode')) !== 'tf_half_pixel_for_nn') {
    return undefined;
  }
  const mode = stringOf(attr(n, 'mode')) ?? 'nearest';
  const rounding = stringOf(attr(n, 'nearest_mode')) ?? 'round_prefer_floor';
  const equivalent = { floor: 'round_prefer_ceil', round_prefer_floor: 'ceil' }[rounding];
  if (mode !== 'nearest' || !equivalent) {
    return s.refuse(
      `(${mode}${mode === 'nearest' ? `, ${rounding}` : ''}) uses tf_half_pixel_for_nn, which opset 13 removed and no remaining mode reproduces`,
    );
  }
  return [
    edit(n, {
      set: { coordinate_transformation_mode: 'half_pixel', nearest_mode: equivalent },
    }),
  ];
});

// ---- opset 14 ----

// BatchNormalization before 14 ran in training mode whenever it had more than one output
// (Y, mean, var, saved_mean, saved_var); 14 has training_mode and no saved_mean/saved_var.
register('BatchNormalization', 14, (n, s) => {
  if (n.outputs.length <= 1) return undefined;
  const outputs = [...n.outputs];
  while (outputs.length > 1 && outputs[outputs.length - 1] === '') outputs.pop();
  if (outputs.length > 3) {
    s.refuse('outputs saved_mean/saved_var (training), which opset 14 removed');
  }
  if (outputs.length === 1) return [edit(n, { outputs })];
  return [edit(n, { outputs, set: { training_mode: 1 } })];
});

// ---- opset 16 ----

// RoiAlign-16 added coordinate_transformation_mode with default half_pixel; before, it was
// output_half_pixel.
register('RoiAlign', 16, (n) =>
  attr(n, 'coordinate_transformation_mode')
    ? undefined
    : [edit(n, { set: { coordinate_transformation_mode: 'output_half_pixel' } })],
);

// ---- opset 18 ----

const REDUCE_18 = [
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceProd',
  'ReduceSumSquare',
];
register(REDUCE_18, 18, intsAttributeToInput('axes'));

// Split-18 needs the `split` input or `num_outputs`; without either it used to split evenly.
register('Split', 18, (n) =>
  n.inputs[1] || attr(n, 'num_outputs')
    ? undefined
    : [edit(n, { set: { num_outputs: n.outputs.length } })],
);

// ---- opset 20 ----

// DFT-20 takes the axis as its third input, with default −2 instead of DFT-17's 1.
register('DFT', 20, (n, s) => {
  const a = literal(n, 'axis', s);
  const axis = s.constant('axis', DataType.INT64, [], [a ? intOf(a) : 1]);
  return [edit(n, { inputs: [n.inputs[0], n.inputs[1] ?? '', axis], remove: ['axis'] })];
});

register('GridSample', 20, (n) => {
  const mode = stringOf(attr(n, 'mode'));
  const renamed = mode === 'bilinear' ? 'linear' : mode === 'bicubic' ? 'cubic' : undefined;
  return renamed ? [edit(n, { set: { mode: renamed } })] : undefined;
});

// ---- opset 21 ----

// GroupNormalization-21 takes scale and bias per channel [C] instead of per group [G]: each
// group's value repeated C/G times. Constants are expanded here; others at run time.
register('GroupNormalization', 21, (n, s) => {
  const groups = attr(n, 'num_groups');
  if (!groups) return undefined;
  const g = intOf(groups);
  const [x, scale, bias] = n.inputs;
  const dt = s.type(x)?.dtype;
  const stash: Record<string, AttrValue> =
    dt !== undefined && dt !== DataType.FLOAT ? { stash_type: dt } : {};
  const c = s.type(x)?.shape?.[1];
  const scaleValues = s.values(scale);
  const biasValues = s.values(bias);
  if (typeof c === 'number' && c % g === 0 && scaleValues && biasValues) {
    const repeat = (values: number[]): number[] =>
      Array.from({ length: c }, (_, i) => values[Math.floor(i / (c / g))]);
    const pdt = s.type(scale)?.dtype ?? DataType.FLOAT;
    const newScale = s.constant('scale_per_channel', pdt, [c], repeat(scaleValues));
    const newBias = s.constant('bias_per_channel', pdt, [c], repeat(biasValues));
    return [edit(n, { inputs: [x, newScale, newBias], set: stash })];
  }
  // [G] → [G, 1] → Expand to [G, C/G] → [C], with C read from the input's shape.
  const channels = s.node('Shape', [x], { start: 1, end: 2 });
  const groupCount = s.constant('num_groups', DataType.INT64, [1], [g]);
  const perGroup = s.node('Div', [channels.outputs[0], groupCount]);
  const one = s.constant('one', DataType.INT64, [1], [1]);
  const expandShape = s.node('Concat', [one, perGroup.outputs[0]], { axis: 0 });
  const column = s.constant('column', DataType.INT64, [2], [-1, 1]);
  const flat = s.constant('flat', DataType.INT64, [1], [-1]);
  const perChannel = (input: string): Node[] => {
    const r = s.node('Reshape', [input, column]);
    const e = s.node('Expand', [r.outputs[0], expandShape.outputs[0]]);
    const f = s.node('Reshape', [e.outputs[0], flat]);
    return [r, e, f];
  };
  const scaleNodes = perChannel(scale);
  const biasNodes = perChannel(bias);
  const gn = edit(n, {
    inputs: [x, scaleNodes[2].outputs[0], biasNodes[2].outputs[0]],
    set: stash,
  });
  return [channels, perGroup, expandShape, ...scaleNodes, ...biasNodes, gn];
});

// ---- opsets 22 to 25: no adapter needed ----
//
// Every op with a new version here (docs/Changelog.md) changed only in ways the old nodes keep
// meaning, which is also how onnx/version_converter registers them (CompatibleAdapter):
//
// - 22: bfloat16 added to ~50 float ops (Conv, ConvTranspose, the pools, the activations, the
//   trigonometric ops, RNN/GRU/LSTM, InstanceNormalization, GridSample, RoiAlign, the random
//   generators, …) and float8 to Dropout. AveragePool/MaxPool-22's "windows that would start in
//   the right padded region are ignored" (ceil_mode) documents onnx#5741, a fix made to the shape
//   inference of every pool version, which ONNX Runtime computes the same at 21 and 22 (tested).
//   Dropout's and EyeLike's other text changes are wording only.
// - 23: float4e2m1 added (Cast, CastLike, Constant, ConstantOfShape, Flatten, Identity, If, Loop,
//   Pad, Reshape, Scan, Shape, Size, Squeeze, Transpose, Unsqueeze, QuantizeLinear,
//   DequantizeLinear); QuantizeLinear gains `precision` and a scale type of its own,
//   DequantizeLinear `output_dtype`, both defaulting to the old behaviour (the scale's type).
//   Attention, RMSNormalization and RotaryEmbedding are new.
// - 24: float8e8m0 added to the same ops; Cast/CastLike gain `round_mode` (e8m0 only); TopK and
//   SplitToSequence gain bfloat16; Attention gains the optional `nonpad_kv_seqlen` input (without
//   it the causal offset is past_sequence_length, as at 23); Swish and TensorScatter are new.
//   Cast-24 also states that a saturating cast of ±Inf to float8e4m3fnuz/e5m2fnuz gives ±max
//   where 19–23's table said NaN (onnx#7130): the ONNX reference and ONNX Runtime already gave
//   ±max at every opset (tested), so the table was aligned with them and a model computes the
//   same after conversion.
// - 25: int2/uint2 added to the ops of 23 (QuantizeLinear's ranges document them); Attention
//   gains left/right window sizes, −1 (unbounded) by default.

/**
 * Ops whose new version ONNX Runtime (1.30, the one this extension ships and verifies with) has
 * no CPU kernel for, by the opset of that version: a model is converted past it only with a
 * refusal, since the converted model couldn't be run or verified. Checked against the installed
 * ONNX Runtime by the tests. Bernoulli-22 falls back to its function body, which calls
 * RandomUniformLike-22.
 */
export const ONNX_RUNTIME_GAPS: ReadonlyMap<string, number> = new Map([
  ['Bernoulli', 22],
  ['GlobalLpPool', 22],
  ['MaxRoiPool', 22],
  ['Multinomial', 22],
  ['RandomNormal', 22],
  ['RandomNormalLike', 22],
  ['RandomUniform', 22],
  ['RandomUniformLike', 22],
  ['RoiAlign', 22],
  ['Swish', 25],
]);

/** A float attribute value as float32 (the attribute is stored that way). */
function float32(v: number): FloatAttr {
  return float(Math.fround(v));
}
