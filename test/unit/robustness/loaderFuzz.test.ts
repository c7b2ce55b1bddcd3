/**
 * Mutation fuzzing of load + analyze. Valid models are corrupted in ways real files get corrupted
 * (bit rot, truncated downloads, bad tooling) and in ways that aim past the protobuf framing at
 * the analysis (a field's value replaced with a negative or huge number, a field dropped or
 * duplicated, with the enclosing lengths fixed up). Whatever the bytes, `analyzeBytes` must
 * return a report or throw one of the known "bad input" errors, and do it quickly: any other
 * error (TypeError, RangeError, ...) is a crash the user would see as a stack trace.
 *
 * Set FUZZ_SEED to replay a failure; FUZZ_RUNS to fuzz longer locally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { analyzeBytes } from '../../../src/core/analyze';
import { ModelLoadError, parseModelBytes } from '../../../src/core/onnx/load';
import { ExternalDataError } from '../../../src/core/onnx/externalData';
import { TensorDataError } from '../../../src/core/onnx/tensorData';
import { GraphError } from '../../../src/core/graph/graph';
import { DataType } from '../../../src/core/onnx/types';
import { ProtoError, WireReader, WireType, WireWriter } from '../../../src/core/onnx/wire';
import { ModelBuilder, float, makeTensor, subgraph } from '../../helpers/modelBuilder';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2024);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);
/** A single case slower than this is a failure: a user must never wait on a corrupt file. */
const CASE_LIMIT_MS = 2000;

/** The errors that mean "bad input" (CLI exit 2). Anything else escaping is a bug. */
const KNOWN_ERRORS = [ModelLoadError, ProtoError, ExternalDataError, TensorDataError, GraphError];
const KNOWN_NAMES = new Set(KNOWN_ERRORS.map((c) => c.name));

function isKnownError(e: unknown): boolean {
  if (KNOWN_ERRORS.some((c) => e instanceof c)) return true;
  // By name too, in case a module is loaded twice (bundling) and instanceof fails.
  return e instanceof Error && KNOWN_NAMES.has(e.name);
}

function describeError(e: unknown): string {
  if (!(e instanceof Error)) return `non-Error thrown: ${String(e)}`;
  const frames = (e.stack ?? '').split('\n').slice(0, 6).join('\n');
  return `${e.name}: ${e.message}\n${frames}`;
}

// ---------------------------------------------------------------------------------------------
// Seed models

/** A small Conv net with Constant nodes (shape and clip bounds) and an If sub-graph. */
function convNet(): Uint8Array {
  const b = new ModelBuilder({ seed: 1, opset: 13 });
  const x = b.input('input', DataType.FLOAT, ['batch', 3, 8, 8]);
  const w1 = b.weight('conv1.weight', [4, 3, 3, 3]);
  const b1 = b.weight('conv1.bias', [4]);
  const [c1] = b.node('Conv', [x, w1, b1], {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    strides: [1, 1],
    dilations: [1, 1],
    group: 1,
  });
  const [lo] = b.node('Constant', [], { value: makeTensor('lo', DataType.FLOAT, [], [0]) });
  const [hi] = b.node('Constant', [], { value: makeTensor('hi', DataType.FLOAT, [], [6]) });
  const [r1] = b.node('Clip', [c1, lo, hi]);
  const [p1] = b.node('MaxPool', [r1], { kernel_shape: [2, 2], strides: [2, 2] });
  const w2 = b.weight('conv2.weight', [4, 1, 3, 3]);
  const [c2] = b.node('Conv', [p1, w2], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 4 });
  const [sum] = b.node('Add', [c2, p1]);
  const [shape] = b.node('Constant', [], {
    value: makeTensor('shape', DataType.INT64, [2], [-1, 64]),
  });
  const [flat] = b.node('Reshape', [sum, shape]);
  const [red] = b.node('ReduceSum', [flat], { keepdims: 0 });
  const [zero] = b.node('Constant', [], { value: makeTensor('zero', DataType.FLOAT, [], [0]) });
  const [cond] = b.node('Greater', [red, zero]);
  const fcW = b.weight('fc.weight', [10, 64]);
  const fcB = b.weight('fc.bias', [10]);
  const thenG = subgraph((s) => {
    const [o] = s.node('Gemm', [flat, fcW, fcB], { transB: 1 }, { outputs: ['then_out'] });
    s.output(o, DataType.FLOAT, ['batch', 10]);
  }, 'then_branch');
  const elseG = subgraph((s) => {
    const w = s.weight('else.weight', [64, 10]);
    const [o] = s.node('MatMul', [flat, w], {}, { outputs: ['else_out'] });
    s.output(o, DataType.FLOAT, ['batch', 10]);
  }, 'else_branch');
  const [y] = b.node('If', [cond], { then_branch: thenG, else_branch: elseG });
  const [sm] = b.node('Softmax', [y], { axis: 1 });
  const [out] = b.node('LeakyRelu', [sm], { alpha: float(0.01) }, { outputs: ['logits'] });
  b.output(out, DataType.FLOAT, ['batch', 10]);
  return b.bytes();
}

