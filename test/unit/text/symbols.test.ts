/**
 * The outline of a text view with shortened names and folded clutter: full names, the
 * initializers and the weight-only nodes all listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelStore } from '../../../src/server/modelStore';
import { documentSymbols } from '../../../src/server/symbols';
import { ModelBuilder } from '../../helpers/modelBuilder';

test('the outline lists full names, the initializers and the folded weight nodes', () => {
  const b = new ModelBuilder({ opset: 13 });
  let x = b.input('input', DataType.FLOAT, [1, 4, 8, 8]);
  const bias = b.weight('onnx::Conv_9', [4]);
  const [b0] = b.node('Identity', [bias], {}, { name: 'Identity_0', outputs: ['onnx::Conv_10'] });
  const [b1] = b.node('Identity', [bias], {}, { name: 'Identity_1', outputs: ['onnx::Conv_11'] });
  for (const [i, bi] of [b0, b1].entries()) {
    const m = `/layer1/layer1.${i}`;
    [x] = b.node(
      'Conv',
      [x, b.weight(`onnx::Conv_${i}`, [4, 4, 3, 3]), bi],
      { pads: [1, 1, 1, 1] },
      { name: `${m}/conv1/Conv`, outputs: [`${m}/conv1/Conv_output_0`] },
    );
  }
  b.output(x);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-symbols-'));
  try {
    const file = path.join(dir, 'm.onnx');
    saveModelFile(b.build(), file);
    const store = new ModelStore();
    const model = store.open(file);
    store.analyze(model);
    const lines = model.text.split('\n');
    assert.ok(
      lines.some((l) => /^ {2}\[…\/\S*Conv\] …_output_0 = Conv/.test(l)),
      model.text,
    );
    const symbols = documentSymbols(model, (l) => lines[l].length);
    const initializers = symbols.find((s) => s.name === 'initializers')!;
    assert.deepEqual(
      initializers.children!.map((c) => [c.name, c.detail]),
      [
        ['onnx::Conv_9', 'float[4]'],
        ['onnx::Conv_0', 'float[4, 4, 3, 3]'],
        ['onnx::Conv_1', 'float[4, 4, 3, 3]'],
      ],
    );
    const names = symbols.flatMap((s) => [s.name, ...(s.children ?? []).map((c) => c.name)]);
    for (const n of [
      'Identity_0',
      'Identity_1',
      '/layer1/layer1.0/conv1/Conv',
      '/layer1/layer1.1/conv1/Conv',
    ])
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    const conv = symbols.find((s) => s.name === 'layer1')!.children![1];
    assert.equal(lines[conv.range.start.line].trim().split(' = ')[1].split(' ')[0], 'Conv');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
