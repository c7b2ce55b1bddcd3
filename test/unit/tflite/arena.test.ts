import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tfliteArena } from '../../../src/core/tflite/arena';
import { allocationInfo } from '../../../src/core/tflite/arenaLifetimes';
import { parseTfliteBytes } from '../../../src/core/tflite/load';
import { BUILTIN_OPERATOR_NAMES, BUILTIN_OPTIONS_NAMES } from '../../../src/core/tflite/ops';
import { buildTflite } from '../../helpers/tfliteBuilder';
import type { ModelSpec, OperatorSpec, TensorSpec } from '../../helpers/tfliteBuilder';

const ADD = 0;
const IF = BUILTIN_OPERATOR_NAMES.indexOf('IF');
// BuiltinOptions members are 1-based (0 is NONE): member n is at index n - 1 (ops.ts).
const IF_OPTIONS = BUILTIN_OPTIONS_NAMES.indexOf('IfOptions') + 1;

const activation = (name: string, bytes = 48, extra: Partial<TensorSpec> = {}): TensorSpec => ({
  name,
  shape: [1, bytes],
  ...extra,
});
const op = (inputs: number[], outputs: number[]): OperatorSpec => ({
  opcodeIndex: 0,
  inputs,
  outputs,
});

function load(spec: Partial<ModelSpec> & Pick<ModelSpec, 'subgraphs'>) {
  return parseTfliteBytes(buildTflite({ operatorCodes: [{ builtinCode: ADD }], ...spec }));
}

/** t0 -> op0 -> t1, t0 -> op1 -> t2, (t1, t2) -> op2 -> t3: TFLM's "model with branches". */
function branches(extra: Partial<ModelSpec> = {}) {
  return load({
    subgraphs: [
      {
        tensors: ['t0', 't1', 't2', 't3'].map((n) => activation(n)),
        inputs: [0],
        outputs: [3],
        operators: [op([0], [1]), op([0], [2]), op([1, 2], [3])],
      },
    ],
    ...extra,
  });
}

/** A 32-bit int32 offline plan: [version, subgraphs, tensor count, offsets...]. */
function offlinePlan(offsets: number[], count = offsets.length) {
  return new Uint8Array(new Int32Array([1, 0, count, ...offsets]).buffer);
}

const offsets = (arena: ReturnType<typeof tfliteArena>) =>
  Object.fromEntries(arena.placements.map((p) => [p.name, p.offset]));

test('lifetimes follow TFLM: inputs from the start to their last reader, outputs to the end', () => {
  const info = allocationInfo(branches());
  assert.deepEqual(
    info.tensors.map((t) => [t.name, t.firstScope, t.lastScope]),
    [
      ['t0', 0, 2],
      ['t1', 1, 3],
      ['t2', 2, 3],
      ['t3', 3, 3],
    ],
  );
  assert.deepEqual(info.scopes, [
    { subgraph: 0, operator: -1 },
    { subgraph: 0, operator: 0 },
    { subgraph: 0, operator: 1 },
    { subgraph: 0, operator: 2 },
  ]);
});

test('the branches model lands where TFLM puts it (micro_allocator_test)', () => {
  // Equal sizes, so the last tensor goes first: t3 0, t2 48, t1 96, t0 in t3's bytes.
  const arena = tfliteArena(branches());
  assert.deepEqual(offsets(arena), { t0: 0, t1: 96, t2: 48, t3: 0 });
  assert.equal(arena.nonPersistentBytes, 144);
  assert.equal(arena.offlinePlanned, false);
  assert.deepEqual(arena.liveBytesPerScope, [48, 96, 144, 144]);
  assert.equal(arena.lowerBoundBytes, 144);
  assert.equal(arena.peakScope, 2);
  assert.equal(arena.peakOpIndex, 1);
  assert.deepEqual(arena.liveBytesPerOp, [96, 144, 144]);
  assert.deepEqual(
    arena.liveAtPeak.map((t) => t.name),
    ['t0', 't1', 't2'],
  );
  assert.deepEqual(
    arena.placements.map((p) => [p.firstOp, p.lastOp]),
    [
      [0, 1],
      [0, 2],
      [1, 2],
      [2, 2],
    ],
  );
  assert.equal(arena.naiveBytes, 192);
});

