/**
 * The text view of a TFLite model (tflite/textView.ts via text/modelView.ts): a preamble names
 * the format and the edge tensors' quantization, each quantized constant shows its parameters
 * compactly, every operator is one line, and `model-lens text` prints the same text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAnyModel, parseAnyModelBytes } from '../../../src/core/modelFile';
import { printModelView } from '../../../src/core/text/modelView';
import { BUILTIN, TYPE, TfliteNetwork, conv2d, fullyConnected } from '../../helpers/tfliteNetwork';

const CLI = path.resolve(__dirname, '../../../dist/cli.js');
const PERSON_DETECT = path.resolve(__dirname, '../../../../shared/tflite/person_detect.tflite');

/** An int8 network: per-channel conv weights, per-tensor FC weights, quantized input. */
function network(): Uint8Array {
  const n = new TfliteNetwork(3);
  const x = n.input('pixels\nsecond line', [1, 4, 4, 2], TYPE.INT8);
  const conv = n.constant('conv_w', [3, 1, 1, 2], new Uint8Array(6).fill(5), TYPE.INT8, {
    scale: [0.5, 0.25, 0.125],
    zeroPoint: [0, 0, 0],
    quantizedDimension: 0,
  });
  const c = n.op(BUILTIN.CONV_2D, [x, conv], [1, 4, 4, 3], conv2d(), TYPE.INT8);
  const r = n.op(BUILTIN.RESHAPE, [c], [1, 48], undefined, TYPE.INT8);
  const fc = n.constant('fc_w', [2, 48], new Uint8Array(96).fill(3), TYPE.INT8, {
    scale: [0.02],
    zeroPoint: [0],
  });
  const y = n.op(BUILTIN.FULLY_CONNECTED, [r, fc], [1, 2], fullyConnected(), TYPE.INT8);
  return n.build([y]);
}

test('TFLite text view: preamble, compact quantization, one line per operator', () => {
  const bytes = network();
  const printed = printModelView(parseAnyModelBytes(bytes, undefined, 'net.tflite'));
  const lines = printed.text.split('\n');
  assert.match(lines[0], /^# TensorFlow Lite model \(schema 3\): one line per operator/);
  const conv = lines.find((l) => l.includes('"conv_w"') || l.includes(' conv_w')) ?? '';
  assert.match(conv, /# q per-axis 0 ×3 · scale 0\.125…0\.5 · zp 0 · 6 values/);
  const fc = lines.find((l) => l.includes('fc_w')) ?? '';
  assert.match(fc, /# q scale 0\.02 · zp 0 · 96 values/);
  assert.equal(lines.filter((l) => / = tflite\./.test(l)).length, 3);
  assert.equal(printed.layout.nodeLines.length, 3);
  for (const line of printed.layout.nodeLines) assert.match(lines[line], / = tflite\./);
  // A name from the file stays on its comment line.
  assert.ok(lines.every((l) => !l.startsWith('second line')));
});

test(
  'model-lens text prints the TFLite view',
  { skip: !fs.existsSync(CLI) && 'dist/cli.js not built' },
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-tflite-text-'));
    try {
      const file = path.join(dir, 'net.tflite');
      const bytes = network();
      fs.writeFileSync(file, bytes);
      const out = execFileSync(process.execPath, [CLI, 'text', file], { encoding: 'utf8' });
      assert.equal(out, printModelView(parseAnyModelBytes(bytes, dir, file)).text);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'person_detect: each operator line is its output under a module scope, then the op',
  { skip: !fs.existsSync(PERSON_DETECT) && 'no ../shared/tflite in this clone' },
  () => {
    const printed = printModelView(loadAnyModel(PERSON_DETECT));
    const lines = printed.text.split('\n');
    assert.ok(lines.includes('  …/ = "MobilenetV1/MobilenetV1"'));
    for (const line of printed.layout.nodeLines) {
      // No `[name]` label repeating the output, and the op within the first 60 columns.
      assert.doesNotMatch(lines[line], /^\s*\[/);
      assert.ok(lines[line].indexOf('= tflite.') < 60, lines[line]);
    }
  },
);
