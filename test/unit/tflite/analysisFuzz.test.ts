/**
 * Fuzzing of the whole TFLite pipeline, past the reader: a file the reader accepts can still be
 * nonsense to the stages after it (a negative or huge dim, a constant whose shape does not match
 * its buffer, an operator with too few inputs, a CONV_2D with a 1-D filter, an operator reading
 * a tensor written later, a quantization table with the wrong number of channels, an offline
 * plan with odd offsets). Files come two ways:
 *
 * - structure: random but well-formed flatbuffers written with the reference Builder
 *   (tfliteBuilder.ts), with random shapes, types, op codes, inputs, options, quantization,
 *   sparsity (valid and broken CSR), subgraphs and offline plans, so almost every file gets
 *   past the reader to the analysis;
 * - bytes: built networks and the real TFLM models (../shared/tflite, when present) mutated at
 *   the byte level as readerFuzz.test.ts does.
 *
 * For every file the reader accepts, `analyzeLoaded` (without and with a device) and
 * `printModelView` must each return, or throw one of the "bad input" errors with a one-line
 * message (CLI exit 2), within a time limit; any other exception is a crash the user would see as
 * a stack trace. A report must hold figures, not garbage: no NaN, no negative count.
 *
 * Set FUZZ_SEED to replay a failure; FUZZ_RUNS to fuzz longer locally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyzeLoaded, type AnalysisReport } from '../../../src/core/analyze';
import { BUILTIN_DEVICES } from '../../../src/core/devices';
import { findDevice } from '../../../src/core/devices/userProfiles';
import { GraphError } from '../../../src/core/graph/graph';
import { parseAnyModelBytes } from '../../../src/core/modelFile';
import { storageBytes } from '../../../src/core/onnx/dtype';
import { ExternalDataError } from '../../../src/core/onnx/externalData';
import { ModelLoadError, type LoadedModel } from '../../../src/core/onnx/load';
import { TensorDataError } from '../../../src/core/onnx/tensorData';
import { printModelView } from '../../../src/core/text/modelView';
import { dataTypeOf } from '../../../src/core/tflite/translate';
import { seededRandom } from '../../helpers/modelBuilder';
import {
  buildTflite,
  type BufferSpec,
  type ModelSpec,
  type OperatorSpec,
  type OptionField,
  type OptionsSpec,
  type QuantizationSpec,
  type SparsitySpec,
  type SubgraphSpec,
  type TensorSpec,
} from '../../helpers/tfliteBuilder';
import {
  BUILTIN,
  RELU,
  TYPE,
  TfliteNetwork,
  conv2d,
  convDepthwiseFcNetwork,
} from '../../helpers/tfliteNetwork';
import { sharedTfliteSeeds } from '../../helpers/sharedTflite';

const SEED = Number(process.env.FUZZ_SEED ?? 0x7f1e_a11a);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);
const STRUCTURE_CASES = 2400 * RUNS;
const BYTE_CASES = 1200 * RUNS;
/** A single case (load, two analyses, text view) slower than this is a failure. */
const CASE_LIMIT_MS = 2000;

/** The errors that mean "bad input" (CLI exit 2, one line). Anything else escaping is a bug. */
const KNOWN_ERRORS = [ModelLoadError, GraphError, ExternalDataError, TensorDataError];
const KNOWN_NAMES = new Set(KNOWN_ERRORS.map((c) => c.name));

const DEVICE = findDevice('nrf52840', BUILTIN_DEVICES);

function checkError(e: unknown, stage: string): void {
  const known =
    KNOWN_ERRORS.some((c) => e instanceof c) || (e instanceof Error && KNOWN_NAMES.has(e.name));
  if (!known) {
    const error = e instanceof Error ? e : new Error(String(e));
    const frames = (error.stack ?? '').split('\n').slice(0, 8).join('\n');
    throw new Error(`${stage}: unexpected ${error.name}: ${error.message}\n${frames}`);
  }
  assert.ok(!(e as Error).message.includes('\n'), `${stage}: one line: ${(e as Error).message}`);
}

