/**
 * The extension in a real VS Code (code-server): open a model, see the text and its annotations,
 * hover a Conv line, pick devices and watch the Problems panel, open a corrupt file.
 * Needs `bash test/e2e/setup.sh`; skips without it, fails without it under CI.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatBytes, formatCount } from '../../src/core/format';
import { loadModelFile } from '../../src/core/onnx/load';
import { printModel } from '../../src/core/text/printer';
import {
  openFile,
  runCommand,
  startWorkbench,
  waitForEditorText,
  type Page,
  type Workbench,
} from './harness';
import { cliAnalyze, e2eMissing, goToLine, placeResnet18, problemsText, waitFor } from './models';

const missing = e2eMissing();

async function selectDevice(page: Page, id: string): Promise<void> {
  await runCommand(page, 'Model Lens: Select Device');
  await page.waitForSelector('.quick-input-widget', { state: 'visible', timeout: 10_000 });
  await page.keyboard.insertText(id);
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
}

describe('e2e: a model in the editor', { skip: missing }, () => {
  let workbench: Workbench;
  let workspace: string;
  let model: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-models-'));
    model = placeResnet18(workspace);
    fs.writeFileSync(
      path.join(workspace, 'corrupt.onnx'),
      Buffer.from('definitely not a protobuf model \x00\xff'),
    );
    fs.writeFileSync(path.join(workspace, 'notes.txt'), 'still working\n');
    workbench = await startWorkbench({
      workspaceDir: workspace,
      name: 'model-editor',
    });
  });

  after(async () => {
    await workbench?.stop();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  test('opening the .onnx file shows its nodes as text, with annotations', async () => {
    await openFile(workbench.page, path.basename(model));
    const top = await waitForEditorText(workbench.page, (t) => t.includes('opset_import'), 30_000);
    await workbench.screenshot('model-01-opened');
    assert.match(top, /opset_import/);
    // The layers follow the initializers: go to the first Conv.
    const loaded = loadModelFile(model);
    const { layout } = printModel(loaded.model);
    const firstConv = loaded.model.graph.nodes.findIndex((n) => n.opType === 'Conv');
    await goToLine(workbench.page, layout.nodeLines[firstConv]);
    const text = await waitForEditorText(
      workbench.page,
      (t) => t.includes('= Conv') && t.includes('MACs'),
      30_000,
    );
    await workbench.screenshot('model-01b-layers');
    // The annotation sits right after the op name, before the attributes.
    assert.match(text, /= Conv\s*[^\n]*MACs[^\n]*<[^>]*(kernel_shape|pads)/);
    assert.match(text, /\d+(\.\d+)? [kMG]? ?MACs/, `annotations in: ${text.slice(0, 2000)}`);
  });

  test('hovering a Conv line shows MACs and weight bytes equal to the CLI JSON', async () => {
    const loaded = loadModelFile(model);
    const { layout } = printModel(loaded.model);
    const convIndex = loaded.model.graph.nodes.findIndex((n) => n.opType === 'Conv');
    const conv = loaded.model.graph.nodes[convIndex];
    const cli = cliAnalyze(model).nodes.find((n) => n.name === conv.name)!;
    await goToLine(workbench.page, layout.nodeLines[convIndex]);
    await runCommand(workbench.page, 'Show or Focus Hover');
    const hover = await waitFor(
      () =>
        workbench.page
          .locator('.monaco-hover')
          .first()
          .innerText({ timeout: 2_000 })
          .catch(() => ''),
      (t) => t.includes('MACs'),
      15_000,
    );
    await workbench.screenshot('model-02-hover');
    assert.ok(
      hover.includes(formatCount(cli.macs)),
      `hover shows ${formatCount(cli.macs)} MACs: ${hover}`,
    );
    assert.ok(
      hover.includes(formatBytes(cli.weightBytes)),
      `hover shows ${formatBytes(cli.weightBytes)}: ${hover}`,
    );
    await workbench.page.keyboard.press('Escape');
  });

  test('an MCU gives flash and RAM errors in Problems; a large device clears them', async () => {
    await selectDevice(workbench.page, 'stm32h743');
    const withErrors = await waitFor(
      () => problemsText(workbench.page),
      (t) => /flash/.test(t) && /RAM/.test(t),
      20_000,
    );
    await workbench.screenshot('model-03-mcu-problems');
    assert.match(withErrors, /Weights need .* stm32h743 has 2 MiB of flash/);
    assert.match(withErrors, /Peak activation RAM needs .* stm32h743 has 1 MiB of RAM/);
    const status = await workbench.page
      .locator('.statusbar-item:has-text("stm32h743")')
      .first()
      .innerText({ timeout: 10_000 });
    assert.match(status, /RAM \d+%/);

    await openFile(workbench.page, path.basename(model));
    await selectDevice(workbench.page, 'jetson-agx-xavier');
    const cleared = await waitFor(
      () => problemsText(workbench.page),
      (t) => !/flash/.test(t),
      20_000,
    );
    await workbench.screenshot('model-04-jetson-problems');
    assert.doesNotMatch(cleared, /of flash|of RAM/);
  });

  test('a corrupt file opens with a readable error and the window keeps working', async () => {
    await openFile(workbench.page, 'corrupt.onnx');
    const text = await waitForEditorText(
      workbench.page,
      (t) => t.includes('could not open'),
      20_000,
    );
    assert.match(text, /Model Lens could not open corrupt\.onnx/);
    const toast = await waitFor(
      () =>
        workbench.page
          .locator('.notifications-toasts')
          .first()
          .innerText({ timeout: 2_000 })
          .catch(() => ''),
      (t) => t.includes('could not open'),
      10_000,
    );
    await workbench.screenshot('model-05-corrupt');
    assert.match(toast, /not a valid ONNX model/);
    await openFile(workbench.page, 'notes.txt');
    const notes = await waitForEditorText(workbench.page, (t) => t.includes('still working'));
    assert.match(notes, /still working/);
  });
});
