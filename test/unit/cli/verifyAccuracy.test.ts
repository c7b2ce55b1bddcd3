/**
 * `model-lens verify` on a real trained model with labelled images: it leads with the top-1
 * change and its significance, and warns on stderr when the compressed model no longer behaves
 * like the original. fmnist_vgg at 2 bits per-channel falls from 94.4% to about 12%; at int4 it
 * keeps its accuracy (../shared/data/fashion-mnist/README.md).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const cli = path.resolve(__dirname, '../../../dist/cli.js');
const vgg = path.join(SHARED_MODELS_DIR, 'fmnist_vgg.onnx');
const test1000 = path.resolve(SHARED_MODELS_DIR, '../data/fashion-mnist/test1000');

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 });
}

const skip = !fs.existsSync(cli)
  ? 'dist/cli.js not built'
  : !fs.existsSync(vgg) || !fs.existsSync(test1000)
    ? 'no ../shared/models/fmnist_vgg.onnx or ../shared/data/fashion-mnist/test1000'
    : false;

interface VerifyDocument {
  top1Agreement: number;
  labelled: {
    accuracyOriginal: number;
    accuracyCompressed: number;
    top5Original: number;
    top5Compressed: number;
    mcnemar: { b: number; c: number; p: number; significant: boolean };
  };
  lead: string;
  warning?: string;
}

describe('model-lens verify with labelled images', { skip }, () => {
  let dir: string;
  const compressed = (name: string, ...quantize: string[]): string => {
    const out = path.join(dir, `${name}.onnx`);
    const c = run('compress', vgg, '-o', out, ...quantize);
    assert.equal(c.status, 0, c.stderr);
    return out;
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-accuracy-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('2-bit weights: leads with a significant drop, and warns on stderr', () => {
    const out = compressed('vgg.2bit', '--quantize', '2bit', '--per-channel');
    const v = run('verify', vgg, out, '--samples', test1000);
    // A warning is not a failed check: without --min-sqnr the exit code stays 0.
    assert.equal(v.status, 0, v.stderr);
    const lead = v.stdout.split('\n')[0];
    assert.match(
      lead,
      /^top-1 94\.4% → \d{1,2}\.\d% \(−\d{2}\.\d pt, significant\) on 1,000 labelled samples$/,
    );
    assert.match(v.stdout, /top-1 change +−\d{2}\.\d pt, significant \(exact McNemar p < 0\.001;/);
    assert.match(v.stdout, /top-5 accuracy +\d+\.\d% → \d+\.\d%/);
    assert.match(
      v.stderr,
      /^model-lens: warning: the compressed model's top-1 accuracy fell from 94\.4% to \d+\.\d% \(−\d+\.\d pt\) and it disagrees with the original on \d+\.\d% of inputs — it no longer behaves like the original\. Compress again with a milder setting/m,
    );

    const j = run('verify', vgg, out, '--samples', test1000, '--json');
    assert.equal(j.status, 0, j.stderr);
    const doc = JSON.parse(j.stdout) as VerifyDocument;
    const l = doc.labelled;
    assert.equal(l.accuracyOriginal, 0.944);
    assert.ok(l.accuracyCompressed < 0.3, String(l.accuracyCompressed));
    assert.ok(l.mcnemar.b > 500 && l.mcnemar.c < 50, JSON.stringify(l.mcnemar));
    assert.ok(l.mcnemar.p < 1e-100 && l.mcnemar.significant);
    // b − c right answers lost, of 1,000.
    assert.ok(Math.abs((l.mcnemar.b - l.mcnemar.c) / 1000 - (0.944 - l.accuracyCompressed)) < 1e-9);
    assert.ok(l.top5Original > 0.99 && l.top5Compressed < l.top5Original);
    assert.equal(doc.lead, lead);
    assert.match(doc.warning ?? '', /no longer behaves like the original$/);
  });

  test('int4 weights: no significant change and no warning', () => {
    const out = compressed('vgg.int4', '--quantize', 'int4', '--per-channel');
    const j = run('verify', vgg, out, '--samples', test1000, '--json');
    assert.equal(j.status, 0, j.stderr);
    assert.equal(j.stderr.includes('warning'), false, j.stderr);
    const doc = JSON.parse(j.stdout) as VerifyDocument;
    assert.match(doc.lead, /^top-1 94\.4% → 9\d\.\d% \([−+±]\d\.\d pt, not significant\) on 1,000/);
    assert.equal(doc.labelled.mcnemar.significant, false);
    assert.equal(doc.warning, undefined);
  });
});