/** Figures, not garbage: a count is a finite number ≥ 0 (unknown ones are flagged, not NaN). */
function checkReport(report: AnalysisReport, stage: string): void {
  const count = (what: string, v: number | null | undefined) => {
    if (v === null || v === undefined) return;
    assert.ok(Number.isFinite(v) && v >= 0, `${stage}: ${what} is ${v}`);
  };
  for (const n of report.nodes) {
    for (const k of [
      'macs',
      'flops',
      'bops',
      'params',
      'weightBytes',
      'activationBytes',
    ] as const) {
      count(`${n.op} ${n.name}: ${k}`, n[k]);
    }
  }
  for (const [k, v] of Object.entries(report.totals)) {
    if (typeof v === 'number') count(`totals.${k}`, v);
  }
  for (const b of report.memory.liveBytesPerStep) count('liveBytesPerStep', b);
  for (const l of report.memory.lifetimes) count(`${l.name} bytes`, l.bytes);
  if (report.memory.runtime) {
    count('persistentEstimateBytes', report.memory.runtime.persistentEstimateBytes);
    count('stateBytes', report.memory.runtime.stateBytes);
  }
}

/** The pipeline a user runs on a file; returns which stages returned (for the tally). */
function runPipeline(bytes: Uint8Array): 'rejected' | 'analysed' | 'refused' {
  const started = performance.now();
  let loaded: LoadedModel;
  try {
    loaded = parseAnyModelBytes(bytes, undefined, 'fuzz.tflite');
  } catch (e) {
    checkError(e, 'load');
    return 'rejected';
  }
  let outcome: 'analysed' | 'refused' = 'analysed';
  for (const [stage, options] of [
    ['analyze', {}],
    ['analyze --device nrf52840', { device: DEVICE }],
  ] as const) {
    try {
      checkReport(analyzeLoaded(loaded, options), stage);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      checkError(e, stage);
      outcome = 'refused';
    }
  }
  try {
    const printed = printModelView(loaded);
    assert.equal(typeof printed.text, 'string');
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    checkError(e, 'text view');
  }
  const ms = performance.now() - started;
  assert.ok(ms < CASE_LIMIT_MS, `took ${ms.toFixed(0)} ms`);
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// Structure: random but well-formed files

/** BuiltinOperator numbers worth aiming at: every op with a cost formula or a shape rule. */
const OPS = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  EMBEDDING_LOOKUP: 7,
  FULLY_CONNECTED: 9,
  L2_POOL_2D: 12,
  LSTM: 16,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RESHAPE: 22,
  RNN: 24,
  SOFTMAX: 25,
  SVDF: 27,
  CALL: 31,
  CUSTOM: 32,
  PAD: 34,
  UNIDIRECTIONAL_SEQUENCE_RNN: 35,
  GATHER: 36,
  MEAN: 40,
  SUB: 41,
  DIV: 42,
  UNIDIRECTIONAL_SEQUENCE_LSTM: 44,
  BIDIRECTIONAL_SEQUENCE_LSTM: 52,
  PRELU: 54,
  TRANSPOSE_CONV: 67,
  QUANTIZE: 114,
  IF: 118,
  WHILE: 119,
  BATCH_MATMUL: 126,
  CALL_ONCE: 129,
  CONV_3D: 132,
  CONV_3D_TRANSPOSE: 141,
} as const;

type FieldKind = 'int8' | 'int32' | 'bool' | 'float32' | 'int32s';

/** BuiltinOptions members (schema.fbs numbers) and their fields in id order. */
const OPTION_TABLES: Readonly<Record<number, readonly FieldKind[]>> = {
  1: ['int8', 'int32', 'int32', 'int8', 'int32', 'int32'], // Conv2D
  2: ['int8', 'int32', 'int32', 'int32', 'int8', 'int32', 'int32'], // DepthwiseConv2D
  5: ['int8', 'int32', 'int32', 'int32', 'int32', 'int8'], // Pool2D
  6: ['int32', 'int8'], // SVDF
  8: ['int8', 'int8', 'bool'], // FullyConnected
  9: ['float32'], // Softmax
  10: ['int32', 'int8'], // Concatenation
  11: ['int8'], // Add
  17: ['int32s'], // Reshape
  21: ['int8'], // Mul
  28: ['int8'], // Sub
  29: ['int8'], // Div
  31: ['bool', 'int8'], // SequenceRNN
  49: ['int8', 'int32', 'int32', 'int8'], // TransposeConv
  71: ['int8', 'float32', 'float32', 'bool'], // UnidirectionalSequenceLSTM
  92: ['int32', 'int32'], // If
  93: ['int32', 'int32'], // While
  101: ['bool', 'bool'], // BatchMatMul
  103: ['int32'], // CallOnce
  106: ['int8', 'int32', 'int32', 'int32', 'int8', 'int32', 'int32', 'int32'], // Conv3D
};