/** A MatMul MLP with a transpose and int64 shape initializers. */
function matMulNet(): Uint8Array {
  const b = new ModelBuilder({ seed: 2, opset: 17 });
  const x = b.input('x', DataType.FLOAT, [2, 4, 16]);
  const w1 = b.weight('w1', [16, 32]);
  const b1 = b.weight('b1', [32]);
  const [h] = b.node('MatMul', [x, w1]);
  const [hb] = b.node('Add', [h, b1]);
  const [g] = b.node('Gelu', [hb], {}, { domain: 'com.microsoft' });
  const w2 = b.weight('w2', [32, 8]);
  const [o] = b.node('MatMul', [g, w2]);
  const [t] = b.node('Transpose', [o], { perm: [0, 2, 1] });
  const shape = b.ints('shape', [2, 32]);
  const [y] = b.node('Reshape', [t, shape], {}, { outputs: ['y'] });
  b.output(y, DataType.FLOAT, [2, 32]);
  b.extraOpsets.push({ domain: 'com.microsoft', version: 1 });
  return b.bytes();
}

const SEEDS = [convNet(), matMulNet()];

// ---------------------------------------------------------------------------------------------
// A protobuf field tree, for mutations that keep the framing valid

interface PField {
  readonly num: number;
  readonly wireType: number;
  /** The encoded tag, kept as found (over-long tag varints survive). */
  readonly tag: Uint8Array;
  /** Value bytes for scalar fields; for length-delimited ones, the payload without its length. */
  value: Uint8Array;
  /** Set when the length-delimited payload parses as a message. */
  children?: PField[];
}

const MAX_TREE_DEPTH = 24;

/** Parses `bytes` as a message, or returns undefined when they are not one (strings, floats). */
function parseFields(bytes: Uint8Array, depth: number): PField[] | undefined {
  if (depth > MAX_TREE_DEPTH) return undefined;
  const r = new WireReader(bytes);
  const fields: PField[] = [];
  try {
    while (!r.done()) {
      const num = r.nextTag();
      const tag = bytes.subarray(r.fieldStart, r.pos);
      const wireType = r.wireType;
      if (wireType === WireType.StartGroup || wireType === WireType.EndGroup) return undefined;
      if (wireType === WireType.LengthDelimited) {
        const payload = r.bytes();
        // Tensor payloads would make huge, meaningless trees; only small payloads are explored.
        const children =
          payload.length > 0 && payload.length < 4096 ? parseFields(payload, depth + 1) : undefined;
        fields.push({ num, wireType, tag, value: payload, children });
      } else {
        const start = r.pos;
        r.skip();
        fields.push({ num, wireType, tag, value: bytes.subarray(start, r.pos) });
      }
    }
  } catch (e) {
    if (e instanceof Error && e.name === 'ProtoError') return undefined;
    throw e;
  }
  return fields;
}

function serialize(fields: readonly PField[], w = new WireWriter()): WireWriter {
  for (const f of fields) {
    w.raw(f.tag);
    if (f.wireType === WireType.LengthDelimited) {
      const payload = f.children ? serialize(f.children).finish() : f.value;
      w.varint(payload.length);
      w.raw(payload);
    } else {
      w.raw(f.value);
    }
  }
  return w;
}

/** Every field of the tree, depth first, with the list that holds it. */
function flatten(
  fields: PField[],
  out: { list: PField[]; index: number }[] = [],
): { list: PField[]; index: number }[] {
  fields.forEach((f, index) => {
    out.push({ list: fields, index });
    if (f.children) flatten(f.children, out);
  });
  return out;
}

