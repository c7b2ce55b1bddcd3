import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { writeNpy } from '../../../src/core/verify';
import { ModelBuilder } from '../../helpers/modelBuilder';

const cli = path.resolve(__dirname, '../../../dist/cli.js');

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** tensor → zero point dtype and value of the QuantizeLinear on it. */
function quantizedActivations(model: Model): Map<string, { type: DataType; zeroPoint: number }> {
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const out = new Map<string, { type: DataType; zeroPoint: number }>();
  for (const n of model.graph.nodes) {
    if (n.opType !== 'QuantizeLinear') continue;
    const zp = inits.get(n.inputs[2])!;
    out.set(n.inputs[0], { type: zp.dataType, zeroPoint: tensorNumbers(zp)[0] });
  }
  return out;
}

describe(
  'model-lens compress --activations',
  { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
  () => {
    let dir: string;
    let model: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-cli-act-'));
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
      model = path.join(dir, 'net.onnx');
      saveModelFile(b.build(), model);
    });

    test('W8A8: weights and activations quantized, verify keeps the SQNR', () => {
      const out = path.join(dir, 'net.w8a8.onnx');
      const c = run(
        'compress',
        model,
        '-o',
        out,
        '--quantize',
        'int8',
        '--per-channel',
        '--activations',
        'auto',
      );
      assert.equal(c.status, 0, c.stderr);
      assert.match(c.stdout, /quantize int8 per-channel/);
      assert.match(c.stdout, /quantize activations int8\/uint8 per-tensor/);
      assert.match(c.stdout, /8 sample\(s\) from random inputs \(seed 1\)/);
      const acts = quantizedActivations(loadModelFile(out).model);
      // The inputs of Conv and Gemm: the signed graph input and the pooled ReLU output, unsigned.
      assert.deepEqual([...acts.keys()].sort(), ['features', 'x']);
      assert.equal(acts.get('x')!.type, DataType.INT8);
      assert.deepEqual(acts.get('features'), { type: DataType.UINT8, zeroPoint: 0 });
      const v = run('verify', model, out, '--json');
      assert.equal(v.status, 0, v.stderr);
      const { sqnrDb } = JSON.parse(v.stdout) as { sqnrDb: number };
      assert.ok(sqnrDb > 25, `W8A8 SQNR ${sqnrDb}`);
    });

    test('--calibration DIR: ranges from the folder, --calibration-samples takes the first N', () => {
      const calib = path.join(dir, 'calib');
      for (const [i, value] of [5, -10].entries()) {
        fs.mkdirSync(path.join(calib, String(i)), { recursive: true });
        const data = new Float32Array(3 * 16 * 16).fill(value);
        fs.writeFileSync(
          path.join(calib, String(i), 'x.npy'),
          writeNpy({ dtype: 'float32', dims: [1, 3, 16, 16], data }),
        );
      }
      const out = path.join(dir, 'net.a8.onnx');
      const json = (samples: string[]) => {
        const c = run(
          'compress',
          model,
          '-o',
          out,
          '--activations',
          'int8',
          // min/max, so that the scale is the samples' max (mse is the default with a folder).
          '--range-method',
          'minmax',
          '--calibration',
          calib,
          ...samples,
          '--json',
        );
        assert.equal(c.status, 0, c.stderr);
        return JSON.parse(c.stdout) as { steps: { operation: string; notes: string[] }[] };
      };
      const all = json([]);
      assert.equal(all.steps[0].operation, 'quantize activations int8 per-tensor');
      assert.match(all.steps[0].notes.join('\n'), /2 sample\(s\) from the calibration folder/);
      const scaleOf = () => {
        const m = loadModelFile(out).model;
        const q = m.graph.nodes.find((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === 'x')!;
        return tensorNumbers(m.graph.initializers.find((t) => t.name === q.inputs[1])!)[0];
      };
      // int8 symmetric: max |x| / 127 over both samples, then over the first only.
      assert.equal(scaleOf(), Math.fround(10 / 127));
      json(['--calibration-samples', '1']);
      assert.equal(scaleOf(), Math.fround(5 / 127));
      assert.equal(quantizedActivations(loadModelFile(out).model).get('x')!.type, DataType.INT8);
    });

    test('bad activation options are exit 2 with one line, and nothing is written', () => {
      const out = path.join(dir, 'never.onnx');
      const cases: [string[], RegExp][] = [
        [['--activations', 'int4'], /--activations expects auto, int8 or uint8/],
        [['--quantize', 'fp16', '--calibration', dir], /--calibration needs a step that runs/],
        [
          ['--prune', '0.5', '--calibration-samples', '2'],
          /--calibration-samples needs --calibration DIR/,
        ],
        [['--quantize', 'int8', '--rounding', 'gptq'], /--rounding gptq needs --calibration/],
        [['--quantize', 'int8', '--rounding', 'best'], /--rounding expects gptq or nearest/],
        [['--prune', '0.5', '--rounding', 'nearest'], /--rounding applies to --quantize/],
        [['--activations', 'auto', '--calibration-samples', '0'], /positive integer/],
        [
          ['--activations', 'auto', '--calibration', path.join(dir, 'missing')],
          /^model-lens: calibration: .*missing/,
        ],
        [['--activations', 'auto', '--layers', 'nope'], /no layer named 'nope'/],
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

    test('a model with nothing to quantize is refused with the reason', () => {
      const b = new ModelBuilder({ opset: 13 });
      const [y] = b.node('Relu', [b.input('x', DataType.INT32, [4])], {}, { name: 'relu' });
      b.output(y, DataType.INT32, [4]);
      const plain = path.join(dir, 'plain.onnx');
      saveModelFile(b.build(), plain);
      const c = run(
        'compress',
        plain,
        '-o',
        path.join(dir, 'plain.q.onnx'),
        '--activations',
        'auto',
      );
      assert.equal(c.status, 2);
      assert.match(
        c.stderr,
        /^model-lens: no float activation feeds a Conv, ConvTranspose, Gemm or MatMul/,
      );
    });
  },
);