/** The options member each op is written with by a converter. */
const NATURAL_OPTIONS: Readonly<Record<number, number>> = {
  [OPS.ADD]: 11,
  [OPS.AVERAGE_POOL_2D]: 5,
  [OPS.CONCATENATION]: 10,
  [OPS.CONV_2D]: 1,
  [OPS.DEPTHWISE_CONV_2D]: 2,
  [OPS.FULLY_CONNECTED]: 8,
  [OPS.L2_POOL_2D]: 5,
  [OPS.MAX_POOL_2D]: 5,
  [OPS.MUL]: 21,
  [OPS.RESHAPE]: 17,
  [OPS.SOFTMAX]: 9,
  [OPS.SVDF]: 6,
  [OPS.UNIDIRECTIONAL_SEQUENCE_RNN]: 31,
  [OPS.SUB]: 28,
  [OPS.DIV]: 29,
  [OPS.UNIDIRECTIONAL_SEQUENCE_LSTM]: 71,
  [OPS.TRANSPOSE_CONV]: 49,
  [OPS.IF]: 92,
  [OPS.WHILE]: 93,
  [OPS.BATCH_MATMUL]: 101,
  [OPS.CALL_ONCE]: 103,
  [OPS.CONV_3D]: 106,
  [OPS.CONV_3D_TRANSPOSE]: 106,
};

const dim = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(1, 1, 2, 3, 4, 8) },
  { weight: 3, arbitrary: fc.constantFrom(0, 5, 16) },
  { weight: 1, arbitrary: fc.constantFrom(-1, -2, -0x80000000) },
  { weight: 1, arbitrary: fc.constantFrom(1 << 12, 1 << 16, 1 << 30, 0x7fffffff) },
);
const shape = fc.oneof(
  { weight: 6, arbitrary: fc.array(dim, { minLength: 1, maxLength: 5 }) },
  { weight: 1, arbitrary: fc.array(dim, { maxLength: 6 }) },
);
const tensorType = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(TYPE.FLOAT32, TYPE.INT8) },
  { weight: 3, arbitrary: fc.constantFrom(2, 7, 1, 3, 17, 6, 4) },
  { weight: 1, arbitrary: fc.constantFrom(5, 8, 10, 11, 12, 13, 14, 15, 16, 18, 19) },
);
const interestingFloat = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0.5, 0.0039, 0.1, 1) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, NaN, Infinity, -Infinity, 1e-38, 3e38) },
);
const quantization: fc.Arbitrary<QuantizationSpec> = fc
  .record({
    scale: fc.array(interestingFloat, { maxLength: 6 }),
    zeroPoint: fc.array(
      fc.oneof(fc.integer({ min: -128, max: 127 }), fc.constantFrom(0, 2 ** 40, -(2 ** 40))),
      { maxLength: 6 },
    ),
    quantizedDimension: fc.oneof(fc.constant(undefined), fc.integer({ min: -2, max: 6 })),
    range: fc.boolean(),
    details: fc.oneof(
      { weight: 10, arbitrary: fc.constant(undefined) },
      fc.constant('custom' as const),
      fc.record({
        scales: fc.integer({ min: -1, max: 9 }),
        zeroPoints: fc.integer({ min: -1, max: 9 }),
        blockSize: fc.integer({ min: -1, max: 64 }),
      }),
    ),
  })
  .map(({ range, details, quantizedDimension, ...q }) => ({
    ...q,
    ...(quantizedDimension !== undefined && { quantizedDimension }),
    ...(range && { min: [-1], max: [1] }),
    ...(details === 'custom' && { custom: new Uint8Array([1, 2, 3]) }),
    ...(details && details !== 'custom' && { blockwise: details }),
  }));

