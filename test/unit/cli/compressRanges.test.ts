/**
 * `compress --range-method`, `--percentile`, `--keep-float-activations`, `--int16-activations`
 * and `--bias-correction`: what each writes and says, the defaults with and without a
 * calibration folder, and the one-line refusals of bad values.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { inputSpecs, randomInputsFor, writeNpy } from '../../../src/core/verify';
import { ModelBuilder } from '../../helpers/modelBuilder';

const cli = path.resolve(__dirname, '../../../dist/cli.js');

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
}

interface Steps {
  steps: { operation: string; notes: string[] }[];
}

describe(
  'model-lens compress: activation ranges and bias correction',
  { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
  () => {
    let dir: string;
    let model: string;
    let calib: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-cli-ranges-'));
      const b = new ModelBuilder({ opset: 13 });
      const x = b.input('x', DataType.FLOAT, [1, 3, 16, 16]);
      const [c] = b.node(
        'Conv',
        [x, b.weight('w', [8, 3, 3, 3]), b.weight('bias', [8])],
        { pads: [1, 1, 1, 1] },
        { name: 'conv' },
      );
      const [r] = b.node('Relu', [c], {}, { name: 'relu', outputs: ['relu_out'] });
      b.classifierHead(r, 8);
      const built = b.build();
      model = path.join(dir, 'net.onnx');
      saveModelFile(built, model);
      calib = path.join(dir, 'calib');
      const specs = inputSpecs(loadModelFile(model));
      for (let i = 0; i < 4; i++) {
        // Positive inputs: a mean the bias correction has to carry through.
        const set = randomInputsFor(specs, { seed: 3, sample: i });
        const data = (set.x.data as Float32Array).map((v) => 1 + Math.abs(v));
        fs.mkdirSync(path.join(calib, String(i)), { recursive: true });
        fs.writeFileSync(
          path.join(calib, String(i), 'x.npy'),
          writeNpy({ dtype: 'float32', dims: set.x.dims, data }),
        );
      }
    });

    function compress(...args: string[]): Steps {
      const out = path.join(dir, 'out.onnx');
      const c = run('compress', model, '-o', out, ...args, '--json');
      assert.equal(c.status, 0, c.stderr);
      return JSON.parse(c.stdout) as Steps;
    }

    const notes = (s: Steps, operation: RegExp) =>
      s.steps.find((x) => operation.test(x.operation))?.notes.join('\n') ?? '';

    test('defaults: mse with --calibration, min/max without; bias correction for nearest rounding', () => {
      const operations = (s: Steps) => s.steps.map((x) => x.operation);
      const nearest = compress(
        '--quantize',
        '4bit',
        '--rounding',
        'nearest',
        '--activations',
        'auto',
        '--calibration',
        calib,
      );
      assert.deepEqual(operations(nearest), [
        'quantize int4 per-tensor',
        'bias correction',
        'quantize activations int8/uint8 per-tensor',
      ]);
      // The conv's bias is corrected, the classifier's Gemm gets one.
      assert.match(notes(nearest, /bias correction/), /2 layer\(s\) given back/);
      assert.match(notes(nearest, /bias correction/), /1 layer\(s\) without a bias got one/);
      assert.match(notes(nearest, /activations/), /ranges: mse .* from the calibration folder/);
      // GPTQ (the default rounding with --calibration) already compensates the mean.
      const gptq = compress('--quantize', '4bit', '--calibration', calib);
      assert.deepEqual(operations(gptq), ['quantize int4 per-tensor']);
      const pow2 = compress('--quantize', 'pow2', '--calibration', calib);
      assert.deepEqual(operations(pow2), ['quantize pow2 8-bit per-channel', 'bias correction']);
      const random = compress('--quantize', 'int8', '--activations', 'auto');
      assert.deepEqual(operations(random), [
        'quantize int8 per-tensor',
        'quantize activations int8/uint8 per-tensor',
      ]);
      assert.match(notes(random, /activations/), /ranges: min\/max over 8 sample\(s\) from random/);
    });

    test('--range-method and --percentile are said in the notes', () => {
      const p = compress(
        '--activations',
        'auto',
        '--range-method',
        'percentile',
        '--percentile',
        '99.9',
      );
      assert.match(notes(p, /activations/), /ranges: percentile 99\.9 of 2048-bin histograms/);
      const mse = compress('--activations', 'auto', '--range-method', 'mse');
      assert.match(notes(mse, /activations/), /ranges: mse .* from random inputs/);
      const minmax = compress(
        '--activations',
        'auto',
        '--calibration',
        calib,
        '--range-method',
        'minmax',
      );
      assert.match(notes(minmax, /activations/), /ranges: min\/max over 4 sample/);
    });

    test('--bias-correction on|off overrides the default; --keep-float-activations, --int16-activations', () => {
      const on = compress('--quantize', 'int8', '--calibration', calib, '--bias-correction', 'on');
      assert.deepEqual(
        on.steps.map((s) => s.operation),
        ['quantize int8 per-tensor', 'bias correction'],
      );
      const off = compress(
        '--quantize',
        'int8',
        '--rounding',
        'nearest',
        '--calibration',
        calib,
        '--bias-correction',
        'off',
      );
      assert.deepEqual(
        off.steps.map((s) => s.operation),
        ['quantize int8 per-tensor'],
      );
      const kept = compress('--activations', 'auto', '--keep-float-activations', 'fc');
      assert.match(notes(kept, /activations/), /kept float as asked: 1 activation\(s\): features/);
      const wide = compress('--activations', 'auto', '--int16-activations', 'x');
      assert.match(notes(wide, /activations/), /1 of them 16-bit/);
      assert.match(notes(wide, /activations/), /opset 13 → 21|21/);
      const m = loadModelFile(path.join(dir, 'out.onnx')).model;
      assert.equal(m.opsetImport.find((o) => o.domain === '')!.version, 21);
    });

    test('bad values: exit 2 with one line, nothing written', () => {
      const out = path.join(dir, 'never.onnx');
      const cases: [string[], RegExp][] = [
        [
          ['--quantize', 'int8', '--range-method', 'mse'],
          /--range-method applies to --activations/,
        ],
        [
          ['--activations', 'auto', '--range-method', 'kl'],
          /--range-method expects minmax, percentile, mse, got 'kl'/,
        ],
        [
          ['--activations', 'auto', '--percentile', '99'],
          /--percentile applies to --range-method percentile/,
        ],
        [
          ['--activations', 'auto', '--range-method', 'percentile', '--percentile', '0'],
          /--percentile expects a percentage above 0 and at most 100/,
        ],
        [
          ['--activations', 'auto', '--range-method', 'percentile', '--percentile', 'high'],
          /--percentile expects/,
        ],
        [['--quantize', 'int8', '--bias-correction', 'yes'], /--bias-correction expects on or off/],
        [
          ['--quantize', 'int8', '--bias-correction', 'on'],
          /--bias-correction on needs --calibration/,
        ],
        [
          ['--activations', 'auto', '--bias-correction', 'on'],
          /applies to --quantize with an integer/,
        ],
        [['--quantize', 'int8', '--keep-float-activations', 'fc'], /applies to --activations/],
        [
          ['--activations', 'auto', '--keep-float-activations', 'x', '--int16-activations', 'x'],
          /'x' is in both/,
        ],
        [['--activations', 'auto', '--keep-float-activations', ','], /expects NAME/],
        [
          ['--activations', 'auto', '--keep-float-activations', 'nope'],
          /no activation or layer named 'nope'/,
        ],
      ];
      for (const [args, message] of cases) {
        const c = run('compress', model, '-o', out, ...args);
        assert.equal(c.status, 2, `${args.join(' ')}: ${c.stderr}`);
        assert.equal(c.stderr.trim().split('\n').length, 1, c.stderr);
        assert.match(c.stderr, message);
        assert.doesNotMatch(c.stderr, /internal error/);
        assert.equal(fs.existsSync(out), false);
      }
    });
  },
);
