/**
 * Prints a model in the ONNX textual syntax (onnx docs/Syntax.md): the header, the graph
 * signature with typed inputs and outputs, initializers as typed names (their values summarised
 * in `#` comments, never dumped), and one line per node: `out = Op <attrs> (inputs)`.
 *
 * The printer also records where things are: the line of every node and of every tensor's
 * definition, which the editor uses for annotations, diagnostics and go-to-definition.
 * Syntax.md's parser skips `#` to the end of a line, so the summaries keep the text valid.
 *
 * Two display forms keep the layers readable (parser.ts reads both back to full names):
 *
 *   - Module scopes. Exporters name a node after its module path
 *     (`/features/features.1/features.1.0/block/block.0/block.0.0/Conv`), which pushed the op and
 *     its annotation 150 columns right. When a node's name doesn't fit the module scope in
 *     effect, a scope line `…/ = "/features/features.1/features.1.0/block"` is printed (the
 *     module the most following nodes fit in: `moduleScopes` in names.ts); on the node lines that
 *     follow, every name starting with that module prints as `…/block.0/block.0.0/Conv`, and an
 *     output named after its node (`<node>_output_0`) as `…_output_0`. The full names stay in the
 *     layout (hover, outline, go to definition: `definitionAt`).
 *   - Folded clutter. The initializer list, and each run of weight-only nodes or constant shape
 *     sub-graphs (the groups the graph view collapses, `collapsibleGroups` in graph/view.ts),
 *     are blocks of kind `imports`, which VS Code folds on open (`editor.foldingImportsByDefault`
 *     for the language), so the first screen shows layers. A run of nodes gets a `#` heading
 *     line, which stays visible when folded.
 */
import {
  AttributeType,
  type Attribute,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type TypeInfo,
} from '../onnx/types';
import { isFloatType } from '../onnx/dtype';
import { tensorNumbers } from '../onnx/tensorData';
import { decodeUtf8 } from '../onnx/wire';
import type { Dim } from '../shapes/types';
import { collapsibleGroups } from '../graph/view';
import { ELISION, displayName, moduleScopes, nameAtColumn, ownOutputName } from './names';
import { textTypeName } from './names';

/** A foldable region; `imports` for what is folded on open (initializers, weight-only nodes). */
export interface TextBlock {
  start: number;
  end: number;
  kind?: 'imports';
}

/** Where each part of the model sits in the printed text (0-based lines). */
export interface TextLayout {
  /** Line of each top-level node, in the graph's node order. */
  readonly nodeLines: number[];
  /** Line defining each tensor: a graph input, an initializer, or a node output. */
  readonly definitions: Map<string, number>;
  /** Line of the graph signature. */
  readonly graphLine: number;
  /** Foldable regions: the header, initializer lists, node lists, and nodes with sub-graphs. */
  readonly blocks: TextBlock[];
  /**
   * The module scope in effect on each node line that has one (`…/x` there means `SCOPE/x`).
   * Every node line of any graph depth; see `resolveDisplayedName`.
   */
  readonly scopes: Map<number, string>;
}

export interface PrintedModel {
  readonly text: string;
  readonly layout: TextLayout;
}

/** A one-line summary of an initializer's values, e.g. "min -0.91 max 0.88 mean 0.001". */
export type InitializerSummary = (tensor: Tensor) => string | undefined;

/** Tensor attributes with at most this many values are printed inline; larger ones summarised. */
const INLINE_TENSOR_VALUES = 16;

/**
 * `preamble`: `#` comment lines printed above the header (what the format's view adds, e.g.
 * tflite/textView.ts); Syntax.md's parser skips them.
 */
export function printModel(
  model: Model,
  summarize?: InitializerSummary,
  preamble: readonly string[] = [],
): PrintedModel {
  const out = new Printer();
  for (const line of preamble) out.push(line.startsWith('#') ? line : `# ${line}`);
  const layout: TextLayout = {
    nodeLines: [],
    definitions: new Map(),
    graphLine: 0,
    blocks: [],
    scopes: new Map(),
  };
  printHeader(out, model, layout);
  printGraph(out, model.graph, '', layout, summarize, true);
  return { text: out.lines.join('\n') + '\n', layout };
}

