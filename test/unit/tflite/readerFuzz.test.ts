/**
 * Mutation fuzzing of the TFLite reader. Files built with the flatbuffers Builder (and the real
 * TFLM models when ../shared is there) are truncated, bit-flipped, overwritten with interesting
 * 32-bit values (offsets and lengths aimed past the end, negative, zero) and spliced. Whatever the
 * bytes, `parseTfliteBytes` must return a model or throw ModelLoadError, within a time limit;
 * any other exception is a crash the user would see as a stack trace. A model that decodes must
 * keep the reader's promise: every index in range and every view inside the file.
 *
 * Set FUZZ_SEED to replay a failure; FUZZ_RUNS to fuzz longer locally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ModelLoadError } from '../../../src/core/onnx/load';
import { parseTfliteBytes } from '../../../src/core/tflite/load';
import type { TfliteModel } from '../../../src/core/tflite/types';
import { buildTflite, type ModelSpec } from '../../helpers/tfliteBuilder';
import { sharedTfliteSeeds } from '../../helpers/sharedTflite';

const SEED = Number(process.env.FUZZ_SEED ?? 0x7f1e_2026);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1);
const CASES = 2400 * RUNS;
/** A single case slower than this is a failure: a user must never wait on a corrupt file. */
const CASE_LIMIT_MS = 1000;

/** A model using most of the schema: quantization kinds, sparsity, options, metadata, ... */
function richSpec(): ModelSpec {
  const plan = new Uint8Array(new Int32Array([1, 0, 6, 0, -1, -1, 32, 0, 64]).buffer);
  return {
    description: 'fuzz seed',
    operatorCodes: [
      { builtinCode: 3, deprecatedBuiltinCode: 3, version: 3 },
      { deprecatedBuiltinCode: 4 },
      { builtinCode: 44 },
      { builtinCode: 32, customCode: 'ethos-u' },
      { builtinCode: 4000 },
    ],
    subgraphs: [
      {
        name: 'main',
        tensors: [
          { name: 'x', shape: [1, 4, 4, 2], shapeSignature: [-1, 4, 4, 2], hasRank: true },
          {
            name: 'w',
            shape: [2, 3, 3, 2],
            buffer: 1,
            quantization: { scale: [0.5, 0.25], zeroPoint: [0, 0], quantizedDimension: 0 },
          },
          {
            name: 'b',
            shape: [2],
            type: 2,
            buffer: 2,
            quantization: { custom: new Uint8Array(3) },
          },
          { name: 'y', shape: [1, 4, 4, 2], quantization: { scale: [1], zeroPoint: [-128] } },
          { name: 'state', shape: [1, 2], type: 7, isVariable: true },
          {
            name: 's',
            shape: [2, 2],
            buffer: 3,
            type: 17,
            quantization: { blockwise: { scales: 2, zeroPoints: -1, blockSize: 2 } },
            sparsity: {
              traversalOrder: [0, 1],
              dimMetadata: [
                { format: 0, denseSize: 2 },
                { format: 1, segments: [0, 1, 2], indices: [1, 0], vectorType: 2 },
              ],
            },
          },
        ],
        inputs: [0],
        outputs: [3],
        operators: [
          {
            opcodeIndex: 0,
            inputs: [0, 1, 2],
            outputs: [3],
            options: {
              type: 1,
              fields: [
                { id: 0, int8: 0 },
                { id: 1, int32: 1 },
                { id: 2, int32: 1 },
                { id: 3, int8: 3 },
              ],
            },
          },
          {
            opcodeIndex: 2,
            inputs: [3, -1, 4],
            outputs: [3],
            intermediates: [5],
            mutatingVariableInputs: [false, false, true],
            options: { type: 71, fields: [{ id: 3, bool: true }] },
          },
          { opcodeIndex: 3, inputs: [3], outputs: [3], customOptions: new Uint8Array([1, 2]) },
          {
            opcodeIndex: 4,
            inputs: [3],
            outputs: [3],
            options: { union: 2, type: 1, fields: [{ id: 0, int32: 1 }] },
          },
          {
            opcodeIndex: 1,
            inputs: [3],
            outputs: [3],
            options: { type: 17, fields: [{ id: 0, int32s: [1, -1] }] },
          },
        ],
      },
    ],
    buffers: [
      { data: new Uint8Array(36).fill(7) },
      { outside: new Uint8Array(8).fill(9) },
      { data: new Uint8Array(2) },
      { data: plan },
      { data: new TextEncoder().encode('1.14.0\0\0') },
    ],
    metadata: [
      { name: 'OfflineMemoryAllocation', buffer: 4 },
      { name: 'min_runtime_version', buffer: 5 },
    ],
    signatureDefs: [
      {
        key: 'serving_default',
        subgraphIndex: 0,
        inputs: [{ name: 'x', tensorIndex: 0 }],
        outputs: [{ name: 'y', tensorIndex: 3 }],
      },
    ],
  };
}

