/**
 * No false alarms in a real VS Code (code-server): on an MCU, the int64 tensors of a constant
 * shape computation (Shape → Gather → Unsqueeze → Concat → Reshape, as exporters write for a
 * flatten) get no precision warning in Problems, while a real int64 activation (an ArgMax index)
 * gets one warning naming it. Needs `bash test/e2e/setup.sh`; skips without it, fails without it
 * under CI.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { saveModelFile } from '../../src/core/onnx/load';
import { DataType } from '../../src/core/onnx/types';
import { ModelBuilder } from '../helpers/modelBuilder';
import { openFile, startWorkbench, waitForEditorText, type Workbench } from './harness';
import { e2eMissing, problemsText } from './models';

const missing = e2eMissing();

/** x → Conv → Relu → Reshape(to [1, -1], target built from Shape) → Gemm → logits, ArgMax → class. */
function writeModel(file: string): void {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [c] = b.node('Conv', [x, b.weight('w', [4, 3, 3, 3])], { pads: [1, 1, 1, 1] });
  const [r] = b.node('Relu', [c]);
  const [shape] = b.node('Shape', [r], {}, { outputs: ['shape_of_relu'] });
  const [batch] = b.node(
    'Gather',
    [shape, b.ints('zero', [0], [])],
    { axis: 0 },
    {
      outputs: ['batch_dim'],
    },
  );
  const [batch1] = b.node(
    'Unsqueeze',
    [batch, b.ints('axes0', [0])],
    {},
    {
      outputs: ['batch_dim_1d'],
    },
  );
  const [target] = b.node(
    'Concat',
    [batch1, b.ints('minus_one', [-1])],
    { axis: 0 },
    {
      outputs: ['flatten_target'],
    },
  );
  const [flat] = b.node('Reshape', [r, target]);
  const [logits] = b.node(
    'Gemm',
    [flat, b.weight('fc', [10, 256])],
    { transB: 1 },
    {
      outputs: ['logits'],
    },
  );
  const [cls] = b.node('ArgMax', [logits], { axis: 1 }, { outputs: ['predicted_class'] });
  b.output(logits);
  b.output(cls);
  saveModelFile(b.build(), file);
}

describe('e2e: no false alarms on an MCU', { skip: missing }, () => {
  let workbench: Workbench;
  let workspace: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-alarms-'));
    writeModel(path.join(workspace, 'flatten.onnx'));
    workbench = await startWorkbench({
      workspaceDir: workspace,
      name: 'no-false-alarms',
      settings: { 'modelLens.device': 'stm32h743' },
    });
  });

  after(async () => {
    await workbench?.stop();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  test('the shape chain gets no precision warning; the ArgMax index gets one', async () => {
    const page = workbench.page;
    await openFile(page, 'flatten.onnx');
    await waitForEditorText(page, (t) => t.includes('MACs'), 30_000);
    const deadline = Date.now() + 30_000;
    let text = await problemsText(page);
    while (!text.includes('predicted_class') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      text = await problemsText(page);
    }
    await workbench.screenshot('no-false-alarms-problems');
    const warning = text.split('\n').find((l) => /not supported by stm32h743/.test(l)) ?? '';
    assert.match(warning, /int64 tensor.*predicted_class/, text);
    for (const folded of ['shape_of_relu', 'batch_dim', 'batch_dim_1d', 'flatten_target']) {
      assert.ok(!text.includes(folded), `no warning names ${folded}:\n${text}`);
    }
    assert.equal(text.match(/not supported by stm32h743/g)?.length, 1, text);
  });
});
