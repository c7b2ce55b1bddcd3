/**
 * Our shape rules against ONNX's operator conformance suite (the `node` tests of
 * onnx/backend/test/data, from Debian's libonnx-testdata or $ONNX_CONFORMANCE_DATA); the rules
 * of the measurement are in src/core/shapes/conformance.ts. The harness itself is checked first
 * on a small suite written here, so that it runs on every machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeModel, writeTensor } from '../../../src/core/onnx/encode';
import { DataType, type Model, type Tensor } from '../../../src/core/onnx/types';
import { WireWriter } from '../../../src/core/onnx/wire';
import {
  findConformanceData,
  runConformance,
  type ConformanceCase,
} from '../../../src/core/shapes/conformance';
import { makeTensor, ModelBuilder, tensorTypeInfo } from '../../helpers/modelBuilder';

/** The pass rate the suite must reach. */
const REQUIRED_RATE = 0.98;

function tensorBytes(t: Tensor): Uint8Array {
  const w = new WireWriter();
  writeTensor(w, t);
  return w.finish();
}

/** Writes one test folder as the suite lays it out. */
function writeCase(
  root: string,
  name: string,
  model: ModelBuilder | Model,
  inputs: Tensor[],
  outputs: Tensor[],
): void {
  const data = path.join(root, name, 'test_data_set_0');
  fs.mkdirSync(data, { recursive: true });
  const bytes = model instanceof ModelBuilder ? model.bytes() : encodeModel(model);
  fs.writeFileSync(path.join(root, name, 'model.onnx'), bytes);
  inputs.forEach((t, i) => fs.writeFileSync(path.join(data, `input_${i}.pb`), tensorBytes(t)));
  outputs.forEach((t, i) => fs.writeFileSync(path.join(data, `output_${i}.pb`), tensorBytes(t)));
}

const f32 = (name: string, dims: number[]): Tensor => makeTensor(name, DataType.FLOAT, dims);
const i64 = (name: string, values: number[]): Tensor =>
  makeTensor(name, DataType.INT64, [values.length], values);