/** How a constant's bytes relate to its shape: right, or (in a "wild" model) a few bytes off. */
const dataFit = fc.constantFrom(-1, 1, -4, 4, 100);

interface TensorPlan {
  readonly shape: number[];
  readonly type: number;
  readonly role: 'activation' | 'constant' | 'variable';
  readonly fit: number;
  readonly fill: 'random' | 'zeros' | 'floats';
  readonly dataSeed: number;
  readonly quantization?: QuantizationSpec;
  readonly hasRank?: boolean;
  readonly shapeSignature?: number[];
  readonly sparse: boolean;
  readonly name: string;
}

const tensorPlan: fc.Arbitrary<TensorPlan> = fc.record(
  {
    shape,
    type: tensorType,
    role: fc.oneof(
      { weight: 5, arbitrary: fc.constant('activation' as const) },
      { weight: 5, arbitrary: fc.constant('constant' as const) },
      { weight: 1, arbitrary: fc.constant('variable' as const) },
    ),
    fit: dataFit,
    fill: fc.constantFrom('random' as const, 'zeros' as const, 'floats' as const),
    dataSeed: fc.nat(),
    quantization,
    hasRank: fc.boolean(),
    shapeSignature: fc.array(dim, { maxLength: 4 }),
    sparse: fc.oneof({ weight: 30, arbitrary: fc.constant(false) }, fc.constant(true)),
    name: fc.constantFrom('', 'x', 'w', 'x', 'tensor_1'),
  },
  { requiredKeys: ['shape', 'type', 'role', 'fit', 'fill', 'dataSeed', 'sparse', 'name'] },
);

/**
 * A tensor index: in range (taken modulo the count), -1 (an absent optional input), or past the
 * end (1000; only in the few "wild" models, or the reader would refuse nearly every file).
 */
const tensorRef = fc.oneof(
  { weight: 12, arbitrary: fc.nat(63) },
  { weight: 2, arbitrary: fc.constant(-1) },
  { weight: 1, arbitrary: fc.constant(1000) },
);
/** Subgraph inputs and outputs: the reader refuses -1 there. */
const edgeRef = fc.oneof({ weight: 20, arbitrary: fc.nat(63) }, fc.constant(1000));

const int32Value = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(1, 1, 2) },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 3, 4) },
  { weight: 1, arbitrary: fc.constantFrom(0x7fffffff, -0x80000000, 1 << 16, -7) },
);
const int8Value = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, 1, 3) },
  { weight: 1, arbitrary: fc.integer({ min: -128, max: 127 }) },
);
const fieldValue = fc.record({
  int8: int8Value,
  int32: int32Value,
  bool: fc.boolean(),
  float32: interestingFloat,
  int32s: fc.array(fc.oneof(dim, fc.constant(-1)), { maxLength: 5 }),
  present: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
});

interface OperatorPlan {
  readonly code: number;
  readonly custom: string;
  readonly inputs: number[];
  readonly outputs: number[];
  /** New tensors the operator writes (as a converter makes them); none: `outputs` instead. */
  readonly fresh: [number[], number][];
  readonly intermediates: number[];
  readonly options: 'natural' | 'other' | 'none' | 'union2';
  readonly otherMember: number;
  readonly fields: FieldValue[];
}
type FieldValue = typeof fieldValue extends fc.Arbitrary<infer V> ? V : never;