test('sizes are shape × TFLM bytes per element, padded to 16; constants stay out', () => {
  const arena = tfliteArena(
    load({
      buffers: [{ data: new Uint8Array(20) }],
      subgraphs: [
        {
          tensors: [
            { name: 'x', shape: [1, 3], type: 0 }, // float32: 12 bytes -> 16
            { name: 'w', shape: [1, 20], buffer: 1 }, // constant: read from flash
            { name: 'y', shape: [1, 5] }, // int8: 5 -> 16
            { name: 'z', shape: [2, 9], type: 17 }, // int4: one byte each in TFLM's arena
          ],
          inputs: [0],
          outputs: [3],
          operators: [op([0, 1], [2]), op([2], [3])],
        },
      ],
    }),
  );
  assert.deepEqual(
    arena.placements.map((p) => [p.name, p.bytes, p.alignedBytes]),
    [
      ['x', 12, 16],
      ['y', 5, 16],
      ['z', 18, 32],
    ],
  );
  // z [2,2] goes first (largest); then y (equal to x, added later) [1,2] after z; x [0,1] meets
  // y only, so it takes the 32 bytes before y.
  assert.deepEqual(offsets(arena), { x: 0, y: 32, z: 0 });
  assert.equal(arena.nonPersistentBytes, 48);
});

test('variable tensors are reported apart, in the persistent part, padded to 16', () => {
  const arena = tfliteArena(
    load({
      subgraphs: [
        {
          tensors: [
            activation('x', 32),
            { name: 'state', shape: [1, 40], type: 7, isVariable: true }, // 80 bytes
            activation('y', 32),
            { name: 'state2', shape: [1, 3], isVariable: true }, // 3 -> 16
          ],
          inputs: [0],
          outputs: [2],
          operators: [op([0, 1, 3], [2])],
        },
      ],
    }),
  );
  assert.deepEqual(
    arena.placements.map((p) => p.name),
    ['x', 'y'],
  );
  assert.deepEqual(arena.variables, [
    { subgraph: 0, tensor: 1, name: 'state', bytes: 80 },
    { subgraph: 0, tensor: 3, name: 'state2', bytes: 3 },
  ]);
  assert.equal(arena.variableBytes, 96);
  const item = arena.persistentItems.find((i) => i.label === 'Variable tensors');
  assert.equal(item?.bytes, 96);
  assert.ok(arena.persistentEstimateBytes > 96);
  assert.match(arena.persistentNote, /^Estimate/);
  assert.match(arena.persistentNote, /kernels/);
});

test('an OfflineMemoryAllocation plan is honoured as given (micro_allocator_test)', () => {
  // Chain t0 -> t1 -> t2 -> t3, offline at 0, 48, 0, 48.
  const arena = tfliteArena(
    load({
      buffers: [{ data: offlinePlan([0, 48, 0, 48]) }],
      metadata: [{ name: 'OfflineMemoryAllocation', buffer: 1 }],
      subgraphs: [
        {
          tensors: ['t0', 't1', 't2', 't3'].map((n) => activation(n)),
          inputs: [0],
          outputs: [3],
          operators: [op([0], [1]), op([1], [2]), op([2], [3])],
        },
      ],
    }),
  );
  assert.equal(arena.offlinePlanned, true);
  assert.deepEqual(offsets(arena), { t0: 0, t1: 48, t2: 0, t3: 48 });
  assert.ok(arena.placements.every((p) => p.offline));
  assert.equal(arena.nonPersistentBytes, 96);
});

test('-1 in an offline plan leaves that tensor to the planner, around the fixed ones', () => {
  // micro_allocator_test's OfflinePlannerOfflineOnline: t1 is an operator input only (never
  // written: first scope -1); t2 and t4 online.
  const arena = tfliteArena(
    load({
      buffers: [{ data: offlinePlan([0, 48, -1, 0, -1]) }],
      metadata: [{ name: 'OfflineMemoryAllocation', buffer: 1 }],
      subgraphs: [
        {
          tensors: ['t0', 't1', 't2', 't3', 't4'].map((n) => activation(n)),
          inputs: [0],
          outputs: [3, 4],
          operators: [op([0, 1], [2]), op([2], [3, 4])],
        },
      ],
    }),
  );
  assert.deepEqual(offsets(arena), { t0: 0, t1: 48, t2: 96, t3: 0, t4: 48 });
  assert.deepEqual(
    arena.placements.map((p) => p.offline),
    [true, true, false, true, false],
  );
  assert.equal(arena.placements[1].firstScope, -1);
});

test('an offline plan whose tensor count is wrong is refused, as TFLM does, and planned online', () => {
  const model = branches({
    buffers: [{ data: offlinePlan([0, 48, 0]) }],
    metadata: [{ name: 'OfflineMemoryAllocation', buffer: 1 }],
  });
  const planned = tfliteArena(model);
  assert.equal(planned.offlinePlanned, false);
  assert.equal(planned.nonPersistentBytes, 144);
  assert.match(planned.warnings.join('\n'), /lists 3 tensors but the model has 4/);
});

