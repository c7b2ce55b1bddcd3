import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, float } from '../../helpers/modelBuilder';

const cli = path.resolve(__dirname, '../../../dist/cli.js');

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe(
  'model-lens compress and verify',
  { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
  () => {
    let dir: string;
    let model: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-cli-'));
      const b = new ModelBuilder({ opset: 13 });
      const x = b.input('x', DataType.FLOAT, [1, 3, 16, 16]);
      const [c] = b.node(
        'Conv',
        [x, b.weight('w', [16, 3, 3, 3]), b.weight('bias', [16])],
        { pads: [1, 1, 1, 1] },
        { name: 'conv' },
      );
      const [bn] = b.node(
        'BatchNormalization',
        [
          c,
          b.weight('g', [16]),
          b.weight('beta', [16]),
          b.weight('mean', [16]),
          b.initializer('var', DataType.FLOAT, [16], Array(16).fill(1)),
        ],
        { epsilon: float(1e-5) },
        { name: 'bn' },
      );
      const [r] = b.node('Relu', [bn], {}, { name: 'relu' });
      b.classifierHead(r, 16);
      model = path.join(dir, 'net.onnx');
      saveModelFile(b.build(), model);
    });

    test('folds BatchNorm and quantizes to int8, then verify reports the JSON the interface fixes', () => {
      const out = path.join(dir, 'net.int8.onnx');
      const c = run(
        'compress',
        model,
        '-o',
        out,
        '--fold-bn',
        '--quantize',
        'int8',
        '--per-channel',
      );
      assert.equal(c.status, 0, c.stderr);
      assert.match(c.stdout, /fold BatchNormalization/);
      assert.match(c.stdout, /quantize int8 per-channel/);
      assert.ok(fs.statSync(out).size < fs.statSync(model).size);
      const v = run('verify', model, out, '--json');
      assert.equal(v.status, 0, v.stderr);
      const result = JSON.parse(v.stdout) as Record<string, number>;
      assert.deepEqual(Object.keys(result).sort(), [
        'cosine',
        'maxAbsError',
        'samples',
        'sqnrDb',
        'top1Agreement',
      ]);
      assert.ok(result.sqnrDb > 25, `int8 SQNR ${result.sqnrDb}`);
    });

    test('a refusal is one line on stderr with exit code 2, and nothing is written', () => {
      const out = path.join(dir, 'never.onnx');
      const c = run(
        'compress',
        model,
        '-o',
        out,
        '--quantize',
        'int8',
        '--layers',
        'no_such_layer',
      );
      assert.equal(c.status, 2);
      assert.equal(c.stderr.trim().split('\n').length, 1);
      assert.match(c.stderr, /^model-lens: .*no_such_layer/);
      assert.doesNotMatch(c.stderr, /internal error/);
      assert.equal(fs.existsSync(out), false);
    });

    test('usage mistakes are exit 2: no operation, bad width, missing -o', () => {
      assert.equal(run('compress', model, '-o', path.join(dir, 'x.onnx')).status, 2);
      assert.match(
        run('compress', model, '-o', path.join(dir, 'x.onnx'), '--quantize', '9bit').stderr,
        /--quantize expects/,
      );
      assert.match(run('compress', model, '--quantize', 'int8').stderr, /needs -o OUT/);
    });
  },
);
