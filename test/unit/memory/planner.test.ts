import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planMemory } from '../../../src/core/memory';
import { graph } from './planInput';

test('a chain peaks at one node with its input and output alive', () => {
  // Lifetimes: x[0,3] y[0,3] (graph I/O), a[0,1], b[1,2], c[2,3].
  // Live: step0 x+a+y = 120, step1 x+a+b+y = 320, step2 x+b+c+y = 270, step3 x+c+y = 70.
  // Placing b(200), a(100), c(50), x(10), y(10):
  //   b→0; a overlaps b→200; c overlaps b only (a ended)→200; x→300; y→310. Arena 320.
  const plan = planMemory(
    graph(
      ['A: x -> a', 'B: a -> b', 'C: b -> c', 'D: c -> y'],
      { x: 10, a: 100, b: 200, c: 50, y: 10 },
      { inputs: ['x'], outputs: ['y'] },
    ),
  );
  assert.deepEqual(plan.liveBytesPerStep, [120, 320, 270, 70]);
  assert.equal(plan.lowerBoundBytes, 320);
  assert.equal(plan.peakStep, 1);
  assert.equal(plan.peakNode, 'B');
  assert.deepEqual(plan.liveAtPeak, [
    { name: 'b', bytes: 200 },
    { name: 'a', bytes: 100 },
    { name: 'x', bytes: 10 },
    { name: 'y', bytes: 10 },
  ]);
  assert.equal(plan.peakActivationBytes, 320);
  assert.equal(plan.naiveActivationBytes, 370);
  assert.deepEqual(Object.fromEntries(plan.offsets), { b: 0, a: 200, c: 200, x: 300, y: 310 });
});

test('a residual block keeps the skip tensor alive across the branch', () => {
  // Lifetimes: in/out[0,4], s[0,3] (read again by Add), h1[1,2], h2[2,3], r[3,4].
  // Live: 108, 208, 308 (s+h1+h2), 308 (s+h2+r), 108. The earliest peak is Conv2 at step 2.
  // Placing s, h1, h2, r (100 each, by first step), then in, out:
  //   s→0; h1→100; h2 (overlaps s, h1)→200; r overlaps s@0 and h2@200, fits at 100 where h1 was;
  //   in→300; out→304. Arena 308 = the lower bound.
  const plan = planMemory(
    graph(
      ['Stem: in -> s', 'Conv1: s -> h1', 'Conv2: h1 -> h2', 'Add: h2 s -> r', 'Head: r -> out'],
      { in: 4, s: 100, h1: 100, h2: 100, r: 100, out: 4 },
      { inputs: ['in'], outputs: ['out'] },
    ),
  );
  const skip = plan.lifetimes.find((t) => t.name === 's');
  assert.deepEqual(skip, { name: 's', bytes: 100, firstStep: 0, lastStep: 3 });
  assert.deepEqual(plan.liveBytesPerStep, [108, 208, 308, 308, 108]);
  assert.equal(plan.peakNode, 'Conv2');
  assert.deepEqual(
    plan.liveAtPeak.map((t) => t.name),
    ['h1', 'h2', 's', 'in', 'out'],
  );
  assert.deepEqual(Object.fromEntries(plan.offsets), {
    s: 0,
    h1: 100,
    h2: 200,
    r: 100,
    in: 300,
    out: 304,
  });
  assert.equal(plan.peakActivationBytes, 308);
  assert.equal(plan.naiveActivationBytes, 408);
});

test('both branches stay alive until the Concat that joins them', () => {
  // Lifetimes: in/out[0,4], s[0,2], a[1,3], b[2,3], c[3,4].
  // Live: 108, 168 (s+a), 208 (s+a+b), 208 (a+b+c), 108. Peak at BranchB, step 2.
  // Placing s(100), c(100, later), a(60), b(40), in, out:
  //   s→0; c→0 (s is dead by step 3); a overlaps s and c→100; b→160; in→200; out→204.
  const plan = planMemory(
    graph(
      ['Stem: in -> s', 'BranchA: s -> a', 'BranchB: s -> b', 'Concat: a b -> c', 'Head: c -> out'],
      { in: 4, s: 100, a: 60, b: 40, c: 100, out: 4 },
      { inputs: ['in'], outputs: ['out'] },
    ),
  );
  const lastStep = (name: string) => plan.lifetimes.find((t) => t.name === name)?.lastStep;
  assert.equal(lastStep('a'), 3);
  assert.equal(lastStep('b'), 3);
  assert.deepEqual(plan.liveBytesPerStep, [108, 168, 208, 208, 108]);
  assert.equal(plan.peakNode, 'BranchB');
  assert.deepEqual(Object.fromEntries(plan.offsets), {
    s: 0,
    c: 0,
    a: 100,
    b: 160,
    in: 200,
    out: 204,
  });
  assert.equal(plan.peakActivationBytes, 208);
  assert.equal(plan.naiveActivationBytes, 308);
});

test('a chain of same-size elementwise ops reuses two slots instead of summing', () => {
  // x and y (graph I/O) are live all run; t1..t5 are 64 bytes each, each alive for two steps.
  // All sizes tie, so the order is by first step, then name: t1, x, y, t2, t3, t4, t5.
  //   t1→0; x→64; y→128; t2→192; t3→0 (t1 dead); t4→192 (t2 dead); t5→0 (t3 dead).
  // Arena 256 = x + y + two intermediates, against 448 for every tensor at once.
  const bytes = { x: 64, t1: 64, t2: 64, t3: 64, t4: 64, t5: 64, y: 64 };
  const plan = planMemory(
    graph(
      [
        'Relu: x -> t1',
        'Sigmoid: t1 -> t2',
        'Tanh: t2 -> t3',
        'Neg: t3 -> t4',
        'Abs: t4 -> t5',
        'Exp: t5 -> y',
      ],
      bytes,
      { inputs: ['x'], outputs: ['y'] },
    ),
  );
  const intermediates = ['t1', 't2', 't3', 't4', 't5'].map((name) => plan.offsets.get(name));
  assert.deepEqual(intermediates, [0, 192, 0, 192, 0]);
  assert.equal(plan.peakActivationBytes, 256);
  assert.equal(plan.lowerBoundBytes, 256);
  assert.equal(plan.naiveActivationBytes, 448);
});