function varintBytes(v: number): Uint8Array {
  const w = new WireWriter();
  w.varint(v);
  return w.finish();
}

/** Values that break naive size arithmetic: negatives, zero, 2^31, 2^32, 1e15, 2^53. */
const INTERESTING = [
  0,
  1,
  -1,
  -2,
  2,
  3,
  7,
  8,
  16,
  255,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 32 + 1,
  1e15,
  2 ** 53,
  -(2 ** 31),
  -(2 ** 53),
];

/** A huge length prefix: past any buffer, past 2^32, past 2^53, and a 10-byte all-ones varint. */
const HUGE_LENGTHS: Uint8Array[] = [
  varintBytes(2 ** 31 - 1),
  varintBytes(2 ** 32 + 7),
  varintBytes(2 ** 53),
  varintBytes(-1),
  Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
  Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 11 bytes
];

// ---------------------------------------------------------------------------------------------
// Mutations

type Mutation =
  | { kind: 'bitFlip'; pos: number; bit: number }
  | { kind: 'overwrite'; pos: number; bytes: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; pos: number; bytes: number[] }
  | { kind: 'delete'; pos: number; count: number }
  | { kind: 'duplicate'; start: number; length: number; dest: number }
  | { kind: 'swapWireType'; field: number; wireType: number }
  | { kind: 'hugeLength'; field: number; which: number }
  | { kind: 'setVarint'; field: number; value: number }
  | { kind: 'dropField'; field: number }
  | { kind: 'duplicateField'; field: number }
  | { kind: 'payloadBytes'; field: number; pos: number; bytes: number[] };

/**
 * A position, reduced modulo the current length (or candidate count) when applied. Unbiased:
 * fast-check's default bias towards small values would truncate nearly everything to nothing.
 */
const pos = fc.noBias(fc.nat({ max: 2 ** 30 }));
const someBytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 });

/**
 * Byte-level mutations model real corruption; the tree-level ones (weighted higher) keep the
 * protobuf framing valid so that most cases get past the decoder into graph building, shape
 * inference and cost analysis.
 */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('bitFlip' as const),
      pos,
      bit: fc.integer({ min: 0, max: 7 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('overwrite' as const), pos, bytes: someBytes }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: pos }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('insert' as const), pos, bytes: someBytes }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      pos,
      count: fc.integer({ min: 1, max: 64 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('duplicate' as const),
      start: pos,
      length: fc.integer({ min: 1, max: 256 }),
      dest: pos,
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('swapWireType' as const),
      field: pos,
      wireType: fc.integer({ min: 0, max: 7 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('hugeLength' as const),
      field: pos,
      which: fc.integer({ min: 0, max: HUGE_LENGTHS.length - 1 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('setVarint' as const),
      field: pos,
      value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: -1000, max: 100000 })),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ kind: fc.constant('dropField' as const), field: pos }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('duplicateField' as const), field: pos }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('payloadBytes' as const),
      field: pos,
      pos,
      bytes: someBytes,
    }),
    weight: 4,
  },
);

function splice(
  buf: Uint8Array,
  start: number,
  deleteCount: number,
  insert: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(buf.length - deleteCount + insert.length);
  out.set(buf.subarray(0, start));
  out.set(insert, start);
  out.set(buf.subarray(start + deleteCount), start + insert.length);
  return out;
}

