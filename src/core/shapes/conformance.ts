/**
 * Our shape rules measured against ONNX's operator conformance suite (onnx/backend/test/data/node:
 * one folder per test, a `model.onnx` and `test_data_set_0/{input,output}_<i>.pb`).
 *
 * Each test is inferred as a user's model would be: graph inputs get the shapes of the test's
 * input tensors, their values stay unknown. The declared output types (and any value_info) are
 * removed first, since inference merges declared shapes (infer.ts) and would otherwise copy the
 * answer instead of computing it. Each output's inferred shape must equal the dims of the
 * expected output tensor exactly.
 *
 * Two kinds of inputs are treated apart, both decided by the op that reads them (never by test
 * name), from the tables below:
 *  - shape parameters (Reshape's `shape`, Slice's `starts`, TopK's `K` …): the suite feeds them as
 *    graph inputs, but in real models they are constants, so they are fed here as initializers
 *    with the test's values: that is what the rule sees in practice;
 *  - data whose values size the output (NonZero, Unique, Compress's condition …): unknown before
 *    the model runs in any real model, so no static rule can get the size. Those tests are
 *    excluded (listed, and counted apart).
 * Tests whose outputs are sequences or optionals are not counted: the analysis is about tensors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildGraphView, nodeDependencies, nodeLabel } from '../graph/graph';
import { decodeTensor } from '../onnx/decode';
import { loadModelFile } from '../onnx/load';
import { opsetVersions } from '../onnx/opsets';
import { DataType, type Graph, type Node, type Tensor, type ValueInfo } from '../onnx/types';
import { inferShapes, type ShapeDiagnostic } from './infer';
import type { Dim } from './types';

/**
 * Inputs (by index) whose values set an output's shape and that real models give as constants.
 * Indices that an op's older versions use for something else are harmless: feeding a constant
 * never hides a rule's gap, it only stands in for an initializer.
 */
export const SHAPE_PARAMETER_INPUTS: Readonly<Record<string, readonly number[]>> = {
  AffineGrid: [1],
  BlackmanWindow: [0],
  CenterCropPad: [1],
  Col2Im: [1, 2],
  ConstantOfShape: [0],
  DFT: [1, 2],
  Expand: [1],
  HammingWindow: [0],
  HannWindow: [0],
  Loop: [0, 1],
  MaxUnpool: [2],
  MelWeightMatrix: [0, 1],
  OneHot: [1],
  Pad: [1, 3],
  Range: [0, 1, 2],
  ReduceL1: [1],
  ReduceL2: [1],
  ReduceLogSum: [1],
  ReduceLogSumExp: [1],
  ReduceMax: [1],
  ReduceMean: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  ReduceSum: [1],
  ReduceSumSquare: [1],
  Reshape: [1],
  Resize: [1, 2, 3],
  STFT: [1, 3],
  Slice: [1, 2, 3, 4],
  Split: [1],
  SplitToSequence: [1],
  Squeeze: [1],
  Tile: [1],
  TopK: [1],
  Unsqueeze: [1],
  Upsample: [1],
};

/**
 * Inputs whose run-time values size an output, with why. `when` narrows it to some nodes (e.g.
 * StringNormalizer only drops words when it has stop words).
 */
export const DATA_DEPENDENT_INPUTS: Readonly<
  Record<
    string,
    { readonly inputs: readonly number[]; readonly why: string; when?(n: Node): boolean }
  >
> = {
  Compress: { inputs: [1], why: 'the output length is the number of true conditions' },
  ImageDecoder: { inputs: [0], why: 'the image size is in the encoded bytes' },
  NonMaxSuppression: { inputs: [0, 1, 2, 3, 4], why: 'the number of kept boxes' },
  NonZero: { inputs: [0], why: 'the number of non-zero elements' },
  StringNormalizer: {
    inputs: [0],
    why: 'the number of words left after removing stop words',
    when: (n) => n.attributes.some((a) => a.name === 'stopwords' && a.strings.length > 0),
  },
  StringSplit: { inputs: [0], why: 'the number of substrings' },
  Unique: { inputs: [0], why: 'the number of distinct values' },
};

export type ConformanceStatus = 'pass' | 'fail' | 'excluded' | 'not-tensor';

export interface ConformanceCase {
  /** The test's folder name, e.g. test_reshape_reduced_dims. */
  readonly name: string;
  /** Op types in the test graph, in node order, each once. */
  readonly ops: readonly string[];
  readonly status: ConformanceStatus;
  /** The op a failure or exclusion is listed under. */
  readonly op: string;
  /** Why it failed or is excluded. */
  readonly reason?: string;
  /** Excluded tests only: whether our inference got the shapes right anyway. */
  readonly shapesRight?: boolean;
  /** Inputs fed as constants (shape parameters). */
  readonly constantInputs: readonly string[];
  /** Outputs whose element type differs from the expected tensor's (shapes may still be right). */
  readonly dtypeMismatches: readonly string[];
}