test('a variable with an offline offset is placed in the arena, not the persistent part', () => {
  const arena = tfliteArena(
    load({
      buffers: [{ data: offlinePlan([-1, 64, -1]) }],
      metadata: [{ name: 'OfflineMemoryAllocation', buffer: 1 }],
      subgraphs: [
        {
          tensors: [
            activation('x', 32),
            activation('state', 32, { isVariable: true }),
            activation('y', 32),
          ],
          inputs: [0],
          outputs: [2],
          operators: [op([0, 1], [2])],
        },
      ],
    }),
  );
  // state is fixed at 64; y fits in the 64 bytes before it, and x after y.
  assert.deepEqual(offsets(arena), { x: 32, state: 64, y: 0 });
  assert.deepEqual(arena.variables, []);
  assert.equal(arena.variableBytes, 0);
});

test('a tensor with an empty buffer that nothing writes still gets arena bytes, with a warning', () => {
  // "bias" has no data (buffer 0) and is no subgraph input: TFLM plans it from scope -1.
  const arena = tfliteArena(
    load({
      subgraphs: [
        {
          tensors: [activation('x', 32), activation('bias', 16), activation('y', 32)],
          inputs: [0],
          outputs: [2],
          operators: [op([0, 1], [2])],
        },
      ],
    }),
  );
  const bias = arena.placements.find((p) => p.name === 'bias');
  assert.deepEqual([bias?.firstScope, bias?.lastScope], [-1, 1]);
  assert.match(arena.warnings.join('\n'), /bias .*empty buffer but nothing writes it/);
  assert.equal(arena.nonPersistentBytes, 80);
});

test('IF walks both branches in new scopes, inside the operator, in one arena', () => {
  const branch = (a: string, b: string) => ({
    tensors: [activation(a, 16), activation(b, 16)],
    inputs: [0],
    outputs: [1],
    operators: [{ opcodeIndex: 1, inputs: [0], outputs: [1] }],
  });
  const model = load({
    operatorCodes: [{ builtinCode: IF }, { builtinCode: ADD }],
    subgraphs: [
      {
        tensors: [{ name: 'cond', shape: [1], type: 6 }, activation('x', 16), activation('y', 16)],
        inputs: [0, 1],
        outputs: [2],
        operators: [
          {
            opcodeIndex: 0,
            inputs: [0, 1],
            outputs: [2],
            options: {
              type: IF_OPTIONS,
              fields: [
                { id: 0, int32: 1 },
                { id: 1, int32: 2 },
              ],
            },
          },
        ],
      },
      branch('a', 'b'),
      branch('c', 'd'),
    ],
  });
  const info = allocationInfo(model);
  assert.deepEqual(
    info.tensors.map((t) => [t.subgraph, t.name, t.firstScope, t.lastScope]),
    [
      [0, 'cond', 0, 5],
      [0, 'x', 0, 5],
      [0, 'y', 1, 5],
      [1, 'a', 2, 3],
      [1, 'b', 3, 3],
      [2, 'c', 4, 5],
      [2, 'd', 5, 5],
    ],
  );
  assert.deepEqual(
    info.scopes.map((s) => [s.subgraph, s.operator]),
    [
      [0, -1],
      [0, 0],
      [1, -1],
      [1, 0],
      [2, -1],
      [2, 0],
    ],
  );
  const arena = tfliteArena(model);
  assert.equal(arena.placements.length, 7);
  // cond, x and y live throughout (48 bytes), plus at most two branch tensors at a time.
  assert.equal(arena.nonPersistentBytes, 80);
  // The branches' scopes belong to the IF, operator 0 of subgraph 0.
  assert.deepEqual(arena.liveBytesPerOp, [80]);
  assert.ok(arena.placements.every((p) => p.firstOp === 0 && p.lastOp === 0));
  assert.deepEqual(arena.warnings, []);
});

test('a type TFLM cannot size is reported: it would refuse the model', () => {
  const arena = tfliteArena(
    load({
      subgraphs: [
        {
          tensors: [activation('x', 16), { name: 's', shape: [1], type: 5 }],
          inputs: [0],
          outputs: [1],
          operators: [op([0], [1])],
        },
      ],
    }),
  );
  assert.match(arena.warnings.join('\n'), /s \(subgraph 0\) is STRING, which TFLM cannot size/);
});