/** Applies a structural mutation to a fresh tree of `buf`; falls back to a bit flip when no field fits. */
function mutateTree(buf: Uint8Array, m: Extract<Mutation, { field: number }>): Uint8Array {
  const tree = parseFields(buf, 0);
  if (!tree || tree.length === 0) return splice(buf, 0, 1, Uint8Array.of(buf[0] ^ 1));
  const all = flatten(tree);
  const pick = (filter: (f: PField) => boolean): { list: PField[]; index: number } | undefined => {
    const candidates = all.filter(({ list, index }) => filter(list[index]));
    return candidates.length ? candidates[m.field % candidates.length] : undefined;
  };
  switch (m.kind) {
    case 'swapWireType': {
      // Rewrite only the low three bits of the tag: same length, so the framing is untouched.
      const slot = pick(() => true)!;
      const f = slot.list[slot.index];
      const tag = Uint8Array.from(f.tag);
      tag[0] = (tag[0] & ~7) | m.wireType;
      slot.list[slot.index] = { ...f, tag };
      break;
    }
    case 'hugeLength': {
      const slot = pick((f) => f.wireType === WireType.LengthDelimited);
      if (!slot) break;
      const f = slot.list[slot.index];
      // Keep the payload, replace its length with a huge one; the parents' lengths are then fixed.
      const body = f.children ? serialize(f.children).finish() : f.value;
      const value = new Uint8Array(HUGE_LENGTHS[m.which].length + body.length);
      value.set(HUGE_LENGTHS[m.which]);
      value.set(body, HUGE_LENGTHS[m.which].length);
      // Stored as an opaque "fixed" value so serialize() writes it without a length of its own.
      slot.list[slot.index] = { num: f.num, wireType: -1, tag: f.tag, value };
      break;
    }
    case 'setVarint': {
      const slot = pick((f) => f.wireType === WireType.Varint);
      if (!slot) break;
      const f = slot.list[slot.index];
      slot.list[slot.index] = { ...f, value: varintBytes(m.value) };
      break;
    }
    case 'dropField': {
      const slot = pick(() => true)!;
      slot.list.splice(slot.index, 1);
      break;
    }
    case 'duplicateField': {
      const slot = pick(() => true)!;
      slot.list.splice(slot.index, 0, slot.list[slot.index]);
      break;
    }
    case 'payloadBytes': {
      // Overwrite bytes inside a leaf payload (a name, a packed array, tensor data).
      const slot = pick(
        (f) => f.wireType === WireType.LengthDelimited && !f.children && f.value.length > 0,
      );
      if (!slot) break;
      const f = slot.list[slot.index];
      const value = Uint8Array.from(f.value);
      const at = m.pos % value.length;
      for (let i = 0; i < m.bytes.length && at + i < value.length; i++) value[at + i] = m.bytes[i];
      slot.list[slot.index] = { ...f, value };
      break;
    }
  }
  return serialize(tree).finish();
}

function applyMutation(buf: Uint8Array, m: Mutation): Uint8Array {
  const n = buf.length;
  if (n === 0) return buf;
  switch (m.kind) {
    case 'bitFlip': {
      const out = Uint8Array.from(buf);
      out[m.pos % n] ^= 1 << m.bit;
      return out;
    }
    case 'overwrite': {
      const out = Uint8Array.from(buf);
      const at = m.pos % n;
      for (let i = 0; i < m.bytes.length && at + i < n; i++) out[at + i] = m.bytes[i];
      return out;
    }
    case 'truncate':
      return buf.slice(0, m.at % n);
    case 'insert':
      return splice(buf, m.pos % (n + 1), 0, Uint8Array.from(m.bytes));
    case 'delete': {
      const at = m.pos % n;
      return splice(buf, at, Math.min(m.count, n - at), new Uint8Array(0));
    }
    case 'duplicate': {
      const start = m.start % n;
      const span = buf.slice(start, Math.min(n, start + m.length));
      return splice(buf, m.dest % (n + 1), 0, span);
    }
    default:
      return mutateTree(buf, m);
  }
}

// The tree serializer must reproduce the seeds exactly, or the structural mutations would be
// testing the serializer's differences instead of the ones they choose.
test('the fuzzer field tree round-trips the seed models', () => {
  for (const seed of SEEDS) {
    const tree = parseFields(seed, 0);
    assert.ok(tree);
    assert.deepEqual(serialize(tree).finish(), seed);
  }
});

test('the unmutated seed models analyze', () => {
  for (const seed of SEEDS) {
    const report = analyzeBytes(seed);
    assert.ok(report.model, 'a report with a model section');
  }
});

/**
 * Minimal forms of failures the fuzzer found (FUZZ_SEED=1..3, FUZZ_RUNS=4), kept as fixed cases
 * so they are checked on every run whatever the seed.
 */