const SHARED_SEEDS = sharedTfliteSeeds();

const SEEDS: readonly Uint8Array[] = [buildTflite(richSpec()), ...SHARED_SEEDS];

/** Positions are fractions of the file, or of its first 4 KB where the tables usually sit. */
const position = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }).map((f) => ({ f, head: false })),
  fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }).map((f) => ({ f, head: true })),
);
type Position = { f: number; head: boolean };

const INTERESTING = [0, 1, -1, 2, 4, 0x7fffffff, -0x80000000, 0xffff, 0x10000, 1 << 24, 127, 128];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({
    kind: fc.constant('flip' as const),
    pos: position,
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({
    kind: fc.constant('int32' as const),
    pos: position,
    value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: -4096, max: 1 << 20 })),
  }),
  fc.record({ kind: fc.constant('byte' as const), pos: position, value: fc.nat(255) }),
  fc.record({
    kind: fc.constant('splice' as const),
    from: position,
    to: position,
    length: fc.integer({ min: 1, max: 64 }),
  }),
);

function at(p: Position, length: number): number {
  const span = p.head ? Math.min(length, 4096) : length;
  return Math.floor(p.f * span);
}

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = seed.slice();
  for (const m of mutations) {
    if (bytes.length === 0) break;
    switch (m.kind) {
      case 'truncate':
        bytes = bytes.slice(0, at(m.at, bytes.length));
        break;
      case 'flip':
        bytes[at(m.pos, bytes.length)] ^= 1 << m.bit;
        break;
      case 'byte':
        bytes[at(m.pos, bytes.length)] = m.value;
        break;
      case 'int32': {
        const pos = at(m.pos, bytes.length) & ~3;
        if (pos + 4 <= bytes.length) {
          new DataView(bytes.buffer).setInt32(pos, m.value | 0, true);
        }
        break;
      }
      case 'splice': {
        const from = at(m.from, bytes.length);
        const to = at(m.to, bytes.length);
        bytes.copyWithin(to, from, Math.min(bytes.length, from + m.length));
        break;
      }
    }
  }
  return bytes;
}

/** What a decoded model promises its users (types.ts): indices in range, views inside the file. */
function checkPromises(model: TfliteModel, bytes: Uint8Array): void {
  const inFile = (view: Uint8Array) =>
    view.buffer === bytes.buffer &&
    view.byteOffset >= bytes.byteOffset &&
    view.byteOffset + view.length <= bytes.byteOffset + bytes.length;
  model.buffers.forEach((b, i) => {
    assert.equal(b.index, i);
    assert.ok(inFile(b.data), `buffer ${i} inside the file`);
  });
  for (const sg of model.subgraphs) {
    const n = sg.tensors.length;
    for (const t of sg.tensors) assert.equal(t.buffer, model.buffers[t.bufferIndex]);
    for (const i of [...sg.inputs, ...sg.outputs]) assert.ok(i >= 0 && i < n);
    for (const op of sg.operators) {
      assert.equal(op.opcode, model.operatorCodes[op.opcodeIndex]);
      for (const i of [...op.inputs, ...op.outputs, ...op.intermediates]) {
        assert.ok(i === -1 || (i >= 0 && i < n), `tensor index ${i} of ${n}`);
      }
      if (op.customOptions) assert.ok(inFile(op.customOptions));
    }
  }
}

test('the fuzz seeds decode', () => {
  for (const seed of SEEDS) checkPromises(parseTfliteBytes(seed), seed);
});

test(`fuzz: ${CASES} mutated files each decode or throw ModelLoadError, quickly`, () => {
  const property = fc.property(
    fc.nat(SEEDS.length - 1),
    fc.array(mutation, { minLength: 1, maxLength: 4 }),
    (seedIndex, mutations) => {
      const bytes = mutate(SEEDS[seedIndex], mutations);
      const started = performance.now();
      let model: TfliteModel | undefined;
      try {
        model = parseTfliteBytes(bytes, 'fuzz.tflite');
      } catch (e) {
        if (!(e instanceof ModelLoadError)) {
          throw new Error(`unexpected ${(e as Error).name}: ${(e as Error).stack}`);
        }
        assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
      }
      const ms = performance.now() - started;
      assert.ok(ms < CASE_LIMIT_MS, `took ${ms.toFixed(0)} ms`);
      if (model) checkPromises(model, bytes);
    },
  );
  try {
    fc.assert(property, { seed: SEED, numRuns: CASES, includeErrorInReport: true });
  } catch (e) {
    console.error(`replay: FUZZ_SEED=${SEED} node --import tsx --test ${__filename}`);
    throw e;
  }
});
