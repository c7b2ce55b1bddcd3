/**
 * External data both ways and the folder boundary: side files stay inside the model's folder
 * (links included), a compressed copy written elsewhere is self-contained or gets a side file of
 * its own, and such models verify in ONNX Runtime.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModelFile, ModelLoadError } from '../../../src/core/onnx/load';
import { hasExternalData, writeWithSideFile } from '../../../src/core/onnx/relocate';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType } from '../../../src/core/onnx/types';
import { verifyModels } from '../../../src/core/verify';
import { saveWithSideFile } from '../../helpers/externalData';
import { ModelBuilder } from '../../helpers/modelBuilder';

const cli = path.resolve(__dirname, '../../../dist/cli.js');

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
}

function smallNet() {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node('Conv', [x, b.weight('w', [8, 3, 3, 3]), b.weight('bias', [8])], {
    pads: [1, 1, 1, 1],
  });
  const [r] = b.node('Relu', [c]);
  b.classifierHead(r, 8);
  return b.build();
}

describe('external data', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-external-'));
  });

  describe('a side file that is a link out of the model folder', () => {
    let model: string;
    let secret: string;
    const SECRET = 'root:x:0:0:secret-line-that-must-not-leak\n'.repeat(200);
    before(() => {
      const inside = fs.mkdtempSync(path.join(dir, 'crafted-'));
      model = path.join(inside, 'net.onnx');
      saveWithSideFile(smallNet(), model, 'side.bin');
      // The side file the model names becomes a link to a file elsewhere, as a cloned
      // repository can carry one.
      secret = path.join(dir, 'passwd');
      fs.writeFileSync(secret, SECRET);
      fs.rmSync(path.join(inside, 'side.bin'));
      fs.symlinkSync(secret, path.join(inside, 'side.bin'));
    });

    test('the loader refuses it with one line naming the link', () => {
      assert.throws(
        () => loadModelFile(model),
        (e: unknown) =>
          e instanceof ModelLoadError &&
          /side\.bin' is a link to a file outside the model's folder/.test(e.message) &&
          !e.message.includes('\n'),
      );
    });

    test(
      'every command refuses it (exit 2, one line) and nothing of the target is written or printed',
      { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
      () => {
        const out = path.join(dir, 'leak.onnx');
        const runs = [
          run('analyze', model),
          run('analyze', model, '--json'),
          run('check', model, '--device', 'stm32h743'),
          run('compress', model, '-o', out, '--prune', '0.1'),
          run(
            'compress',
            model,
            '-o',
            path.join(path.dirname(model), 'x.onnx'),
            '--quantize',
            'int8',
          ),
          run('verify', model, model),
        ];
        for (const r of runs) {
          assert.equal(r.status, 2, r.stderr);
          assert.match(r.stderr, /outside the model's folder/);
          assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
          assert.ok(!r.stdout.includes('secret-line') && !r.stderr.includes('secret-line'));
        }
        assert.ok(!fs.existsSync(out), 'no output written');
        assert.ok(!fs.existsSync(path.join(path.dirname(model), 'x.onnx')));
      },
    );
  });

  test('links that stay inside load: a side file linked within the folder, and a Hugging Face cache snapshot whose files all link into blobs/', () => {
    const local = fs.mkdtempSync(path.join(dir, 'local-link-'));
    const file = path.join(local, 'net.onnx');
    saveWithSideFile(smallNet(), file, 'weights.bin');
    fs.mkdirSync(path.join(local, 'store'));
    fs.renameSync(path.join(local, 'weights.bin'), path.join(local, 'store', 'w.bin'));
    fs.symlinkSync(path.join('store', 'w.bin'), path.join(local, 'weights.bin'));
    const viaLink = loadModelFile(file);
    const w = viaLink.model.graph.initializers.find((t) => t.name === 'w')!;
    assert.equal(tensorNumbers(w, viaLink.external).length, 8 * 3 * 3 * 3);

    // hub/models--x/snapshots/abc/{net.onnx,net.onnx.data} -> ../../blobs/<hash>
    const hub = fs.mkdtempSync(path.join(dir, 'hub-'));
    const blobs = path.join(hub, 'blobs');
    const snapshot = path.join(hub, 'snapshots', 'abc');
    fs.mkdirSync(blobs, { recursive: true });
    fs.mkdirSync(snapshot, { recursive: true });
    saveWithSideFile(smallNet(), path.join(blobs, 'model'), 'net.onnx.data');
    fs.renameSync(path.join(blobs, 'net.onnx.data'), path.join(blobs, 'data'));
    // The side file keeps the name the model gives it, inside the snapshot.
    fs.symlinkSync(path.join('..', '..', 'blobs', 'model'), path.join(snapshot, 'net.onnx'));
    fs.symlinkSync(path.join('..', '..', 'blobs', 'data'), path.join(snapshot, 'net.onnx.data'));
    const cached = loadModelFile(path.join(snapshot, 'net.onnx'));
    const cw = cached.model.graph.initializers.find((t) => t.name === 'w')!;
    assert.deepEqual(tensorNumbers(cw, cached.external), tensorNumbers(w, viaLink.external));
  });

  describe(
    'compress writes external-data models anywhere',
    { skip: fs.existsSync(cli) ? false : 'dist/cli.js not built' },
    () => {
      let model: string;
      before(() => {
        const src = fs.mkdtempSync(path.join(dir, 'export-'));
        model = path.join(src, 'model.onnx');
        saveWithSideFile(smallNet(), model); // model.onnx + model.onnx.data, as torch 2.x writes
      });

      test('to another folder: a self-contained model that verifies against the original', async () => {
        const outDir = fs.mkdtempSync(path.join(dir, 'elsewhere-'));
        const out = path.join(outDir, 'model.int8.onnx');
        const c = run('compress', model, '-o', out, '--quantize', 'int8', '--prune', '0.2');
        assert.equal(c.status, 0, c.stderr);
        assert.match(c.stdout, /self-contained/);
        assert.deepEqual(fs.readdirSync(outDir), ['model.int8.onnx'], 'no side file next to it');
        const written = loadModelFile(out);
        assert.equal(hasExternalData(written.model), false);
        const r = await verifyModels(model, out);
        assert.ok(r.sqnrDb > 15, `SQNR ${r.sqnrDb}`);
        const v = run('verify', model, out, '--json');
        assert.equal(v.status, 0, v.stderr);
        assert.equal(JSON.parse(v.stdout).samples, 8);
      });

      test('next to the original: it keeps naming the original side file, untouched', () => {
        const side = fs.readFileSync(`${model}.data`);
        const out = path.join(path.dirname(model), 'model.pruned.onnx');
        const c = run('compress', model, '-o', out, '--quantize', 'int8', '--layers', 'conv_0');
        assert.equal(c.status, 0, c.stderr);
        assert.ok(hasExternalData(loadModelFile(out).model));
        assert.ok(fs.readFileSync(`${model}.data`).equals(side));
      });
    },
  );

  test('a model too large for one protobuf gets a side file of its own, aligned, with the same values; it runs', async () => {
    const src = fs.mkdtempSync(path.join(dir, 'big-'));
    const model = path.join(src, 'model.onnx');
    saveWithSideFile(smallNet(), model);
    const loaded = loadModelFile(model);
    const outDir = fs.mkdtempSync(path.join(dir, 'big-out-'));
    const out = path.join(outDir, 'copy.onnx');
    writeWithSideFile(loaded.model, loaded.external, out);
    assert.deepEqual(fs.readdirSync(outDir).sort(), ['copy.onnx', 'copy.onnx.data']);
    const copy = loadModelFile(out);
    for (const t of copy.model.graph.initializers) {
      if (!t.external) continue;
      assert.equal(t.external.location, 'copy.onnx.data');
      assert.equal(t.external.offset % 4096, 0);
      const original = loaded.model.graph.initializers.find((o) => o.name === t.name)!;
      assert.deepEqual(tensorNumbers(t, copy.external), tensorNumbers(original, loaded.external));
    }
    const r = await verifyModels(model, out);
    assert.equal(r.sqnrDb, Infinity);
  });
});
