import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  coverageRows,
  ONNX_OPERATORS,
  SHAPE_RULE_EXCEPTIONS,
} from '../../../src/core/shapes/coverage';
import { coveredOps, findRule } from '../../../src/core/shapes/rules';

test('every ai.onnx operator has a shape rule or a listed exception', () => {
  const missing = coverageRows()
    .filter((r) => r.status === 'missing')
    .map((r) => r.op);
  assert.deepEqual(missing, [], `ops without a shape rule or exception: ${missing.join(', ')}`);
});

test('exceptions are real operators without a rule, each with a reason', () => {
  const ops = new Set(ONNX_OPERATORS);
  for (const [op, reason] of Object.entries(SHAPE_RULE_EXCEPTIONS)) {
    assert.ok(ops.has(op), `${op} is not an ai.onnx operator`);
    assert.equal(
      findRule('', op),
      undefined,
      `${op} has a rule and is also listed as an exception`,
    );
    assert.ok(reason.length > 20, `${op} needs a real reason`);
  }
});

test('the operator list is sorted, unique, and includes the newest ops', () => {
  assert.deepEqual([...ONNX_OPERATORS], [...new Set(ONNX_OPERATORS)].sort());
  for (const op of ['Attention', 'TensorScatter', 'BitCast', 'Scatter', 'Upsample']) {
    assert.ok(ONNX_OPERATORS.includes(op), op);
  }
});

test('coverageRows reports rules, exceptions with reasons, one row per operator', () => {
  const rows = coverageRows();
  assert.equal(rows.length, ONNX_OPERATORS.length);
  assert.equal(rows.find((r) => r.op === 'Reshape')?.status, 'rule');
  const constant = rows.find((r) => r.op === 'Constant');
  assert.equal(constant?.status, 'exception');
  assert.ok(constant?.reason);
  // Every rule row corresponds to a registered rule.
  const covered = new Set(coveredOps());
  for (const r of rows) if (r.status === 'rule') assert.ok(covered.has(r.op), r.op);
});
