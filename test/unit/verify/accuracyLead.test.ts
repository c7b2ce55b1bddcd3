/**
 * Accuracy leads every verification: McNemar's exact test of the top-1 change, top-5 accuracy,
 * the one lead sentence (with and without labels) and the behaviour warning after a compression.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import {
  argmaxRows,
  behaviourWarning,
  labelledMetrics,
  MAX_ACCURACY_DROP,
  mcnemarExactP,
  MIN_TOP1_AGREEMENT,
  TOP_K,
  topKRows,
  verifyModels,
  type LabelledMetrics,
  type VerifyResult,
} from '../../../src/core/verify';
import {
  behaviourWarningText,
  formatPointChange,
  verificationLead,
  verificationRows,
} from '../../../src/core/verify/summary';
import { verifyJson } from '../../../src/cli/verifyCommand';
import { ModelBuilder } from '../../helpers/modelBuilder';

/** 2·P(X ≤ min(b, c)), X ~ Binomial(b + c, ½), in exact integer arithmetic. */
function exactP(b: number, c: number): number {
  const n = b + c;
  const k = Math.min(b, c);
  let binomial = 1n; // C(n, 0)
  let sum = 1n;
  for (let i = 0; i < k; i++) {
    binomial = (binomial * BigInt(n - i)) / BigInt(i + 1);
    sum += binomial;
  }
  // 2·sum / 2^n with 30 decimal digits kept, which a double cannot tell from exact.
  const scaled = (2n * sum * 10n ** 30n) / 2n ** BigInt(n);
  return Math.min(1, Number(scaled) / 1e30);
}

const close = (actual: number, expected: number, relative = 1e-12): void =>
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.abs(expected),
    `${actual} vs ${expected}`,
  );

describe("McNemar's exact test", () => {
  it('small counts by hand', () => {
    // b = 0, c = 6: 2·(½)^6 = 1/32.
    assert.equal(mcnemarExactP(0, 6), 0.03125);
    assert.equal(mcnemarExactP(6, 0), 0.03125);
    // b = 1, c = 5: 2·(1 + 6)/64.
    assert.equal(mcnemarExactP(1, 5), 0.21875);
    // b = 2, c = 8: 2·(1 + 10 + 45)/1024.
    assert.equal(mcnemarExactP(2, 8), 0.109375);
    // b = 12, c = 2: 2·(1 + 14 + 91)/16384.
    assert.equal(mcnemarExactP(12, 2), 0.012939453125);
    // No row differs, or as many each way: no evidence of a change; 2·P never exceeds 1.
    assert.equal(mcnemarExactP(0, 0), 1);
    assert.equal(mcnemarExactP(5, 5), 1);
    assert.equal(mcnemarExactP(1, 1), 1);
    assert.equal(mcnemarExactP(3, 0), 0.25);
  });

  it('large counts, past the underflow of 2^−n, match exact integer arithmetic', () => {
    for (const [b, c] of [
      [10, 20],
      [40, 60],
      [480, 520],
      [1100, 1200],
    ]) {
      close(mcnemarExactP(b, c), exactP(b, c));
    }
    // Python's fractions + math.comb on the same sum (Debian's python3, no scipy needed).
    close(mcnemarExactP(1200, 1100), 0.03896685268382058);
    close(mcnemarExactP(40, 60), 0.05688793364098079);
    close(mcnemarExactP(830, 10), 1.2611328949102866e-230);
    // 2^−2300 alone is 0 in a double; the answer is not.
    assert.ok(mcnemarExactP(1100, 1200) > 0.03);
  });

  it('labelledMetrics counts b and c from the rows where exactly one model is right', () => {
    const labels = [0, 0, 0, 0, 0, 0, 0, 0];
    const original = [0, 0, 0, 0, 0, 0, 1, 1]; // right on 6
    const compressed = [1, 1, 1, 1, 1, 1, 1, 0]; // right on 1: b = 6, c = 1
    const m = labelledMetrics(labels, original, compressed, 2).mcnemar!;
    assert.deepEqual({ b: m.b, c: m.c }, { b: 6, c: 1 });
    // 2·(1 + 7)/128.
    assert.equal(m.p, 0.125);
    assert.equal(m.significant, false);
    const all = labelledMetrics([0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], 2);
    assert.equal(all.mcnemar!.p, 0.03125);
    assert.equal(all.mcnemar!.significant, true);
  });
});

