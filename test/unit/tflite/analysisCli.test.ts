/**
 * `model-lens analyze|check|compress` on .tflite files through the built CLI (dist/cli.js): the
 * same JSON document as for ONNX, and a one-line refusal where only ONNX is handled. Skips when
 * the CLI is not built or ../shared is absent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const cli = path.resolve(__dirname, '../../../dist/cli.js');
const DIR = path.resolve(__dirname, '../../../../shared/tflite');
const skip = !fs.existsSync(cli)
  ? 'dist/cli.js not built'
  : !fs.existsSync(path.join(DIR, 'person_detect.tflite'))
    ? 'no ../shared/tflite in this clone'
    : false;

function run(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('model-lens on TFLite files', { skip }, () => {
  test('analyze --json person_detect.tflite: the ONNX document, with the hand-counted MACs', () => {
    const r = run('analyze', '--json', path.join(DIR, 'person_detect.tflite'));
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(json), [
      'model',
      'totals',
      'nodes',
      'memory',
      'inputs',
      'outputs',
      'symbolicDims',
      'diagnostics',
    ]);
    assert.equal(json.totals.macs, 7_157_888);
    assert.equal(json.nodes.length, 31);
    assert.equal(json.nodes[0].op, 'DEPTHWISE_CONV_2D');
    assert.deepEqual(json.inputs, [{ name: 'input', dtype: 'int8', shape: [1, 96, 96, 1] }]);
  });

  test('check --device on the Vela model: fits, the ethos-u MACs null, not 0', () => {
    const r = run(
      'check',
      '--json',
      '--device',
      'stm32h743',
      path.join(DIR, 'person_detect_vela.tflite'),
    );
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.nodes[0].macs, null);
    assert.deepEqual(json.totals.uncountedNodes, [json.nodes[0].name]);
    assert.equal(json.device.fits, true);
  });

  test('compress on a .tflite refuses in one line', () => {
    const out = path.join(os.tmpdir(), `model-lens-${process.pid}.tflite`);
    const r = run(
      'compress',
      path.join(DIR, 'person_detect.tflite'),
      '-o',
      out,
      '--quantize',
      'int4',
    );
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      'model-lens: person_detect.tflite is a TensorFlow Lite model: compression is ONNX-only for now\n',
    );
    assert.equal(fs.existsSync(out), false);
  });
});