export interface ConformanceReport {
  readonly dir: string;
  readonly cases: readonly ConformanceCase[];
  readonly counted: number;
  readonly passed: number;
  /** passed / counted. */
  readonly rate: number;
}

const DEFAULT_DIRS = [
  '/usr/share/libonnx-testdata/data/node',
  '/usr/include/onnx/backend/test/data/node',
];

/**
 * The suite's `node` folder: $ONNX_CONFORMANCE_DATA (the `data` folder or its `node` folder) or
 * where Debian's libonnx-testdata puts it. Undefined when there is none.
 */
export function findConformanceData(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const given = env.ONNX_CONFORMANCE_DATA;
  const candidates = given ? [path.join(given, 'node'), given] : DEFAULT_DIRS;
  return candidates.find((d) => fs.existsSync(path.join(d, 'test_abs', 'model.onnx')));
}

export function runConformance(dir: string): ConformanceReport {
  const cases = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, 'model.onnx')))
    .map((e) => e.name)
    .sort()
    .map((name) => runCase(path.join(dir, name), name));
  const counted = cases.filter((c) => c.status === 'pass' || c.status === 'fail').length;
  const passed = cases.filter((c) => c.status === 'pass').length;
  return { dir, cases, counted, passed, rate: counted ? passed / counted : 0 };
}

function readPb(folder: string, kind: 'input' | 'output', i: number): Uint8Array | undefined {
  const file = path.join(folder, 'test_data_set_0', `${kind}_${i}.pb`);
  return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
}

function shapeText(shape: readonly Dim[] | undefined): string {
  return shape ? `[${shape.join(', ')}]` : 'unknown';
}

function runCase(folder: string, name: string): ConformanceCase {
  let graph: Graph;
  let opsets: Map<string, number>;
  try {
    const model = loadModelFile(path.join(folder, 'model.onnx')).model;
    graph = model.graph;
    opsets = opsetVersions(model);
  } catch (e) {
    return failure(name, [], '', `cannot load: ${(e as Error).message}`);
  }
  const ops = [...new Set(graph.nodes.map((n) => n.opType))];
  const base = { name, ops, constantInputs: [] as string[], dtypeMismatches: [] as string[] };
  if (graph.outputs.some((o) => o.type?.kind !== 'tensor')) {
    return { ...base, status: 'not-tensor', op: ops[0] ?? '' };
  }

  // The test's input tensors: shapes for every tensor input, values for shape parameters.
  const initializerNames = new Set(graph.initializers.map((t) => t.name));
  const fedInputs = graph.inputs.filter((i) => !initializerNames.has(i.name));
  const inputTensors = new Map<string, Tensor>();
  fedInputs.forEach((input, i) => {
    const bytes = readPb(folder, 'input', i);
    if (bytes && input.type?.kind === 'tensor') inputTensors.set(input.name, decodeTensor(bytes));
  });
  const parameters = shapeParameters(graph, inputTensors);
  const exclusion = dataDependence(graph, parameters);

  const stripped: Graph = {
    ...withoutDeclaredTypes(graph),
    inputs: graph.inputs.filter((i) => !parameters.has(i.name)),
    initializers: [
      ...graph.initializers,
      ...[...parameters].map((p) => asInitializer(inputTensors.get(p)!, p)),
    ],
  };
  const inputShapes = new Map<string, number[]>();
  for (const [n, t] of inputTensors) if (!parameters.has(n)) inputShapes.set(n, [...t.dims]);

  let problem: string | undefined;
  let problemOp = '';
  const dtypeMismatches: string[] = [];
  let diagnostics: ShapeDiagnostic[] = [];
  let order: readonly Node[] = stripped.nodes;
  try {
    const view = buildGraphView(stripped);
    order = view.order;
    const result = inferShapes(view, { opsets, inputShapes });
    diagnostics = result.diagnostics;
    graph.outputs.forEach((out, i) => {
      const bytes = readPb(folder, 'output', i);
      if (!bytes) return;
      const expected = decodeTensor(bytes);
      const got = result.types.get(out.name);
      if (got && !sameElementType(got.dtype, expected.dataType)) dtypeMismatches.push(out.name);
      const same =
        got?.shape?.length === expected.dims.length &&
        got.shape.every((d, k) => d === expected.dims[k]);
      if (same || problem) return;
      problem = `${out.name}: inferred ${shapeText(got?.shape)}, expected ${shapeText(expected.dims)}`;
      // A symbol is named after the node that could not size it (ctx.newSymbol): that node's
      // op is the one to blame, more often than the op that makes the output.
      const symbol = got?.shape?.find((d): d is string => typeof d === 'string');
      const maker = symbol ? symbolMaker(view.order, symbol) : undefined;
      problemOp = maker?.opType ?? view.producer.get(out.name)?.opType ?? '';
    });
  } catch (e) {
    problem = `inference failed: ${(e as Error).message}`;
  }
  const result = { ...base, constantInputs: [...parameters], dtypeMismatches };
  if (exclusion) {
    return { ...result, status: 'excluded', ...exclusion, shapesRight: !problem };
  }
  if (!problem) return { ...result, status: 'pass', op: ops[0] ?? '' };
  // The first diagnostic usually names the rule at fault (in an expanded function, not always
  // the node that makes the output).
  const first = diagnostics.find((d) => d.severity !== 'info');
  if (first) {
    const culprit = order.find((n, k) => nodeLabel(n, k) === first.node);
    if (culprit) problemOp = culprit.opType;
    problem += ` (${first.message})`;
  }
  return { ...result, status: 'fail', op: problemOp || ops[0] || '', reason: problem };
}