const REGRESSIONS: [string, () => Uint8Array][] = [
  [
    "Reshape of a ['batch', 64] input to a Constant shape [-2, 64]",
    () => {
      const b = new ModelBuilder({ opset: 17 });
      const x = b.input('x', DataType.FLOAT, ['batch', 64]);
      const [s] = b.node('Constant', [], {
        value: makeTensor('s', DataType.INT64, [2], [-2, 64]),
      });
      const [y] = b.node('Reshape', [x, s], {}, { outputs: ['y'] });
      b.output(y);
      return b.bytes();
    },
  ],
  [
    'a graph output declared [-1, 32] whose inferred shape is inconsistent (Reshape of [0, 32] to [2, 32])',
    () => {
      const b = new ModelBuilder({ opset: 17 });
      const x = b.input('x', DataType.FLOAT, [0, 32]);
      const s = b.ints('s', [2, 32]);
      const [y] = b.node('Reshape', [x, s], {}, { outputs: ['y'] });
      b.output(y, DataType.FLOAT, [-1, 32]);
      return b.bytes();
    },
  ],
];

for (const [what, make] of REGRESSIONS) {
  test(`fuzzer regression: ${what}`, () => {
    const failure = runCase(make(), analyzeBytes);
    assert.equal(failure, undefined);
  });
}

/** Runs one case; returns a failure description, or undefined when it behaved. */
function runCase(bytes: Uint8Array, fn: (b: Uint8Array) => unknown): string | undefined {
  const start = performance.now();
  let failure: string | undefined;
  try {
    fn(bytes);
  } catch (e) {
    // Messages may quote names from the file, newlines included; keeping the CLI's stderr to
    // one line is the CLI's job (badInput.test.ts checks it), so only the class is checked here.
    if (!isKnownError(e)) failure = `unexpected error: ${describeError(e)}`;
  }
  const ms = performance.now() - start;
  if (!failure && ms > CASE_LIMIT_MS)
    failure = `took ${ms.toFixed(0)} ms (limit ${CASE_LIMIT_MS} ms)`;
  return failure;
}

function assertProperty<T>(name: string, prop: fc.IProperty<T>, numRuns: number): void {
  try {
    fc.assert(prop, { seed: SEED, numRuns, verbose: 1, includeErrorInReport: true });
  } catch (e) {
    // fast-check's message holds the seed and path too; this line makes the replay command obvious.
    console.error(
      `${name}: failed with FUZZ_SEED=${SEED} (replay: FUZZ_SEED=${SEED} node --import tsx --test ${__filename})`,
    );
    throw e;
  }
}

test(
  'mutated models: analyzeBytes returns a report or throws a known error, quickly',
  { timeout: 120_000 },
  () => {
    const started = performance.now();
    assertProperty(
      'mutation fuzz',
      fc.property(
        fc.integer({ min: 0, max: SEEDS.length - 1 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        (seedIndex, mutations) => {
          let bytes = SEEDS[seedIndex];
          for (const m of mutations) bytes = applyMutation(bytes, m);
          const failure = runCase(bytes, analyzeBytes);
          if (failure) {
            throw new Error(
              `${failure}\n  seed model ${seedIndex}, mutations ${JSON.stringify(mutations)}, ${bytes.length} bytes`,
            );
          }
        },
      ),
      4000 * RUNS,
    );
    const ms = performance.now() - started;
    assert.ok(ms < 20_000 * RUNS, `the fuzz run took ${ms.toFixed(0)} ms`);
  },
);

test('random bytes: parseModelBytes throws ModelLoadError or returns a model, quickly', () => {
  assertProperty(
    'random bytes',
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 2048 }), (bytes) => {
      const failure = runCase(bytes, (b) => parseModelBytes(b));
      if (failure) throw new Error(`${failure}\n  bytes ${Buffer.from(bytes).toString('hex')}`);
    }),
    1000 * RUNS,
  );
});

test('random bytes behind a valid model header reach the graph decoder', () => {
  // Pure random bytes almost never get past the first tag; a valid ModelProto.graph tag and
  // length put the random bytes where the graph decoder has to deal with them.
  assertProperty(
    'random graph',
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 1024 }), (payload) => {
      const w = new WireWriter();
      w.varintField(1, 8);
      w.lengthDelimited(7, payload);
      const failure = runCase(w.finish(), analyzeBytes);
      if (failure)
        throw new Error(`${failure}\n  graph payload ${Buffer.from(payload).toString('hex')}`);
    }),
    500 * RUNS,
  );
});
