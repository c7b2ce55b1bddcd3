import { test } from 'node:test';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, assertError, assertNoDiagnostics, assertType, infer } from './nn-harness';

const F = DataType.FLOAT;

test('LSTM, layout 0: Y [seq, dirs, batch, hidden], Y_h and Y_c [dirs, batch, hidden]', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, ['S', 'B', 8]);
  const [y, yh, yc] = b.node(
    'LSTM',
    [x, b.weight('w', [1, 64, 8]), b.weight('r', [1, 64, 16])],
    { hidden_size: 16 },
    { outputs: 3 },
  );
  const r = infer(b);
  assertNoDiagnostics(r);
  assertType(r, y, F, ['S', 1, 'B', 16]);
  assertType(r, yh, F, [1, 'B', 16]);
  assertType(r, yc, F, [1, 'B', 16]);
});

test('LSTM, bidirectional with layout 1 (opset 14): batch-major outputs', () => {
  const b = new ModelBuilder({ opset: 14 });
  const x = b.input('x', F, ['B', 'S', 8]);
  const [y, yh, yc] = b.node(
    'LSTM',
    [x, b.weight('w', [2, 64, 8]), b.weight('r', [2, 64, 16])],
    { hidden_size: 16, direction: 'bidirectional', layout: 1 },
    { outputs: 3 },
  );
  const r = infer(b);
  assertType(r, y, F, ['B', 'S', 2, 16]);
  assertType(r, yh, F, ['B', 2, 16]);
  assertType(r, yc, F, ['B', 2, 16]);
});

test('GRU and RNN take hidden_size from R when the attribute is absent', () => {
  const b = new ModelBuilder();
  const x = b.input('x', F, [10, 4, 8]);
  const [gy, gh] = b.node(
    'GRU',
    [x, b.weight('gw', [1, 96, 8]), b.weight('gr', [1, 96, 32])],
    {},
    { outputs: 2 },
  );
  const [ry] = b.node('RNN', [x, b.weight('rw', [1, 20, 8]), b.weight('rr', [1, 20, 20])], {
    direction: 'reverse',
  });
  const r = infer(b);
  assertType(r, gy, F, [10, 1, 4, 32]);
  assertType(r, gh, F, [1, 4, 32]);
  assertType(r, ry, F, [10, 1, 4, 20]);
});

test('recurrent ops: W for one direction with direction=bidirectional is an error', () => {
  const b = new ModelBuilder();
  b.node(
    'GRU',
    [b.input('x', F, [10, 4, 8]), b.weight('w', [1, 48, 8]), b.weight('r', [1, 48, 16])],
    {
      direction: 'bidirectional',
    },
  );
  assertError(infer(b), /W dim 0 vs bidirectional directions: 1 vs 2/);
});

test('recurrent ops: hidden_size disagreeing with R is an error', () => {
  const b = new ModelBuilder();
  b.node(
    'LSTM',
    [b.input('x', F, [10, 4, 8]), b.weight('w', [1, 64, 8]), b.weight('r', [1, 64, 16])],
    { hidden_size: 32 },
  );
  assertError(infer(b), /hidden size disagrees between hidden_size, R and W: 32 vs 16/);
});

test('recurrent ops: layout is ignored before opset 14', () => {
  const b = new ModelBuilder({ opset: 13 });
  const [y] = b.node(
    'RNN',
    [b.input('x', F, [10, 4, 8]), b.weight('w', [1, 20, 8]), b.weight('r', [1, 20, 20])],
    { layout: 1 },
  );
  assertType(infer(b), y, F, [10, 1, 4, 20]);
});
