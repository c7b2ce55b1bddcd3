import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCli, UsageError } from '../../../src/cli/args';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { checkNmPattern } from '../../../src/core/numerics/nmSparsity';
import { DataType } from '../../../src/core/onnx/types';
import { pruneChoices } from '../../../src/shared/pruneChoices';
import { ModelBuilder } from '../../helpers/modelBuilder';

const prune = (value: string) =>
  parseCli(['compress', 'm.onnx', '-o', 'out.onnx', '--prune', value]).compress!;

test('--prune takes a sparsity as before, or an N:M pattern', () => {
  assert.equal(prune('0.5').prune, 0.5);
  assert.equal(prune('0.5').pruneNm, undefined);
  assert.deepEqual(prune('2:4').pruneNm, { n: 2, m: 4 });
  assert.deepEqual(prune('4:8').pruneNm, { n: 4, m: 8 });
  assert.deepEqual(prune('1:16').pruneNm, { n: 1, m: 16 });
  assert.equal(prune('2:4').prune, undefined);
});

test('--prune refuses a sparsity outside (0, 1), a malformed pattern and N ≥ M, in one line', () => {
  const refused: [string, RegExp][] = [
    [
      '1.5',
      /--prune expects a sparsity between 0 and 1 \(0\.5\) or an N:M pattern \(2:4\), got '1\.5'/,
    ],
    ['0', /got '0'/],
    ['1', /got '1'/],
    ['half', /got 'half'/],
    [
      '4:4',
      /--prune expects a sparsity or an N:M pattern with 0 < N < M ≤ 16: 4:4: N must be from 1 to M − 1/,
    ],
    ['5:4', /5:4: N must be from 1 to M − 1/],
    ['0:4', /0:4: N must be/],
    ['2:32', /2:32: M must be from 2 to 16/],
    ['2:', /'2:' is not an N:M pattern such as 2:4/],
    ['2:4:8', /is not an N:M pattern/],
  ];
  for (const [value, message] of refused) {
    assert.throws(
      () => prune(value),
      (e: unknown) =>
        e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'),
      value,
    );
  }
});

test("the editor's prune quick pick offers 2:4 semi-structured after the sparsities", () => {
  const choices = pruneChoices(true);
  assert.deepEqual(
    choices.map((c) => c.label),
    ['25%', '50%', '75%', '90%', '2:4 semi-structured'],
  );
  assert.deepEqual(choices[4].value, { nm: { n: 2, m: 4 } });
  assert.deepEqual(choices[1].value, { sparsity: 0.5 });
});

const cli = path.resolve(__dirname, '../../../dist/cli.js');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });

describe(
  'model-lens compress --prune N:M',
  { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
  () => {
    let dir: string;
    let model: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-nm-'));
      const b = new ModelBuilder({ opset: 13, seed: 2 });
      const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
      const [c1] = b.node(
        'Conv',
        [x, b.weight('w1', [8, 3, 3, 3])],
        { pads: [1, 1, 1, 1] },
        { name: 'conv1' },
      );
      const [r] = b.node('Relu', [c1]);
      const [c2] = b.node(
        'Conv',
        [r, b.weight('w2', [16, 8, 3, 3])],
        { pads: [1, 1, 1, 1] },
        { name: 'conv2' },
      );
      b.classifierHead(c2, 16);
      model = path.join(dir, 'net.onnx');
      saveModelFile(b.build(), model);
    });

    test('2:4 then int8: both checks in the summary, the analysis sees 2:4, and it verifies', () => {
      const out = path.join(dir, 'net.24.onnx');
      const c = run('compress', model, '-o', out, '--prune', '2:4', '--quantize', 'int8', '--json');
      assert.equal(c.status, 0, c.stderr);
      const steps = (JSON.parse(c.stdout) as { steps: { operation: string; notes: string[] }[] })
        .steps;
      assert.equal(steps[0].operation, 'prune 2:4 semi-structured');
      assert.ok(
        steps[0].notes.some((n) => /skipped 1 layer .*conv1 \(27 = 3·3·3\)/.test(n)),
        steps[0].notes.join('\n'),
      );
      assert.ok(
        steps[0].notes.some((n) =>
          /^2:4 pattern check of the stored weights: \d+ layers pass/.test(n),
        ),
      );
      assert.ok(
        steps[1].notes.some((n) =>
          /^2:4 pattern check of the stored weights after quantize int8.*: \d+ layers pass/.test(n),
        ),
        steps[1].notes.join('\n'),
      );
      const w2 = loadModelFile(out).model.graph.initializers.find((t) => t.name.startsWith('w2'));
      assert.ok(w2 && w2.dataType === DataType.INT8, 'conv2 weight stored int8');
      assert.ok(checkNmPattern(tensorNumbers(w2), 16, 72, 2, 4).ok);

      const a = run(
        'analyze',
        out,
        '--json',
        '--devices',
        writeDevices(dir),
        '--device',
        'orin-like',
      );
      assert.equal(a.status, 0, a.stderr);
      const report = JSON.parse(a.stdout) as {
        totals: { macs: number; sparseMacs?: number };
        nodes: { name: string; nmPattern?: string; sparseMacs?: number; macs: number }[];
        device: { sparsity?: { macs: number; note: string } };
      };
      assert.equal(report.nodes.find((n) => n.name === 'conv2')?.nmPattern, '2:4');
      assert.ok(report.totals.sparseMacs! < report.totals.macs);
      assert.ok(report.device.sparsity!.macs < report.totals.macs);
      assert.match(report.device.sparsity!.note, /orin-like skips 2:4 pattern/);
      const text = run('analyze', out, '--devices', writeDevices(dir), '--device', 'orin-like');
      assert.match(
        text.stdout,
        /Zero weights: MACs .* if every zero is skipped \(dense .*\) · N:M: \d+ layers? 2:4/,
      );
      assert.match(text.stdout, /sparsity: orin-like skips 2:4 pattern/);
      const v = run('verify', model, out, '--json');
      assert.equal(v.status, 0, v.stderr);
    });

    test('a named layer that 4 does not divide is refused in one line, and nothing is written', () => {
      const out = path.join(dir, 'never.onnx');
      const c = run('compress', model, '-o', out, '--prune', '2:4', '--layers', 'conv1');
      assert.equal(c.status, 2);
      assert.equal(
        c.stderr,
        'model-lens: layer conv1: 2:4 needs the input size (27 = 3·3·3) to be a multiple of 4\n',
      );
      assert.equal(fs.existsSync(out), false);
      const bad = run('compress', model, '-o', out, '--prune', '3:2');
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /^model-lens: --prune expects .*3:2: N must be from 1 to M − 1\n$/);
    });
  },
);

function writeDevices(dir: string): string {
  const file = path.join(dir, 'devices.json');
  fs.writeFileSync(
    file,
    JSON.stringify([
      {
        id: 'orin-like',
        ramBytes: '8GiB',
        flashBytes: '8GiB',
        macsPerSecond: { fp32: 1e12, int8: 4e12 },
        supportedWeightBits: [8, 16, 32],
        supportedActivationBits: [8, 16, 32],
        sparsity: { nm: ['2:4'] },
      },
    ]),
  );
  return file;
}
