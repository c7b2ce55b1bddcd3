/**
 * The measured-effect planners (src/core/advisor/effectPlan.ts, knapsack.ts) against brute force
 * on fabricated effect tables: the least summed effect under the budget, every time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  budgetDevice,
  planSparsity,
  planWidths,
  predict,
  sparsityForecast,
} from '../../../src/core/advisor/effectPlan';
import { leastErrorWithin } from '../../../src/core/advisor/knapsack';
import type { EffectTable, LayerEffects } from '../../../src/core/advisor/measuredEffect';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { gemmMlp } from '../../helpers/gemmMlp';

/** A deterministic pseudo-random stream (the tests must not depend on Math.random). */
function stream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function table(layers: LayerEffects[], labelled = false): EffectTable {
  return {
    metric: 'kl',
    rows: 'logits',
    samples: 32,
    hessianSamples: 0,
    hessianApart: false,
    ...(labelled ? { referenceAccuracy: 0.9 } : {}),
    rounding: 'nearest',
    pruning: 'magnitude',
    layers,
    seconds: 0,
  };
}

const LEVELS = [0.3, 0.5, 0.7, 0.9];

/** Effects growing with sparsity (convex-ish, random slopes), as pruning gives them. */
function sparsityUnit(name: string, elements: number, rand: () => number): LayerEffects {
  const slope = 0.001 + rand() * 0.1;
  const sparsity: LayerEffects['sparsity'] = {};
  for (const s of LEVELS) {
    sparsity[s] = {
      value: slope * s ** (2 + rand() * 2),
      agreement: 1 - s * rand() * 0.1,
      accuracyDelta: -s * rand() * 0.05,
    };
  }
  return { layer: name, layers: [name], source: `${name}.w`, elements, bits: {}, sparsity };
}

describe('leastErrorWithin (the knapsack)', () => {
  it('finds the least error within the budget, as brute force does', () => {
    const rand = stream(11);
    for (let trial = 0; trial < 200; trial++) {
      const groups = Array.from({ length: 1 + Math.floor(rand() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(rand() * 4) }, () => ({
          cost: Math.floor(rand() * 50),
          error: rand(),
        })),
      );
      const budget = Math.floor(rand() * 120);
      let best = Infinity;
      const visit = (i: number, cost: number, error: number): void => {
        if (cost > budget) return;
        if (i === groups.length) {
          best = Math.min(best, error);
          return;
        }
        for (const o of groups[i]) visit(i + 1, cost + o.cost, error + o.error);
      };
      visit(0, 0, 0);
      const choice = leastErrorWithin(groups, budget);
      if (best === Infinity) {
        assert.equal(choice, undefined, `trial ${trial}`);
        continue;
      }
      assert.ok(choice, `trial ${trial}`);
      const cost = choice.reduce((s, c, g) => s + groups[g][c].cost, 0);
      const error = choice.reduce((s, c, g) => s + groups[g][c].error, 0);
      assert.ok(cost <= budget);
      assert.ok(Math.abs(error - best) < 1e-12, `trial ${trial}: ${error} vs ${best}`);
    }
  });
});

describe('planSparsity', () => {
  it('reaches the overall sparsity with the least summed effect (brute force over 5 layers)', () => {
    const rand = stream(3);
    for (let trial = 0; trial < 30; trial++) {
      const sizes = [288, 9216, 18432, 36864, 401408].map((n) =>
        Math.max(1, Math.round(n * (0.2 + rand()))),
      );
      const units = sizes.map((n, i) => sparsityUnit(`l${i}`, n, rand));
      const t = table(units);
      const target = [0.3, 0.5, 0.6, 0.8][trial % 4];
      const plan = planSparsity(t, target);
      // Brute force: every assignment of {0} ∪ LEVELS reaching Σ round(S·n).
      const required = sizes.reduce((s, n) => s + Math.round(target * n), 0);
      const options = [0, ...LEVELS];
      let best = Infinity;
      const visit = (i: number, pruned: number, effect: number): void => {
        if (i === units.length) {
          if (pruned >= required) best = Math.min(best, effect);
          return;
        }
        for (const s of options) {
          const e = s === 0 ? 0 : units[i].sparsity[s].value;
          visit(i + 1, pruned + Math.round(s * sizes[i]), effect + e);
        }
      };
      visit(0, 0, 0);
      const pruned = plan.choices.reduce((s, c) => s + c.pruned, 0);
      assert.ok(pruned >= required, `trial ${trial}: ${pruned} < ${required}`);
      assert.ok(plan.achieved >= target - 1e-3, `${plan.achieved} vs ${target}`);
      assert.ok(
        Math.abs(plan.predicted.effect - best) <= 1e-12 * Math.max(1, best),
        `trial ${trial}: ${plan.predicted.effect} vs ${best}`,
      );
      // Never worse than the uniform plan when the target was measured.
      if (plan.uniform) assert.ok(plan.predicted.effect <= plan.uniform.effect + 1e-15);
      assert.equal(plan.perLayer.size, units.length);
    }
  });

  it('prefers pruning the robust large layer over the sensitive small ones', () => {
    const flat = (v: number): LayerEffects['sparsity'] =>
      Object.fromEntries(LEVELS.map((s) => [s, { value: v * s * s, agreement: 1 }]));
    const units: LayerEffects[] = [
      {
        layer: 'first',
        layers: ['first'],
        source: 'a',
        elements: 300,
        bits: {},
        sparsity: flat(10),
      },
      {
        layer: 'big',
        layers: ['big'],
        source: 'b',
        elements: 9000,
        bits: {},
        sparsity: flat(0.01),
      },
      { layer: 'last', layers: ['last'], source: 'c', elements: 700, bits: {}, sparsity: flat(5) },
    ];
    const plan = planSparsity(table(units), 0.5);
    assert.equal(plan.perLayer.get('first'), 0);
    assert.equal(plan.perLayer.get('last'), 0);
    assert.ok(plan.perLayer.get('big')! >= 0.5);
  });

  it('refuses a target above what the measured sparsities reach, and leaves skipped layers out', () => {
    const rand = stream(5);
    const units = [sparsityUnit('a', 100, rand), sparsityUnit('b', 100, rand)];
    const skipped: LayerEffects = {
      layer: 'c',
      layers: ['c'],
      source: 'c.w',
      elements: 1000,
      bits: {},
      sparsity: {},
      skipped: 'only float32 weights are measured',
    };
    assert.throws(
      () => planSparsity(table([...units, skipped]), 0.95),
      (e: unknown) =>
        e instanceof CompressionRefusal && /highest measured sparsity \(90%\)/.test(e.message),
    );
    const plan = planSparsity(table([...units, skipped]), 0.5);
    assert.equal(plan.prunable, 200);
    assert.match(plan.notes.join(), /c: only float32 weights are measured; left dense/);
  });

  it('predicts by summing effects, accuracy changes and disagreements', () => {
    const units: LayerEffects[] = ['a', 'b'].map((l) => ({
      layer: l,
      layers: [l],
      source: l,
      elements: 10,
      bits: { 4: { value: 0.01, agreement: 0.97, accuracyDelta: -0.02 } },
      sparsity: {},
    }));
    const p = predict(table(units, true), (u) => u.bits[4]);
    assert.ok(Math.abs(p.effect - 0.02) < 1e-12);
    assert.ok(Math.abs(p.accuracyDelta! + 0.04) < 1e-12);
    assert.ok(Math.abs(p.agreement - 0.94) < 1e-12);
  });

  it('forecasts a quick pick: undefined where a target cannot be reached', () => {
    const rand = stream(9);
    const t = table([sparsityUnit('a', 500, rand), sparsityUnit('b', 5000, rand)]);
    const forecast = sparsityForecast(t, [0.25, 0.5, 0.75, 0.95]);
    assert.ok(forecast.get(0.25));
    assert.ok(forecast.get(0.5)!.effect >= forecast.get(0.25)!.effect);
    assert.ok(forecast.get(0.75)!.effect >= forecast.get(0.5)!.effect);
    assert.equal(forecast.get(0.95), undefined);
  });
});