describe('top-5', () => {
  it('lists the best classes per row, first of equals first, NaN last; entry 0 is the argmax', () => {
    const rows = [0.1, 0.5, 0.3, 0.5, NaN, 0.2, 9, 8, 7, 6, 5, 4];
    assert.deepEqual(Array.from(topKRows(rows, [2, 6], 3)), [1, 3, 2, 0, 1, 2]);
    assert.deepEqual(Array.from(topKRows([NaN, 1, NaN, 2], [4], 5)), [3, 1, 0, 2, -1]);
    // Fewer classes than k: padded with −1.
    assert.deepEqual(Array.from(topKRows([1, 2], [1, 2], 5)), [1, 0, -1, -1, -1]);
    let seed = 1;
    const random = Array.from({ length: 40 * 13 }, () => {
      seed = (seed * 48271) % 2147483647;
      return seed % 7; // many ties
    });
    const top = topKRows(random, [40, 13], TOP_K);
    const argmax = argmaxRows(random, [40, 13]);
    for (let r = 0; r < 40; r++) {
      assert.equal(top[r * TOP_K], argmax[r]);
      const values = Array.from(
        top.subarray(r * TOP_K, (r + 1) * TOP_K),
        (c) => random[r * 13 + c],
      );
      assert.deepEqual(
        values,
        [...values].sort((a, b) => b - a),
        `row ${r} sorted`,
      );
    }
  });

  it('top-5 accuracy of both models from their lists', () => {
    // Row 0: label 7 is 3rd for the original, not in the compressed's 5; row 1: 1st for both.
    const original = [1, 2, 7, 3, 4, 5, 0, 1, 2, 3];
    const compressed = [1, 2, 3, 4, 5, 5, 1, 2, 3, 4];
    const m = labelledMetrics([7, 5], [1, 5], [1, 5], 10, { original, compressed });
    assert.equal(m.top5Original, 1);
    assert.equal(m.top5Compressed, 0.5);
    assert.equal(labelledMetrics([7], [1], [1], 10).top5Original, undefined);
  });

  it('verifyModels reports top-5 from 10 classes on, not below', async () => {
    const classifier = (classes: number, flip: boolean): Uint8Array => {
      const b = new ModelBuilder();
      const x = b.input('x', DataType.FLOAT, [1, classes]);
      const w = Array.from({ length: classes * classes }, (_, i) =>
        i % (classes + 1) === 0 ? (flip ? -1 : 1) : 0,
      );
      b.node(
        'MatMul',
        [x, b.initializer('w', DataType.FLOAT, [classes, classes], w)],
        {},
        {
          outputs: ['y'],
        },
      );
      b.output('y', DataType.FLOAT, [1, classes]);
      return b.bytes();
    };
    const labels = Array.from({ length: 8 }, (_, i) => i % 3);
    const ten = await verifyModels(classifier(10, false), classifier(10, true), {
      samples: 8,
      labels,
    });
    assert.equal(typeof ten.labelled?.top5Original, 'number');
    assert.equal(typeof ten.labelled?.top5Compressed, 'number');
    const nine = await verifyModels(classifier(9, false), classifier(9, false), {
      samples: 8,
      labels,
    });
    assert.equal(nine.labelled?.top5Original, undefined);
    assert.ok(nine.labelled?.mcnemar);
  });
});

/** 1,000 labelled rows: the original right on 944, the compressed on `right`. */
function thousandRows(b: number, c: number): LabelledMetrics {
  const labels = new Array<number>(1000).fill(0);
  const original = labels.map((_, i) => (i < 944 ? 0 : 1));
  const compressed = original.slice();
  for (let i = 0; i < b; i++) compressed[i] = 1;
  for (let i = 0; i < c; i++) compressed[944 + i] = 0;
  return labelledMetrics(labels, original, compressed, 2);
}

const base: VerifyResult = {
  sqnrDb: 37.44,
  maxAbsError: 0.01,
  cosine: 0.9999,
  top1Agreement: 1,
  samples: 8,
  outputs: ['y'],
  inputSource: 'random',
};