class Printer {
  readonly lines: string[] = [];
  get line(): number {
    return this.lines.length;
  }
  push(text: string): number {
    this.lines.push(text);
    return this.lines.length - 1;
  }
}

function printHeader(out: Printer, model: Model, layout: TextLayout): void {
  const fields: string[] = [`ir_version: ${model.irVersion}`];
  const opsets = model.opsetImport.map((o) => `${quoted(o.domain)} : ${o.version}`);
  fields.push(`opset_import: [${opsets.join(', ')}]`);
  if (model.producerName) fields.push(`producer_name: ${quoted(model.producerName)}`);
  if (model.producerVersion) fields.push(`producer_version: ${quoted(model.producerVersion)}`);
  if (model.domain) fields.push(`domain: ${quoted(model.domain)}`);
  if (model.modelVersion) fields.push(`model_version: ${model.modelVersion}`);
  const start = out.push('<');
  fields.forEach((f, i) => out.push(`  ${f}${i < fields.length - 1 ? ',' : ''}`));
  layout.blocks.push({ start, end: out.push('>') });
}

function printGraph(
  out: Printer,
  graph: Graph,
  indent: string,
  layout: TextLayout,
  summarize: InitializerSummary | undefined,
  topLevel: boolean,
): void {
  const initializerNames = new Set(graph.initializers.map((t) => t.name));
  const inputs = graph.inputs.filter((i) => !initializerNames.has(i.name));
  const signature = `${indent}${id(graph.name || 'graph')} (${inputs.map((i) => valueInfo(i.type, i.name)).join(', ')}) => (${graph.outputs.map((o) => valueInfo(o.type, o.name)).join(', ')})`;
  const graphLine = out.push(signature);
  if (topLevel) (layout as { graphLine: number }).graphLine = graphLine;
  for (const i of inputs) layout.definitions.set(i.name, graphLine);

  if (graph.initializers.length > 0) {
    const count = graph.initializers.length;
    const start = out.push(`${indent}<  # ${count} initializer${count === 1 ? '' : 's'}`);
    graph.initializers.forEach((t, i) => {
      const summary = summarize?.(t);
      const comma = i < graph.initializers.length - 1 ? ',' : '';
      const line = out.push(
        `${indent}  ${tensorTypeText(t.dataType, t.dims)} ${id(t.name)}${comma}${summary ? `  # ${summary}` : ''}`,
      );
      layout.definitions.set(t.name, line);
    });
    layout.blocks.push({ start, end: out.push(`${indent}>`), kind: 'imports' });
  }
  const start = out.push(`${indent}{`);
  const runs = clutterRuns(graph);
  const nodeScopes = moduleScopes(graph.nodes.map((n) => n.name));
  let scope = '';
  let open: { block: TextBlock; last: number } | undefined;
  graph.nodes.forEach((node, i) => {
    const run = runs.get(i);
    if (run) {
      const block: TextBlock = { start: out.push(`${indent}  # ${run.label}`), end: 0 };
      block.kind = 'imports';
      layout.blocks.push(block);
      open = { block, last: i + run.length - 1 };
    }
    const next = nodeScopes[i];
    if (next !== scope) {
      scope = next;
      out.push(`${indent}  ${ELISION} = ${quoted(scope)}`);
    }
    const line = printNode(out, node, `${indent}  `, layout, summarize, scope);
    if (scope) layout.scopes.set(line, scope);
    if (topLevel) layout.nodeLines.push(line);
    for (const o of node.outputs) if (o) layout.definitions.set(o, line);
    if (open?.last === i) {
      open.block.end = out.line - 1;
      open = undefined;
    }
  });
  layout.blocks.push({ start, end: out.push(`${indent}}`) });
}

/**
 * Runs of two or more consecutive nodes that the graph view collapses as weights (Identity or
 * DequantizeLinear of an initializer, Constant, …) or as constant shape sub-graphs, by first
 * index, with the heading printed above them.
 */