const opCode = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...Object.values(OPS)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 215 }) },
);
const operatorPlan: fc.Arbitrary<OperatorPlan> = fc.record({
  code: opCode,
  custom: fc.constantFrom('ethos-u', 'TFLite_Detection_PostProcess', ''),
  inputs: fc.oneof(
    { weight: 6, arbitrary: fc.array(tensorRef, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(tensorRef, { maxLength: 24 }) },
  ),
  outputs: fc.array(tensorRef, { maxLength: 3 }),
  fresh: fc.oneof(
    {
      weight: 14,
      arbitrary: fc.array(fc.tuple(shape, tensorType as fc.Arbitrary<number>), {
        minLength: 1,
        maxLength: 2,
      }),
    },
    { weight: 1, arbitrary: fc.constant<[number[], number][]>([]) },
  ),
  intermediates: fc.oneof(
    { weight: 8, arbitrary: fc.constant<number[]>([]) },
    fc.array(tensorRef, { maxLength: 2 }),
  ),
  options: fc.oneof(
    { weight: 8, arbitrary: fc.constant('natural' as const) },
    { weight: 1, arbitrary: fc.constantFrom('other' as const, 'none' as const, 'union2' as const) },
  ),
  otherMember: fc.oneof(
    fc.constantFrom(...Object.keys(OPTION_TABLES).map(Number)),
    fc.integer({ min: 1, max: 130 }),
  ),
  fields: fc.array(fieldValue, { minLength: 8, maxLength: 8 }),
});

const subgraphPlan = fc.record({
  tensors: fc.array(tensorPlan, { minLength: 1, maxLength: 9 }),
  operators: fc.array(operatorPlan, { maxLength: 6 }),
  inputs: fc.array(edgeRef, { maxLength: 3 }),
  outputs: fc.array(edgeRef, { maxLength: 3 }),
});

const offlinePlan = fc.record({
  countDelta: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.constantFrom(-1, 1)),
  offsets: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(-1, 0, 16, 32, 64) },
      { weight: 1, arbitrary: fc.constantFrom(-2, 3, 17, 0x7fffffff, -0x80000000, 1 << 24) },
    ),
    { minLength: 40, maxLength: 40 },
  ),
});

const modelPlan = fc.record(
  {
    main: subgraphPlan,
    others: fc.oneof(
      { weight: 6, arbitrary: fc.constant([]) },
      fc.array(subgraphPlan, { maxLength: 2 }),
    ),
    offline: offlinePlan,
    runtimeVersion: fc.constantFrom('1.14.0', '', '2.\n0'),
    description: fc.constantFrom('fuzz', '', 'two\nlines'),
    wild: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, fc.constant(true)),
  },
  { requiredKeys: ['main', 'others', 'runtimeVersion', 'description', 'wild'] },
);
type ModelPlan = typeof modelPlan extends fc.Arbitrary<infer P> ? P : never;
type SubgraphPlan = ModelPlan['main'];

const MAX_CONSTANT_BYTES = 16384;

function bytesOf(type: number, shape: readonly number[]): number {
  return storageBytes(
    dataTypeOf(type),
    shape.reduce((a, b) => a * b, 1),
  );
}

/**
 * A constant's shape: the plan's, or one whose bytes a small file can hold: an odd number of
 * negative dims (no byte count matches) loses one, 0s become 1 and big dims become 2.
 */
function constantShape(t: TensorPlan): number[] {
  if (t.role === 'activation') return t.shape;
  let shape = t.shape;
  if (bytesOf(t.type, shape) < 0) {
    const i = shape.findIndex((d) => d < 0);
    shape = shape.map((d, k) => (k === i ? -d : d));
  }
  // No data holds zero elements (an empty buffer is no constant): zero-size tensors are
  // activations.
  if (bytesOf(t.type, shape) === 0) shape = shape.map((d) => (d === 0 ? 1 : d));
  if (bytesOf(t.type, shape) > MAX_CONSTANT_BYTES) {
    shape = shape.map((d) => (d > 4 ? 2 : d < -4 ? -2 : d));
  }
  return shape;
}

function constantData(t: TensorPlan, wild: boolean): Uint8Array {
  let need = bytesOf(t.type, constantShape(t));
  if (!Number.isFinite(need) || need <= 0 || need > MAX_CONSTANT_BYTES) need = 4;
  const fit = wild && t.fit % 3 === 1 ? t.fit : 0;
  const length = Math.max(1, Math.min(MAX_CONSTANT_BYTES + 100, need + fit));
  const data = new Uint8Array(length);
  if (t.fill === 'zeros') return data;
  const random = seededRandom(t.dataSeed + 1);
  if (t.fill === 'floats' && length % 4 === 0) {
    const view = new DataView(data.buffer);
    for (let i = 0; i < length; i += 4) view.setFloat32(i, random() * 2 - 1, true);
  } else {
    for (let i = 0; i < length; i++) data[i] = Math.floor(random() * 256);
  }
  return data;
}