describe('planWidths', () => {
  const SIZES: [number, number, number, number] = [16, 32, 32, 10];
  const loaded = gemmMlp(SIZES, 7);
  const WIDTHS = [8, 6, 5, 4, 3, 2];
  const layerBytes = (l: number, k: number): number =>
    k === 32
      ? SIZES[l] * SIZES[l + 1] * 4
      : Math.ceil((SIZES[l] * SIZES[l + 1] * k) / 8) + SIZES[l + 1] * 4;
  const BIAS = (SIZES[1] + SIZES[2] + SIZES[3]) * 4;

  it('keeps the budget with the least summed effect, keep-float included (brute force)', () => {
    const rand = stream(21);
    for (let trial = 0; trial < 12; trial++) {
      const units: LayerEffects[] = [0, 1, 2].map((l) => {
        const scale = 10 ** (-1 - 3 * rand());
        return {
          layer: `fc${l + 1}`,
          layers: [`fc${l + 1}`],
          source: `w${l + 1}`,
          elements: SIZES[l] * SIZES[l + 1],
          bits: Object.fromEntries(
            WIDTHS.map((k) => [k, { value: scale * 4 ** (8 - k) * (0.5 + rand()), agreement: 1 }]),
          ),
          sparsity: {},
        };
      });
      const t = table(units);
      const options = [32, ...WIDTHS];
      const lowest = BIAS + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 2), 0);
      const highest = BIAS + [0, 1, 2].reduce((s, l) => s + layerBytes(l, 32), 0);
      const budget = Math.round(lowest + (highest - lowest) * rand() * 0.5);
      let best: { bits: number[]; effect: number } | undefined;
      for (const a of options)
        for (const b of options)
          for (const c of options) {
            const bits = [a, b, c];
            const bytes = BIAS + bits.reduce((s, k, l) => s + layerBytes(l, k), 0);
            const effect = bits.reduce((s, k, l) => s + (k === 32 ? 0 : units[l].bits[k].value), 0);
            if (bytes <= budget && (!best || effect < best.effect)) best = { bits, effect };
          }
      const plan = planWidths(loaded, t, budgetDevice(budget));
      assert.ok(best);
      assert.equal(plan.fit.fits, true, plan.fit.reason);
      assert.ok(plan.fit.weightBytes <= budget);
      assert.ok(
        Math.abs(plan.predicted.effect - best.effect) <= 1e-12 * Math.max(1, best.effect),
        `trial ${trial}: ${plan.predicted.effect} vs ${best.effect}`,
      );
      assert.ok(
        Math.abs(plan.fit.predictedError - best.effect) <= 1e-12 * Math.max(1, best.effect),
      );
    }
  });

  it('keeps the layers float when the budget holds them (keep-float costs no effect)', () => {
    const unit: LayerEffects = {
      layer: 'fc1',
      layers: ['fc1'],
      source: 'w1',
      elements: 16 * 32,
      bits: { 8: { value: 0.001, agreement: 1 }, 4: { value: 0.01, agreement: 1 } },
      sparsity: {},
    };
    const plan = planWidths(loaded, table([unit]), budgetDevice(1e9));
    // A huge budget: the least effect is keeping fc1 float (effect 0).
    assert.equal(plan.fit.bitsPerLayer.size, 0);
    assert.equal(plan.predicted.effect, 0);
  });
});