function clutterRuns(graph: Graph): Map<number, { length: number; label: string }> {
  const runs = new Map<number, { length: number; label: string }>();
  if (graph.nodes.length < 2) return runs;
  const initializers = new Set(graph.initializers.map((t) => t.name));
  const groups = collapsibleGroups({
    nodes: graph.nodes.map((n) => ({
      name: n.name,
      op: n.opType,
      inputs: n.inputs,
      outputs: n.outputs,
    })),
    graphInputs: graph.inputs.filter((i) => !initializers.has(i.name)).map((i) => i.name),
    graphOutputs: graph.outputs.map((o) => o.name),
  });
  const kindOf = new Map<number, 'constants' | 'shapeSubgraph'>();
  for (const g of groups) {
    if (g.kind === 'identityChain') continue;
    for (const m of g.members) kindOf.set(m, g.kind);
  }
  for (let i = 0; i < graph.nodes.length;) {
    if (!kindOf.has(i)) {
      i++;
      continue;
    }
    let j = i;
    while (kindOf.has(j + 1)) j++;
    const length = j - i + 1;
    if (length >= 2) {
      const ops = new Map<string, number>();
      let shape = false;
      let weights = false;
      for (let k = i; k <= j; k++) {
        ops.set(graph.nodes[k].opType, (ops.get(graph.nodes[k].opType) ?? 0) + 1);
        shape ||= kindOf.get(k) === 'shapeSubgraph';
        weights ||= kindOf.get(k) === 'constants';
      }
      const what =
        shape && weights
          ? 'weight-only and constant shape nodes'
          : shape
            ? 'constant shape nodes'
            : 'weight-only nodes';
      const list = [...ops].map(([op, n]) => `${op} ×${n}`).join(', ');
      runs.set(i, { length, label: `${length} ${what}: ${list}` });
    }
    i = j + 1;
  }
  return runs;
}

/** Prints a node on one line, sub-graphs (If/Loop/Scan bodies) below it; returns the node's line. */
function printNode(
  out: Printer,
  node: Node,
  indent: string,
  layout: TextLayout,
  summarize: InitializerSummary | undefined,
  scope: string,
): number {
  const show = (name: string): string => displayName(name, scope) ?? id(name);
  // A node named after its output (TFLite's operators, some TensorFlow exports) would print the
  // same long name twice before its op: the output line names it.
  const label = node.name && !node.outputs.includes(node.name) ? `[${show(node.name)}] ` : '';
  const outputs = node.outputs
    .map((o) => (o ? (ownOutputName(o, node.name) ?? show(o)) : '""'))
    .join(', ');
  const op =
    node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.opType}` : node.opType;
  const graphs = node.attributes.filter(
    (a) => a.type === AttributeType.GRAPH || a.type === AttributeType.GRAPHS,
  );
  const plain = node.attributes.filter((a) => !graphs.includes(a));
  const attrs = plain.length > 0 ? ` <${plain.map(attributeText).join(', ')}>` : '';
  const inputs = node.inputs.map((i) => (i ? show(i) : '""')).join(', ');
  if (graphs.length === 0)
    return out.push(`${indent}${label}${outputs} = ${op}${attrs} (${inputs})`);
  // Sub-graph attributes follow on their own lines, inside the attribute list.
  const line = out.push(
    `${indent}${label}${outputs} = ${op} (${inputs}) <${plain.map((a) => attributeText(a) + ', ').join('')}`,
  );
  graphs.forEach((a, k) => {
    const bodies = a.g ? [a.g] : a.graphs;
    out.push(
      `${indent}  ${a.name} = ${bodies.length > 1 || a.type === AttributeType.GRAPHS ? '[' : ''}`,
    );
    for (const g of bodies) printGraph(out, g, `${indent}    `, layout, summarize, false);
    out.push(
      `${indent}  ${bodies.length > 1 || a.type === AttributeType.GRAPHS ? ']' : ''}${k < graphs.length - 1 ? ',' : ''}`,
    );
  });
  layout.blocks.push({ start: line, end: out.push(`${indent}>`) });
  return line;
}

function attributeText(a: Attribute): string {
  return `${id(a.name)} = ${attributeValue(a)}`;
}

function attributeValue(a: Attribute): string {
  switch (a.type) {
    case AttributeType.FLOAT:
      return floatText(a.f ?? 0);
    case AttributeType.INT:
      return String(a.i ?? 0);
    case AttributeType.STRING:
      return quoted(a.s ? decodeUtf8(a.s) : '');
    case AttributeType.FLOATS:
      return `[${a.floats.map(floatText).join(', ')}]`;
    case AttributeType.INTS:
      return `[${a.ints.join(', ')}]`;
    case AttributeType.STRINGS:
      return `[${a.strings.map((s) => quoted(decodeUtf8(s))).join(', ')}]`;
    case AttributeType.TENSOR:
      return a.t ? tensorConstant(a.t) : '{}';
    case AttributeType.TENSORS:
      return `[${a.tensors.map(tensorConstant).join(', ')}]`;
    default:
      return a.refAttrName ? `@${a.refAttrName}` : '{}';
  }
}

/** A small tensor inline (`int64[2] {1, -1}`); a large one as its type and a summary comment. */
function tensorConstant(t: Tensor): string {
  const type = tensorTypeText(t.dataType, t.dims);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (count <= INLINE_TENSOR_VALUES) {
    const values = inlineValues(t);
    if (values) return `${type} {${values.join(', ')}}`;
  }
  return `${type} {}  # ${count} values not shown`;
}