/**
 * Sparsity for a constant whose buffer holds every value: its last dim SPARSE_CSR listing each
 * index, at a seeded index width, or (by seed) broken: an index past the dim, segments reversed,
 * one segment short. Shapes too large or odd for that keep every dim DENSE.
 */
function sparsityOf(shape: readonly number[], seed: number): SparsitySpec {
  const traversalOrder = shape.map((_, k) => k);
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const cols = shape[shape.length - 1];
  if (!(rows >= 0 && rows <= 256 && cols >= 0 && cols <= 256)) {
    return { traversalOrder, dimMetadata: shape.map((d) => ({ format: 0, denseSize: d })) };
  }
  const segments = Array.from({ length: rows + 1 }, (_, r) => r * cols);
  const indices = Array.from({ length: rows * cols }, (_, i) => i % cols);
  if (seed % 5 === 1) indices[0] = cols;
  if (seed % 5 === 2) segments.reverse();
  if (seed % 5 === 3) segments.pop();
  const vectorType = (1 + (seed % 3)) as 1 | 2 | 3;
  return {
    traversalOrder,
    dimMetadata: [
      ...shape.slice(0, -1).map((d) => ({ format: 0, denseSize: d })),
      { format: 1, denseSize: cols, segments, indices, vectorType },
    ],
  };
}

function options(op: OperatorPlan, subgraphCount: number): OptionsSpec | undefined {
  if (op.options === 'none') return undefined;
  const member = op.options === 'natural' ? NATURAL_OPTIONS[op.code] : op.otherMember;
  if (member === undefined) return undefined;
  const kinds = OPTION_TABLES[member] ?? ['int32', 'int8', 'bool'];
  const fields: OptionField[] = [];
  kinds.forEach((kind, id) => {
    const v = op.fields[id];
    if (!v.present) return;
    // Subgraph indices (If/While/CallOnce) mostly in range, to walk into the bodies.
    if ((member === 92 || member === 93 || member === 103) && kind === 'int32') {
      const index = v.int32 === 1 || v.int32 === 2 ? v.int32 % Math.max(1, subgraphCount) : v.int32;
      fields.push({ id, int32: index });
      return;
    }
    if (kind === 'int8') fields.push({ id, int8: v.int8 });
    else if (kind === 'int32') fields.push({ id, int32: v.int32 });
    else if (kind === 'bool') fields.push({ id, bool: v.bool });
    else if (kind === 'float32') fields.push({ id, float32: v.float32 });
    else fields.push({ id, int32s: v.int32s });
  });
  return { union: op.options === 'union2' ? 2 : 1, type: member, fields };
}

/** Blockwise scales and zero points name tensors: in range, except -1. */
function inRange(q: QuantizationSpec, n: number): QuantizationSpec {
  if (!q.blockwise) return q;
  const ref = (i: number) => Math.abs(i) % n;
  const { scales, zeroPoints, blockSize } = q.blockwise;
  return { ...q, blockwise: { scales: ref(scales), zeroPoints: ref(zeroPoints), blockSize } };
}

