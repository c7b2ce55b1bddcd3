/**
 * Image folders from the command line: `verify --samples DIR` and `compress --calibration DIR`
 * print what the preprocessing assumed on stderr (the figures stay on stdout), and a bad folder
 * is one line naming the file, exit 2.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';

const cli = path.resolve(__dirname, '../../../dist/cli.js');

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
}

const ASSUMED =
  'assumed: NHWC, RGB (3-channel input), resize to 6×6, scale 1/255, no mean/std (no preprocess.json)';

describe(
  'image folders in the CLI',
  { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
  () => {
    let dir: string;
    let model: string;
    let images: string;

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-cli-images-'));
      model = path.join(dir, 'nhwc.onnx');
      // An NHWC input (as TensorFlow exports), transposed for the Conv.
      const b = new ModelBuilder({ opset: 13, seed: 5 });
      const x = b.input('image', DataType.FLOAT, ['N', 6, 6, 3]);
      const [t] = b.node('Transpose', [x], { perm: [0, 3, 1, 2] }, { name: 'to_nchw' });
      const [c] = b.node('Conv', [t, b.weight('w', [4, 3, 3, 3])], {}, { name: 'conv' });
      b.classifierHead(c, 4, 3);
      saveModelFile(b.build(), model);
      images = path.join(dir, 'images');
      for (const [i, name] of ['cat', 'dog'].entries()) {
        for (let k = 0; k < 2; k++) {
          // 8×8 images: resized to the input's 6×6.
          const png = new PNG({ width: 8, height: 8 });
          for (let j = 0; j < 64; j++) png.data.set([j * 3 + k, 40 * i, 255 - j, 255], j * 4);
          fs.mkdirSync(path.join(images, name), { recursive: true });
          fs.writeFileSync(path.join(images, name, `${k}.png`), PNG.sync.write(png));
        }
      }
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('verify --samples: the assumption on stderr, 4 labelled samples on stdout', () => {
      const r = run('verify', model, model, '--samples', images);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, `model-lens: ${images}: ${ASSUMED}\n`);
      assert.match(r.stdout, /4 samples from /);
      assert.match(r.stdout, /accuracy/);
    });

    test('compress --calibration: the same note, prefixed calibration', () => {
      const out = path.join(dir, 'w8a8.onnx');
      const r = run(
        'compress',
        model,
        '-o',
        out,
        '--quantize',
        'int8',
        '--activations',
        'auto',
        '--calibration',
        images,
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, `model-lens: calibration: ${images}: ${ASSUMED}\n`);
      assert.ok(fs.existsSync(out));
    });

    test('a preprocess.json that does not parse: exit 2, one line naming it', () => {
      const bad = path.join(dir, 'bad');
      fs.cpSync(images, bad, { recursive: true });
      fs.writeFileSync(path.join(bad, 'preprocess.json'), '{"resize": 6,, "crop": 6}');
      const r = run('verify', model, model, '--samples', bad);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /^model-lens: .*preprocess\.json: not valid JSON, line 1, column 14 /);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  },
);