test('the harness: shapes from the inputs, shape parameters as constants, declared outputs ignored, data-dependent tests excluded', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-conformance-'));
  try {
    // test_abs marks a suite folder (findConformanceData looks for it).
    let b = new ModelBuilder({ opset: 13 });
    b.input('x', DataType.FLOAT, [2, 3]);
    b.node('Abs', ['x'], {}, { outputs: ['y'] });
    b.output('y', DataType.FLOAT, [2, 3]);
    writeCase(root, 'test_abs', b, [f32('x', [2, 3])], [f32('y', [2, 3])]);

    // The model declares [2, 'N'] for x: the input tensor's dims are what count.
    b = new ModelBuilder({ opset: 13 });
    b.input('x', DataType.FLOAT, [2, 'N']);
    b.node('Relu', ['x'], {}, { outputs: ['y'] });
    b.output('y', DataType.FLOAT, [2, 'N']);
    writeCase(root, 'test_relu_wrong', b, [f32('x', [2, 5])], [f32('y', [2, 4])]);

    // Reshape's shape is a graph input in the suite, a constant in real models.
    b = new ModelBuilder({ opset: 13 });
    b.input('data', DataType.FLOAT, [2, 6]);
    b.input('shape', DataType.INT64, [2]);
    b.node('Reshape', ['data', 'shape'], {}, { outputs: ['reshaped'] });
    b.output('reshaped', DataType.FLOAT, [3, 4]);
    writeCase(
      root,
      'test_reshape',
      b,
      [f32('data', [2, 6]), i64('shape', [3, -1])],
      [f32('reshaped', [3, 4])],
    );

    // No rule for this op: only the declared output would give [2, 3], and it is not used.
    b = new ModelBuilder({ opset: 13 });
    b.extraOpsets.push({ domain: 'my.domain', version: 1 });
    b.input('x', DataType.FLOAT, [2, 3]);
    b.node('Mystery', ['x'], {}, { outputs: ['y'], domain: 'my.domain' });
    b.output('y', DataType.FLOAT, [2, 3]);
    writeCase(root, 'test_mystery', b, [f32('x', [2, 3])], [f32('y', [2, 3])]);

    // NonZero's count is in the input's values.
    b = new ModelBuilder({ opset: 13 });
    b.input('x', DataType.FLOAT, [2, 2]);
    b.node('NonZero', ['x'], {}, { outputs: ['y'] });
    b.output('y', DataType.INT64, [2, 3]);
    const nz = makeTensor('x', DataType.FLOAT, [2, 2], [1, 0, 1, 1]);
    writeCase(root, 'test_nonzero', b, [nz], [makeTensor('y', DataType.INT64, [2, 3])]);

    // A sequence output is not counted.
    b = new ModelBuilder({ opset: 13 });
    b.input('x', DataType.FLOAT, [2]);
    b.node('SequenceConstruct', ['x', 'x'], {}, { outputs: ['s'] });
    const model = b.build();
    const sequenceType = {
      extra: [],
      kind: 'sequence' as const,
      elemType: 0,
      inner: tensorTypeInfo(1),
    };
    const outputs = [{ extra: [], name: 's', docString: '', type: sequenceType }];
    writeCase(
      root,
      'test_sequence',
      { ...model, graph: { ...model.graph, outputs } },
      [f32('x', [2])],
      [],
    );

    const report = runConformance(root);
    const byName = new Map(report.cases.map((c) => [c.name, c]));
    const status = (n: string): ConformanceCase['status'] | undefined => byName.get(n)?.status;
    assert.equal(status('test_abs'), 'pass');
    assert.equal(status('test_reshape'), 'pass');
    assert.deepEqual(byName.get('test_reshape')?.constantInputs, ['shape']);
    assert.equal(status('test_relu_wrong'), 'fail');
    assert.match(
      byName.get('test_relu_wrong')?.reason ?? '',
      /y: inferred \[2, 5\], expected \[2, 4\]/,
    );
    assert.equal(status('test_mystery'), 'fail');
    assert.equal(byName.get('test_mystery')?.op, 'Mystery');
    assert.equal(status('test_nonzero'), 'excluded');
    assert.match(byName.get('test_nonzero')?.reason ?? '', /non-zero/);
    assert.equal(status('test_sequence'), 'not-tensor');
    assert.equal(report.counted, 4);
    assert.equal(report.passed, 2);
    assert.equal(findConformanceData({ ONNX_CONFORMANCE_DATA: root }), root);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

const suite = findConformanceData();

test(
  `ONNX's operator conformance tests: at least ${REQUIRED_RATE * 100}% get every output shape right`,
  {
    skip: suite
      ? false
      : 'no ONNX conformance suite here: apt-get install libonnx-testdata, or set ONNX_CONFORMANCE_DATA to onnx/backend/test/data',
  },
  (t) => {
    const start = performance.now();
    const report = runConformance(suite!);
    const ms = performance.now() - start;
    const count = (s: ConformanceCase['status']): number =>
      report.cases.filter((c) => c.status === s).length;
    t.diagnostic(
      `${suite}: ${report.passed}/${report.counted} passed (${(report.rate * 100).toFixed(2)}%), ` +
        `${count('excluded')} excluded as data-dependent, ${count('not-tensor')} with sequence or ` +
        `optional outputs not counted; ${Math.round(ms)} ms`,
    );
    const failures = new Map<string, ConformanceCase[]>();
    for (const c of report.cases.filter((x) => x.status === 'fail')) {
      failures.set(c.op, [...(failures.get(c.op) ?? []), c]);
    }
    for (const [op, cases] of [...failures].sort(([a], [b]) => a.localeCompare(b))) {
      t.diagnostic(`${op} (${cases.length}):`);
      for (const c of cases) t.diagnostic(`  ${c.name}: ${c.reason}`);
    }
    assert.ok(report.counted > 0, 'no test with tensor outputs was counted');
    assert.ok(
      report.rate >= REQUIRED_RATE,
      `${(report.rate * 100).toFixed(2)}% of the conformance tests pass, below ${REQUIRED_RATE * 100}%`,
    );
  },
);