function specOf(plan: ModelPlan): ModelSpec {
  const codes: { builtinCode: number; deprecatedBuiltinCode: number; customCode?: string }[] = [];
  const opcode = (op: OperatorPlan): number => {
    const customCode = op.code === OPS.CUSTOM ? op.custom : undefined;
    let i = codes.findIndex((c) => c.builtinCode === op.code && c.customCode === customCode);
    if (i < 0) {
      codes.push({
        builtinCode: op.code,
        deprecatedBuiltinCode: Math.min(op.code, 127),
        ...(customCode !== undefined && { customCode }),
      });
      i = codes.length - 1;
    }
    return i;
  };
  const buffers: BufferSpec[] = [];
  const subgraphCount = 1 + plan.others.length;
  const subgraph = (sg: SubgraphPlan, index: number): SubgraphSpec => {
    const tensors: TensorSpec[] = sg.tensors.map((t, i) => {
      let buffer = 0;
      if (t.role !== 'activation') {
        buffers.push({ data: constantData(t, plan.wild) });
        buffer = buffers.length;
        // A variable without an initial value, sometimes.
        if (t.role === 'variable' && t.fill === 'zeros') buffer = 0;
      }
      const shape = constantShape(t);
      return {
        name: t.name === 'tensor_1' ? t.name : `${t.name}${index}_${i}`,
        shape,
        type: t.type,
        buffer,
        isVariable: t.role === 'variable',
        ...(t.hasRank !== undefined && { hasRank: t.hasRank }),
        ...(t.shapeSignature && { shapeSignature: t.shapeSignature }),
        ...(t.quantization && { quantization: inRange(t.quantization, sg.tensors.length) }),
        ...(t.sparse && { sparsity: sparsityOf(shape, t.dataSeed) }),
      };
    });
    // Operators write new tensors, as a converter makes them (or, some, any tensors at all).
    const written = sg.operators.map((op) =>
      op.fresh.map(([shape, type]) => {
        tensors.push({ name: `out${index}_${tensors.length}`, shape, type });
        return tensors.length - 1;
      }),
    );
    const n = tensors.length;
    const ref = (i: number) => (i < 0 || (i >= 1000 && plan.wild) ? i : i % n);
    // An operator reads the subgraph's own tensors and earlier operators' outputs; only a wild
    // model reads later ones (a cycle, or an order no runtime could run).
    const available = (k: number) => sg.tensors.length + written.slice(0, k).flat().length;
    const inputRef = (k: number) => (i: number) =>
      i < 0 || i >= 1000 || plan.wild ? ref(i) : i % Math.max(1, available(k));
    return {
      name: index === 0 ? 'main' : `body${index}`,
      tensors,
      inputs: sg.inputs.map(plan.wild ? ref : (i) => i % sg.tensors.length),
      outputs: sg.outputs.map(ref),
      operators: sg.operators.map((op, k): OperatorSpec => ({
        opcodeIndex: opcode(op),
        inputs: op.inputs.map(inputRef(k)),
        outputs: op.fresh.length > 0 ? written[k] : op.outputs.map(ref),
        ...(op.intermediates.length > 0 && { intermediates: op.intermediates.map(ref) }),
        options: options(op, subgraphCount),
      })),
    };
  };
  const subgraphs = [plan.main, ...plan.others].map(subgraph);
  const metadata: { name: string; buffer: number }[] = [];
  if (plan.offline) {
    const total = subgraphs.reduce((sum, sg) => sum + sg.tensors.length, 0);
    const count = Math.max(0, total + plan.offline.countDelta);
    const words = [1, 0, count, ...plan.offline.offsets.slice(0, count)];
    while (words.length < 3 + count) words.push(-1);
    buffers.push({ data: new Uint8Array(new Int32Array(words).buffer) });
    metadata.push({ name: 'OfflineMemoryAllocation', buffer: buffers.length });
  }
  if (plan.runtimeVersion) {
    buffers.push({ data: new TextEncoder().encode(`${plan.runtimeVersion}\0`) });
    metadata.push({ name: 'min_runtime_version', buffer: buffers.length });
  }
  return {
    description: plan.description,
    operatorCodes: codes,
    subgraphs,
    buffers,
    ...(metadata.length > 0 && { metadata }),
  };
}

// ---------------------------------------------------------------------------------------------
// Bytes: mutated built networks and real models

/** int8 per-channel conv → average pool → reshape, with quantized edges. */
function int8Network(): Uint8Array {
  const n = new TfliteNetwork(5);
  const x = n.input('x', [1, 6, 6, 2], TYPE.INT8);
  const w = n.constant(
    'w',
    [3, 3, 3, 2],
    new Uint8Array(54).map((_, i) => (i * 37) % 255),
    9,
    {
      scale: [0.02, 0.01, 0.03],
      zeroPoint: [0, 0, 0],
      quantizedDimension: 0,
    },
  );
  const b = n.constant('b', [3], new Uint8Array(12), TYPE.INT32, {
    scale: [1e-4, 1e-4, 1e-4],
    zeroPoint: [0, 0, 0],
  });
  const c = n.op(BUILTIN.CONV_2D, [x, w, b], [1, 6, 6, 3], conv2d(1, 0, RELU), TYPE.INT8);
  const p = n.op(
    BUILTIN.AVERAGE_POOL_2D,
    [c],
    [1, 3, 3, 3],
    {
      type: 5,
      fields: [
        { id: 0, int8: 1 },
        { id: 1, int32: 2 },
        { id: 2, int32: 2 },
        { id: 3, int32: 2 },
        { id: 4, int32: 2 },
      ],
    },
    TYPE.INT8,
  );
  return n.build([n.op(BUILTIN.RESHAPE, [p], [1, 27], undefined, TYPE.INT8)]);
}

