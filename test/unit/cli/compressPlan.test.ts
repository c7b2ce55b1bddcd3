/**
 * `model-lens compress` with per-layer plans chosen by measured effect: --fit-weight-bytes,
 * --fit DEVICE, --prune S with --calibration (measured allocation) and --quantize suggested; the
 * plan and its verification on the evaluation part in the output; the usage rules.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModelFile } from '../../../src/core/onnx/load';
import { inputSpecs, randomInputsFor, writeNpy } from '../../../src/core/verify';
import { gemmMlp } from '../../helpers/gemmMlp';

const cli = path.resolve(__dirname, '../../../dist/cli.js');

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
}

describe(
  'model-lens compress with measured plans',
  { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
  () => {
    let dir: string;
    let model: string;
    let data: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-plan-'));
      const loaded = gemmMlp([16, 32, 32, 10], 7);
      model = path.join(dir, 'mlp.onnx');
      saveModelFile(loaded.model, model);
      // 40 samples of 4 rows, labelled (one label per row).
      data = path.join(dir, 'data');
      const specs = inputSpecs(loaded);
      for (let i = 0; i < 40; i++) {
        const sample = path.join(data, String(i));
        fs.mkdirSync(sample, { recursive: true });
        const t = randomInputsFor(specs, { seed: 9, sample: i }).x;
        fs.writeFileSync(
          path.join(sample, 'x.npy'),
          writeNpy({ data: t.data as Float32Array, dims: t.dims, dtype: 'float32' }),
        );
      }
      const labels = Array.from({ length: 160 }, (_, i) => (i * 3) % 10);
      fs.writeFileSync(path.join(data, 'labels.txt'), labels.join(' '));
    });

    test('--fit-weight-bytes plans widths within the budget, writes them, and verifies the plan', () => {
      const out = path.join(dir, 'fit.onnx');
      const budget = 3000;
      const c = run(
        'compress',
        model,
        '-o',
        out,
        '--fit-weight-bytes',
        String(budget),
        '--calibration',
        data,
        '--json',
      );
      assert.equal(c.status, 0, c.stderr);
      const doc = JSON.parse(c.stdout);
      assert.equal(doc.plans.length, 1);
      const plan = doc.plans[0];
      assert.equal(plan.kind, 'widths');
      assert.equal(plan.metric, 'kl');
      assert.equal(plan.rounding, 'gptq');
      assert.ok(plan.weightBytes <= budget, `${plan.weightBytes} > ${budget}`);
      assert.deepEqual(
        plan.layers.map((l: { layer: string }) => l.layer),
        ['fc1', 'fc2', 'fc3'],
      );
      // The analysis of the written model counts what the plan counted.
      const a = run('analyze', out, '--json');
      assert.equal(a.status, 0, a.stderr);
      assert.equal(JSON.parse(a.stdout).totals.weightBytes, plan.weightBytes);
      // Verified on the folder used whole (40 samples: too few to split), with labels.
      assert.equal(doc.verification.disjoint, false);
      assert.match(doc.verification.note, /all 40 samples used for both/);
      assert.ok(doc.verification.measured.labelled);
      assert.ok(doc.verification.measured.effect >= 0);
      assert.ok(doc.verification.predicted.effect >= 0);
    });

    test('the text output shows the plan, then the verification with predicted against measured', () => {
      const c = run(
        'compress',
        model,
        '-o',
        path.join(dir, 'fit2.onnx'),
        '--fit-weight-bytes',
        '2600',
        '--calibration',
        data,
        '--evaluation',
        data,
      );
      assert.equal(c.status, 0, c.stderr);
      assert.match(
        c.stdout,
        /^plan: per-layer weight widths within a weight budget of 2,600 bytes/,
      );
      assert.match(c.stdout, /layer\s+weights\s+width\s+effect alone/);
      assert.match(
        c.stdout,
        /verification on the evaluation part: top-1 .* on 160 labelled samples/,
      );
      assert.match(c.stdout, /predicted KL [^;]+; measured KL/);
    });

    test('--prune S with --calibration shares the sparsity by measured effect', () => {
      const out = path.join(dir, 'pruned.onnx');
      const c = run(
        'compress',
        model,
        '-o',
        out,
        '--prune',
        '0.6',
        '--calibration',
        data,
        '--json',
      );
      assert.equal(c.status, 0, c.stderr);
      const doc = JSON.parse(c.stdout);
      const plan = doc.plans[0];
      assert.equal(plan.kind, 'sparsity');
      assert.ok(plan.achieved >= 0.6 - 1e-3, `achieved ${plan.achieved}`);
      assert.equal(plan.prunable, 16 * 32 + 32 * 32 + 32 * 10);
      assert.match(doc.steps[0].operation, /prune unstructured .*% overall \(per-layer plan\)/);
      // Uniform on request: no plan.
      const u = run(
        'compress',
        model,
        '-o',
        path.join(dir, 'uniform.onnx'),
        '--prune',
        '0.6',
        '--calibration',
        data,
        '--prune-allocation',
        'uniform',
        '--json',
      );
      assert.equal(u.status, 0, u.stderr);
      assert.equal(JSON.parse(u.stdout).plans, undefined);
    });

    test('--quantize suggested quantizes each layer at its suggested width', () => {
      const c = run(
        'compress',
        model,
        '-o',
        path.join(dir, 'sugg.onnx'),
        '--quantize',
        'suggested',
      );
      assert.equal(c.status, 0, c.stderr);
      assert.match(c.stdout, /suggested widths \(weight SQNR ≥ 30 dB per output channel\)/);
    });

    test('--fit DEVICE: a device the weights already fit is refused with the reason', () => {
      const c = run('compress', model, '-o', path.join(dir, 'dev.onnx'), '--fit', 'stm32h743');
      assert.equal(c.status, 2);
      assert.match(c.stderr, /already fit .*STM32H743/);
      const unknown = run('compress', model, '-o', path.join(dir, 'dev.onnx'), '--fit', 'nope');
      assert.equal(unknown.status, 2);
      assert.match(unknown.stderr, /unknown device 'nope'/);
    });

    test('usage mistakes are exit 2 with the rule', () => {
      const o = ['-o', path.join(dir, 'x.onnx')];
      const cases: [string[], RegExp][] = [
        [['--fit', 'stm32h743', '--fit-weight-bytes', '100'], /not both/],
        [['--fit-weight-bytes', '100', '--quantize', 'int8'], /drop --quantize/],
        [['--fit-weight-bytes', 'lots'], /positive number of bytes/],
        [['--prune', '0.5', '--prune-allocation', 'measured'], /needs --calibration/],
        [['--prune', '0.5', '--prune-allocation', 'best'], /measured or uniform/],
        [['--quantize', 'int8', '--prune-allocation', 'uniform'], /applies to --prune/],
        [['--fit-weight-bytes', '100', '--evaluation', data], /--evaluation needs --calibration/],
        [['--quantize', 'int8', '--calibration', data, '--evaluation', data], /applies to a plan/],
      ];
      for (const [args, message] of cases) {
        const c = run('compress', model, ...o, ...args);
        assert.equal(c.status, 2, args.join(' '));
        assert.match(c.stderr, message, args.join(' '));
      }
    });
  },
);