/**
 * Graph inputs whose values reach a shape-parameter input: directly (Reshape's `shape` is a
 * graph input) or computed on the way, as in an expanded function (HannWindow's `size` goes
 * through Cast and Div before it reaches Range). Shape and Size read no values.
 */
function shapeParameters(graph: Graph, inputTensors: ReadonlyMap<string, Tensor>): Set<string> {
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) producer.set(o, n);
  const found = new Set<string>();
  const seen = new Set<string>();
  const walk = (name: string): void => {
    if (!name || seen.has(name)) return;
    seen.add(name);
    if (inputTensors.has(name)) found.add(name);
    const p = producer.get(name);
    // An If or Loop reads the outer names its sub-graphs use, too.
    if (p && p.opType !== 'Shape' && p.opType !== 'Size') nodeDependencies(p).forEach(walk);
  };
  for (const node of graph.nodes) {
    for (const slot of SHAPE_PARAMETER_INPUTS[node.opType] ?? []) walk(node.inputs[slot] ?? '');
  }
  return found;
}

/** ONNX 1.12's suite stores expected bfloat16 tensors as uint16. */
function sameElementType(inferred: DataType, expected: DataType): boolean {
  return inferred === expected || (inferred === DataType.BFLOAT16 && expected === DataType.UINT16);
}

/** The node whose label starts the symbol (the longest such label: Add_1 vs Add_12). */
function symbolMaker(nodes: readonly Node[], symbol: string): Node | undefined {
  let best: Node | undefined;
  let length = 0;
  nodes.forEach((n, i) => {
    const label = nodeLabel(n, i);
    if (symbol.startsWith(`${label}_`) && label.length > length) {
      best = n;
      length = label.length;
    }
  });
  return best;
}

function failure(name: string, ops: string[], op: string, reason: string): ConformanceCase {
  return { name, ops, op, status: 'fail', reason, constantInputs: [], dtypeMismatches: [] };
}

/**
 * The graph without what inference would copy instead of compute: output types and value_info,
 * here and in every sub-graph (a Loop body's declared outputs would answer for the Loop rule).
 */
function withoutDeclaredTypes(graph: Graph): Graph {
  return {
    ...graph,
    raw: undefined,
    nodes: graph.nodes.map((n) =>
      n.attributes.some((a) => a.g || a.graphs.length)
        ? {
            ...n,
            raw: undefined,
            attributes: n.attributes.map((a) => ({
              ...a,
              raw: undefined,
              g: a.g && withoutDeclaredTypes(a.g),
              graphs: a.graphs.map(withoutDeclaredTypes),
            })),
          }
        : n,
    ),
    outputs: graph.outputs.map((o): ValueInfo => ({ ...o, raw: undefined, type: undefined })),
    valueInfo: [],
  };
}

function asInitializer(t: Tensor, name: string): Tensor {
  return { ...t, raw: undefined, name };
}

/**
 * Why the test's output shapes depend on values only known at run time, if they do: a node reads
 * the values of a data-dependent input computed from a graph input that is not a constant. A
 * value is computed from an input when any node on the way reads it, except Shape and Size,
 * which read only its shape.
 */
function dataDependence(
  graph: Graph,
  constants: ReadonlySet<string>,
): { op: string; reason: string } | undefined {
  const runtime = new Set(graph.inputs.map((i) => i.name).filter((n) => !constants.has(n)));
  for (const t of graph.initializers) runtime.delete(t.name);
  for (const node of graph.nodes) {
    const rule = DATA_DEPENDENT_INPUTS[node.opType];
    if (rule && (!rule.when || rule.when(node))) {
      const input = rule.inputs.map((i) => node.inputs[i]).find((n) => n && runtime.has(n));
      if (input) return { op: node.opType, reason: `${rule.why} (from the values of ${input})` };
    }
    if (node.opType === 'Shape' || node.opType === 'Size') continue;
    if (nodeDependencies(node).some((n) => runtime.has(n))) {
      for (const o of node.outputs) runtime.add(o);
    }
  }
  return undefined;
}