const SHARED_SEEDS = sharedTfliteSeeds();

const BUILT_SEEDS = [convDepthwiseFcNetwork(3, true), int8Network()];
const SEEDS: readonly Uint8Array[] = [...BUILT_SEEDS, ...SHARED_SEEDS];

/**
 * Aligned 32-bit words of a seed holding a small number (-1 to 64): mostly shape dims, tensor
 * and buffer indices, op codes and option fields, the values the analysis reads. Overwriting
 * those gets past the reader far more often than a byte anywhere (readerFuzz.test.ts does that).
 */
function smallWords(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words: number[] = [];
  for (let pos = 0; pos + 4 <= bytes.length; pos += 4) {
    const v = view.getInt32(pos, true);
    if (v >= -1 && v <= 64) words.push(pos);
  }
  return words;
}
const SMALL_WORDS = SEEDS.map(smallWords);

/** A seed, the large ones (person_detect: ~80 ms an analysis) less often than the small. */
const seedIndex = fc.oneof(
  ...SEEDS.map((s, i) => ({ weight: s.length > 100_000 ? 1 : 4, arbitrary: fc.constant(i) })),
);

const INTERESTING = [0, 1, -1, 2, 3, 7, 17, 127, 128, 1 << 16, 0x7fffffff, -0x80000000];
const mutation = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('word' as const),
      which: fc.nat(),
      value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: -3, max: 70 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.nat(255) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(seedIndex: number, mutations: readonly Mutation[]): Uint8Array {
  const seed = SEEDS[seedIndex];
  const words = SMALL_WORDS[seedIndex];
  let bytes = seed.slice();
  for (const m of mutations) {
    if (m.kind === 'word') {
      if (words.length === 0) continue;
      const pos = words[m.which % words.length];
      if (pos + 4 <= bytes.length) new DataView(bytes.buffer).setInt32(pos, m.value, true);
    } else if (m.kind === 'flip') {
      if (bytes.length > 0) bytes[m.at % bytes.length] ^= 1 << m.bit;
    } else if (m.kind === 'byte') {
      if (bytes.length > 0) bytes[m.at % bytes.length] = m.value;
    } else {
      // Cut near the end: the tables survive, a payload or the last buffer does not.
      bytes = bytes.slice(0, bytes.length - 1 - (m.at % Math.min(bytes.length, 256)));
    }
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------

function assertProperty<T>(property: fc.IProperty<T>, runs: number, seed: number): void {
  try {
    fc.assert(property, { seed, numRuns: runs, includeErrorInReport: true });
  } catch (e) {
    console.error(`replay: FUZZ_SEED=${SEED} node --import tsx --test ${__filename}`);
    throw e;
  }
}

test('the byte seeds analyse cleanly', () => {
  for (const seed of SEEDS) assert.equal(runPipeline(seed), 'analysed');
});

test(`fuzz: ${STRUCTURE_CASES} random well-formed files analyse or fail with one line, quickly`, () => {
  const tally = { rejected: 0, analysed: 0, refused: 0 };
  assertProperty(
    fc.property(modelPlan, (plan) => {
      tally[runPipeline(buildTflite(specOf(plan)))]++;
    }),
    STRUCTURE_CASES,
    SEED,
  );
  // Most files must get past the reader, or this fuzzes the reader again.
  assert.ok(tally.analysed > STRUCTURE_CASES / 3, JSON.stringify(tally));
});

test(`fuzz: ${BYTE_CASES} mutated files analyse or fail with one line, quickly`, () => {
  assertProperty(
    fc.property(
      seedIndex,
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      (seedIndex, mutations) => {
        runPipeline(mutate(seedIndex, mutations));
      },
    ),
    BYTE_CASES,
    SEED + 1,
  );
});
