import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeLifetimes, planMemory } from '../../../src/core/memory';
import { graph } from './planInput';

const span = (input: ReturnType<typeof graph>, name: string) => {
  const t = computeLifetimes(input).find((lifetime) => lifetime.name === name);
  return t && [t.firstStep, t.lastStep];
};

test('graph inputs and outputs are live for the whole run', () => {
  // x is read only at step 0 and y written only at step 2, yet both span steps 0-2.
  const input = graph(
    ['A: x -> a', 'B: a -> b', 'C: b -> y'],
    { x: 1, a: 1, b: 1, y: 1 },
    {
      inputs: ['x'],
      outputs: ['y'],
    },
  );
  assert.deepEqual(span(input, 'x'), [0, 2]);
  assert.deepEqual(span(input, 'y'), [0, 2]);
  assert.deepEqual(span(input, 'a'), [0, 1]);
});

test('an output nobody reads is live only while its producer runs', () => {
  const input = graph(
    ['Split: x -> a unused', 'B: a -> y'],
    { x: 8, a: 8, unused: 8, y: 8 },
    {
      inputs: ['x'],
      outputs: ['y'],
    },
  );
  assert.deepEqual(span(input, 'unused'), [0, 0]);
  // Step 0 holds x, y, a and unused (32); step 1 only x, y, a (24).
  assert.deepEqual(planMemory(input).liveBytesPerStep, [32, 24]);
});

test('constants and weights, absent from tensorBytes, are ignored', () => {
  const input = graph(['Conv: x w -> y'], { x: 4, y: 4 }, { inputs: ['x'], outputs: ['y'] });
  assert.deepEqual(
    computeLifetimes(input).map((t) => t.name),
    ['y', 'x'],
  );
});

test('a tensor that no step, input or output mentions is not planned', () => {
  const input = graph(
    ['A: x -> y'],
    { x: 4, y: 4, orphan: 100 },
    { inputs: ['x'], outputs: ['y'] },
  );
  const plan = planMemory(input);
  assert.equal(plan.offsets.has('orphan'), false);
  assert.equal(plan.naiveActivationBytes, 8);
});

test('a tensor read before any step produces it is live from the start', () => {
  const input = graph(['A: x -> a', 'B: a side -> y'], { x: 1, a: 1, side: 1, y: 1 });
  assert.deepEqual(span(input, 'side'), [0, 1]);
});

test('zero-size tensors sit at offset 0 and change neither the arena nor the peak list', () => {
  // Live: step0 x+a+empty+y = 20, step1 x+a+y = 20; the arena is x + a + y = 20.
  const plan = planMemory(
    graph(
      ['A: x -> a empty', 'B: a empty -> y'],
      { x: 5, a: 10, empty: 0, y: 5 },
      {
        inputs: ['x'],
        outputs: ['y'],
      },
    ),
  );
  assert.equal(plan.offsets.get('empty'), 0);
  assert.equal(plan.peakActivationBytes, 20);
  assert.equal(plan.lowerBoundBytes, 20);
  assert.equal(
    plan.liveAtPeak.some((t) => t.name === 'empty'),
    false,
  );
});

test('a graph with no steps and nothing live has an empty plan', () => {
  const plan = planMemory(graph([], {}));
  assert.equal(plan.peakActivationBytes, 0);
  assert.equal(plan.lowerBoundBytes, 0);
  assert.equal(plan.peakStep, -1);
  assert.equal(plan.peakNode, '');
  assert.deepEqual(plan.liveBytesPerStep, []);
});

test('a negative or unknown size is an error naming the tensor', () => {
  assert.throws(() => planMemory(graph(['A: x -> y'], { x: 4, y: -1 })), /Tensor 'y' has -1 bytes/);
  assert.throws(() => planMemory(graph(['A: x -> y'], { x: Number.NaN, y: 1 })), /Tensor 'x'/);
});