function inlineValues(t: Tensor): string[] | undefined {
  if (t.external) return undefined;
  try {
    return tensorNumbers(t).map((v) => (isFloatType(t.dataType) ? floatText(v) : String(v)));
  } catch {
    return undefined;
  }
}

/** The shortest decimal that reads back as the same float32 (attributes are float32). */
function floatText(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const target = Math.fround(v);
  let s = String(target);
  for (let p = 1; p <= 9; p++) {
    const candidate = target.toPrecision(p);
    if (Math.fround(Number(candidate)) === target) {
      s = String(Number(candidate));
      break;
    }
  }
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

function valueInfo(type: TypeInfo | undefined, name: string): string {
  return `${typeText(type)} ${id(name)}`;
}

function typeText(type: TypeInfo | undefined): string {
  if (!type) return 'float[]';
  switch (type.kind) {
    case 'tensor':
      return tensorTypeText(type.elemType, type.shape);
    case 'sparse_tensor':
      return `sparse_tensor(${tensorTypeText(type.elemType, type.shape)})`;
    case 'sequence':
      return `seq(${typeText(type.inner)})`;
    case 'optional':
      return `optional(${typeText(type.inner)})`;
    default:
      return 'opaque()';
  }
}

export function tensorTypeText(dtype: number, shape: readonly Dim[] | undefined): string {
  const name = textTypeName(dtype);
  if (!shape) return name;
  return `${name}[${shape.map((d) => (d === '' ? '?' : typeof d === 'number' ? String(d) : id(d))).join(', ')}]`;
}

const PLAIN_ID = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An identifier, quoted when it is not a plain one (exporters use '/conv1/Conv_output_0'). */
export function id(name: string): string {
  return PLAIN_ID.test(name) ? name : quoted(name);
}

export function quoted(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * Go to definition in the text view: the name under (`line`, `character`), in full (`…/x` and
 * `…_output_0` expanded), and where it is defined, as a range over its spelling on that line.
 * `lineText` reads a line of the text as shown.
 */
export function definitionAt(
  layout: TextLayout,
  lineText: (line: number) => string,
  line: number,
  character: number,
): { name: string; line: number; start: number; end: number } | undefined {
  const found = nameAtColumn(lineText(line), character, layout.scopes.get(line));
  const target = found && layout.definitions.get(found.name);
  if (!found || target === undefined) return undefined;
  const text = lineText(target);
  const scope = layout.scopes.get(target);
  // The first spelling on the target line that stands for the name (label, output or input).
  const token = /"(?:[^"\\]|\\.)*"|…\/[A-Za-z0-9_.\-/]+|…_[A-Za-z0-9_.]+|[A-Za-z_][A-Za-z0-9_]*/g;
  for (let m = token.exec(text); m; m = token.exec(text)) {
    if (nameAtColumn(text, m.index, scope)?.name === found.name) {
      return { name: found.name, line: target, start: m.index, end: m.index + m[0].length };
    }
  }
  return { name: found.name, line: target, start: 0, end: 0 };
}
