import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { liveBytesPerStep, planArena, planMemory } from '../../../src/core/memory';
import type { PlanStep, TensorLifetime } from '../../../src/core/memory';

const lifetimeArbitrary = fc
  .array(
    fc.record({
      bytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })),
      firstStep: fc.integer({ min: 0, max: 30 }),
      length: fc.integer({ min: 0, max: 10 }),
    }),
    { maxLength: 60 },
  )
  .map((raw): TensorLifetime[] =>
    raw.map((t, i) => ({
      name: `t${i}`,
      bytes: t.bytes,
      firstStep: t.firstStep,
      lastStep: t.firstStep + t.length,
    })),
  );

/** Many tensors over few steps, so a tensor has dozens of live neighbours. */
const crowdedLifetimes = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 0, max: 4 })), {
    minLength: 40,
    maxLength: 120,
  })
  .map((raw): TensorLifetime[] =>
    raw.map(([bytes, firstStep], i) => ({
      name: `t${i}`,
      bytes,
      firstStep,
      lastStep: firstStep + 2,
    })),
  );

function assertNoOverlap(lifetimes: readonly TensorLifetime[], offsets: Map<string, number>) {
  for (const a of lifetimes) {
    for (const b of lifetimes) {
      if (a === b || a.bytes === 0 || b.bytes === 0) continue;
      if (a.lastStep < b.firstStep || b.lastStep < a.firstStep) continue;
      const oa = offsets.get(a.name) ?? NaN;
      const ob = offsets.get(b.name) ?? NaN;
      assert.ok(oa + a.bytes <= ob || ob + b.bytes <= oa, `${a.name} and ${b.name} overlap`);
    }
  }
}

test('tensors alive at the same time never share bytes, and lowerBound ≤ arena ≤ naive', () => {
  fc.assert(
    fc.property(fc.oneof(lifetimeArbitrary, crowdedLifetimes), (lifetimes) => {
      const { arenaBytes, offsets } = planArena(lifetimes);
      assertNoOverlap(lifetimes, offsets);
      const lowerBound = Math.max(0, ...liveBytesPerStep(lifetimes, 0));
      const naive = lifetimes.reduce((sum, t) => sum + t.bytes, 0);
      assert.ok(lowerBound <= arenaBytes && arenaBytes <= naive, `${lowerBound} ${arenaBytes}`);
    }),
  );
});

test('with an alignment every offset is a multiple of it and nothing overlaps', () => {
  fc.assert(
    fc.property(lifetimeArbitrary, fc.constantFrom(1, 4, 16, 64), (lifetimes, alignment) => {
      const { offsets } = planArena(lifetimes, alignment);
      for (const offset of offsets.values()) assert.equal(offset % alignment, 0);
      assertNoOverlap(lifetimes, offsets);
    }),
  );
});

test('alignment pads the second of two overlapping tensors', () => {
  // a (10 bytes) goes first by name; b starts at 10 rounded up to 16. Arena 16 + 10 = 26.
  const lifetimes = [
    { name: 'a', bytes: 10, firstStep: 0, lastStep: 1 },
    { name: 'b', bytes: 10, firstStep: 0, lastStep: 1 },
  ];
  const { arenaBytes, offsets } = planArena(lifetimes, 16);
  assert.deepEqual(Object.fromEntries(offsets), { a: 0, b: 16 });
  assert.equal(arenaBytes, 26);
  assert.throws(() => planArena(lifetimes, 0), /alignment/);
});

test('the plan does not depend on the order lifetimes are given in', () => {
  fc.assert(
    fc.property(lifetimeArbitrary, (lifetimes) => {
      const reversed = [...lifetimes].reverse();
      assert.deepEqual(planArena(reversed), planArena(lifetimes));
    }),
  );
});

test('10,000 steps and 20,000 tensors plan quickly', () => {
  // A ResNet-like chain: each step reads the previous output, a skip from 8 steps back, and
  // writes a main tensor plus a side tensor that one later step reads.
  const steps: PlanStep[] = [];
  const tensorBytes = new Map<string, number>([['input', 1000]]);
  for (let i = 0; i < 10_000; i++) {
    const inputs = [i === 0 ? 'input' : `m${i - 1}`];
    if (i >= 8) inputs.push(`m${i - 8}`);
    if (i >= 3) inputs.push(`s${i - 3}`);
    steps.push({ node: `n${i}`, inputs, outputs: [`m${i}`, `s${i}`] });
    tensorBytes.set(`m${i}`, 1000 + ((i * 7919) % 5000));
    tensorBytes.set(`s${i}`, 100 + ((i * 104729) % 900));
  }
  const start = performance.now();
  const plan = planMemory({ steps, tensorBytes, graphInputs: ['input'], graphOutputs: ['m9999'] });
  const elapsed = performance.now() - start;
  assert.equal(plan.offsets.size, 20_001);
  assert.ok(plan.lowerBoundBytes <= plan.peakActivationBytes);
  // The target is well under 100 ms; the bound is loose so a slow CI machine does not flake,
  // yet an accidental all-pairs loop (seconds) still fails.
  assert.ok(elapsed < 1000, `planning took ${elapsed.toFixed(0)} ms`);
});

/** First fit as TFLM writes it: every placed tensor checked, the overlapping ones by offset. */
function referencePlan(lifetimes: readonly TensorLifetime[], alignment: number) {
  const order = [...lifetimes].sort(
    (x, y) =>
      y.bytes - x.bytes ||
      x.firstStep - y.firstStep ||
      (x.name < y.name ? -1 : x.name > y.name ? 1 : 0),
  );
  const placed: { t: TensorLifetime; offset: number }[] = [];
  const offsets = new Map<string, number>();
  for (const t of order) {
    let candidate = 0;
    if (t.bytes > 0) {
      const live = placed
        .filter((p) => p.t.bytes > 0 && p.t.firstStep <= t.lastStep && t.firstStep <= p.t.lastStep)
        .sort((a, b) => a.offset - b.offset);
      for (const p of live) {
        if (candidate + t.bytes <= p.offset) break;
        candidate = Math.max(candidate, Math.ceil((p.offset + p.t.bytes) / alignment) * alignment);
      }
    }
    placed.push({ t, offset: candidate });
    offsets.set(t.name, candidate);
  }
  return offsets;
}

test('the indexed planner places every tensor where a brute-force first fit would', () => {
  fc.assert(
    fc.property(
      fc.oneof(lifetimeArbitrary, crowdedLifetimes),
      fc.constantFrom(1, 8),
      (lifetimes, alignment) => {
        assert.deepEqual(
          planArena(lifetimes, alignment).offsets,
          referencePlan(lifetimes, alignment),
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('a lifetime that ends before it starts is an error naming the tensor', () => {
  assert.throws(
    () => planArena([{ name: 'bad', bytes: 4, firstStep: 3, lastStep: 1 }]),
    /Tensor 'bad' has lifetime \[3, 1\]/,
  );
});