describe('the lead sentence', () => {
  it('with labels: top-1 before → after, the change in points and its significance, on how many rows', () => {
    const small = { ...base, top1Agreement: 0.996, labelled: thousandRows(3, 1) };
    assert.equal(
      verificationLead(small),
      'top-1 94.4% → 94.2% (−0.2 pt, not significant) on 1,000 labelled samples',
    );
    const big = { ...base, top1Agreement: 0.5, labelled: thousandRows(600, 0) };
    assert.equal(
      verificationLead(big),
      'top-1 94.4% → 34.4% (−60.0 pt, significant) on 1,000 labelled samples',
    );
    assert.equal(
      verificationLead({ ...base, labelled: thousandRows(0, 0) }),
      'top-1 94.4% → 94.4% (±0.0 pt, not significant) on 1,000 labelled samples',
    );
    assert.equal(formatPointChange(0.015), '+1.5 pt');
  });

  it("without labels: today's SQNR and agreement sentence", () => {
    assert.equal(
      verificationLead(base),
      'output SQNR 37.4 dB, top-1 agreement 100.0% on 8 random samples',
    );
  });

  it('the rows add the change with its p-value and top-5; the JSON adds them without renaming', () => {
    const labelled = labelledMetrics(
      [0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
      [1, 1, 1, 1, 1, 1],
      10,
      { original: new Array<number>(30).fill(0), compressed: new Array<number>(30).fill(2) },
    );
    const r: VerifyResult = { ...base, top1Agreement: 0, labelled };
    const rows = new Map(verificationRows(r));
    assert.match(
      rows.get('top-1 change') ?? '',
      /^−100\.0 pt, significant \(exact McNemar p = 0\.031; 6 right only before, 0 right only after\)$/,
    );
    assert.equal(rows.get('top-5 accuracy'), '100.0% → 0.0%');
    const json = verifyJson(r) as Record<string, unknown> & {
      labelled: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(json), [
      'sqnrDb',
      'maxAbsError',
      'cosine',
      'top1Agreement',
      'samples',
      'labelled',
      'lead',
    ]);
    assert.deepEqual(json.labelled.mcnemar, { b: 6, c: 0, p: 0.03125, significant: true });
    assert.equal(json.labelled.top5Original, 1);
    assert.equal(json.labelled.top5Compressed, 0);
    assert.equal(json.lead, verificationLead(r));
    for (const key of ['accuracyOriginal', 'accuracyCompressed', 'recall', 'confusion', 'kappa']) {
      assert.ok(key in json.labelled, key);
    }
  });
});

describe('the behaviour warning', () => {
  it('below 90% top-1 agreement: it no longer behaves like the original', () => {
    const w = behaviourWarning({ top1Agreement: 0.69 });
    assert.equal(
      w,
      'the compressed model now disagrees with the original on 31.0% of inputs — it no longer behaves like the original',
    );
    assert.equal(
      behaviourWarningText({ warning: w }, 'editor'),
      `Warning: ${w}. Undo (Ctrl+Z) or choose a milder setting.`,
    );
    assert.match(behaviourWarningText({ warning: w }, 'cli') ?? '', /milder setting/);
    assert.equal(behaviourWarningText({}, 'editor'), undefined);
    // At the threshold itself, no warning.
    assert.equal(MIN_TOP1_AGREEMENT, 0.9);
    assert.equal(behaviourWarning({ top1Agreement: 0.9 }), undefined);
    assert.equal(behaviourWarning({ top1Agreement: 1 }), undefined);
  });

  it('labelled accuracy down more than 5 points warns, even at high agreement; exactly 5 does not', () => {
    assert.equal(MAX_ACCURACY_DROP, 0.05);
    // b = 50, c = 0: exactly 94.4% → 89.4%.
    assert.equal(
      behaviourWarning({ top1Agreement: 0.95, labelled: thousandRows(50, 0) }),
      undefined,
    );
    const w = behaviourWarning({ top1Agreement: 0.94, labelled: thousandRows(60, 0) });
    assert.equal(
      w,
      "the compressed model's top-1 accuracy fell from 94.4% to 88.4% (−6.0 pt) — it is markedly worse than the original",
    );
    const both = behaviourWarning({ top1Agreement: 0.12, labelled: thousandRows(830, 10) });
    assert.match(
      both ?? '',
      /fell from 94\.4% to 12\.4% \(−82\.0 pt\) and it disagrees with the original on 88\.0% of inputs — it no longer behaves like the original$/,
    );
    // A better compressed model is no reason to warn about accuracy.
    assert.equal(
      behaviourWarning({ top1Agreement: 0.95, labelled: thousandRows(0, 40) }),
      undefined,
    );
  });

  it('verifyModels sets it when the compressed model answers otherwise', async () => {
    const linear = (sign: number): Uint8Array => {
      const b = new ModelBuilder();
      const x = b.input('x', DataType.FLOAT, [1, 4]);
      const w = Array.from({ length: 16 }, (_, i) => sign * Math.sin(i + 1));
      b.node('MatMul', [x, b.initializer('w', DataType.FLOAT, [4, 4], w)], {}, { outputs: ['y'] });
      b.output('y', DataType.FLOAT, [1, 4]);
      return b.bytes();
    };
    const same = await verifyModels(linear(1), linear(1));
    assert.equal(same.warning, undefined);
    const negated = await verifyModels(linear(1), linear(-1));
    assert.ok(negated.top1Agreement < MIN_TOP1_AGREEMENT, String(negated.top1Agreement));
    assert.match(negated.warning ?? '', /no longer behaves like the original/);
    assert.equal((verifyJson(negated) as { warning?: string }).warning, negated.warning);
  });
});
