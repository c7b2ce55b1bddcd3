/**
 * Set Input Shape in a real VS Code (code-server): a model with symbolic H and W opens with
 * figures at H=W=1 and a status bar that says so; the shape typed in (a bad one is refused with a
 * clear message) changes the MACs in the annotations and the verdict, and is still applied after
 * the workbench reloads. Needs `bash test/e2e/setup.sh`; skips without it, fails without it under CI.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { analyzeFile } from '../../src/core/analyze';
import { formatCount } from '../../src/core/format';
import { saveModelFile } from '../../src/core/onnx/load';
import { DataType } from '../../src/core/onnx/types';
import { ModelBuilder } from '../helpers/modelBuilder';
import { openFile, startWorkbench, waitForEditorText, type Page, type Workbench } from './harness';
import { e2eMissing, goToLine, waitFor } from './models';

const missing = e2eMissing();

/** The OCR recogniser's front, as exported with dynamic axes: x 1×3×H×W → Conv → Relu. */
function writeOcrModel(file: string): void {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 'H', 'W']);
  const [c] = b.node(
    'Conv',
    [x, b.weight('w', [8, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: '/rec/Conv' },
  );
  const [y] = b.node('Relu', [c], {}, { name: '/rec/Relu' });
  b.output(y);
  saveModelFile(b.build(), file);
}

/** The Conv's annotation as the editor shows it, for the model analysed with `shape`. */
function convMacs(file: string, shape?: number[]): string {
  const report = analyzeFile(file, { inputShapes: shape && new Map([['x', shape]]) });
  return `${formatCount(report.nodes.find((n) => n.name === '/rec/Conv')!.macs)} MACs`;
}

/** The device verdict item's text ('' when not shown). */
function verdict(page: Page): Promise<string> {
  return page
    .locator('.statusbar-item:has-text("stm32h743")')
    .first()
    .innerText({ timeout: 2_000 })
    .catch(() => '');
}

describe('e2e: Set Input Shape', { skip: missing }, () => {
  let workbench: Workbench;
  let workspace: string;
  let model: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-shapes-'));
    fs.mkdirSync(path.join(workspace, 'ocr'));
    model = path.join(workspace, 'ocr', 'rec.onnx');
    writeOcrModel(model);
    workbench = await startWorkbench({
      workspaceDir: workspace,
      name: 'input-shape',
      settings: { 'modelLens.device': 'stm32h743' },
    });
  });

  after(async () => {
    await workbench?.stop();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  const shape = [1, 3, 32, 64];

  test('symbolic H, W: figures at H=W=1, and the status bar says so', async () => {
    const page = workbench.page;
    await openFile(page, 'ocr/rec.onnx');
    const text = await waitForEditorText(page, (t) => t.includes('MACs'), 30_000);
    assert.equal(convMacs(model), '216 MACs');
    assert.ok(text.includes('216 MACs'), `annotation at H=W=1 in: ${text}`);
    const status = await waitFor(
      () => verdict(page),
      (t) => t.includes('H=W=1?'),
      20_000,
    );
    await workbench.screenshot('input-shape-01-symbolic');
    assert.match(status, /stm32h743: fits at H=W=1\?/);
  });

  test('Ctrl+. on the graph line (the symbolic-dimension info) offers Set Input Shape', async () => {
    const page = workbench.page;
    const text = await waitForEditorText(page, (t) => t.includes('=>'), 10_000);
    const graphLine = text.split('\n').findIndex((l) => l.includes('=>'));
    assert.ok(graphLine > 0, text);
    await goToLine(page, graphLine);
    const menu = page.locator('.action-widget').first();
    for (let attempt = 0; ; attempt++) {
      await page.keyboard.press('Control+.');
      const open = await menu
        .waitFor({ state: 'visible', timeout: 10_000 })
        .then(() => true)
        .catch(() => false);
      if (open) break;
      if (attempt === 2) throw new Error('Ctrl+. opened no code action menu');
      await page.keyboard.press('Escape');
    }
    const row = page.locator('.action-widget .monaco-list-row:has-text("Set input shape")').first();
    const label = await row.innerText({ timeout: 5_000 });
    await workbench.screenshot('input-shape-01b-quick-fix');
    assert.match(label, /Set input shape \(H, W count as 1 now\)/);
    await row.click({ timeout: 5_000 });
    const box = page.locator('.quick-input-widget .quick-input-box input').first();
    await box.waitFor({ state: 'visible', timeout: 10_000 });
    // Escape: nothing is set.
    await page.keyboard.press('Escape');
    await page.waitForTimeout(500);
    assert.match(await verdict(page), /fits at H=W=1\?/);
  });

  test('the status bar item asks for the shape, refuses a bad one, and the figures change', async () => {
    const page = workbench.page;
    // The item beside the verdict: "H=W=1?" alone.
    await page
      .locator('.statusbar-item:has-text("H=W=1?"):not(:has-text("stm32h743"))')
      .first()
      .click({ timeout: 10_000 });
    const box = page.locator('.quick-input-widget .quick-input-box input').first();
    await box.waitFor({ state: 'visible', timeout: 10_000 });
    const prefilled = await page.evaluate<string>(
      `document.querySelector('.quick-input-widget .quick-input-box input').value`,
    );
    assert.equal(prefilled, '1x3xHxW', 'prefilled with the declared shape');
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('1x3xHx64');
    const message = await waitFor(
      () =>
        page
          .locator('.quick-input-widget .quick-input-message')
          .first()
          .innerText({ timeout: 2_000 })
          .catch(() => ''),
      (t) => t.includes("'H'"),
      10_000,
    );
    await workbench.screenshot('input-shape-02-invalid');
    assert.match(message, /Replace 'H' with a number/);
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(shape.join('x'));
    await page.waitForTimeout(300);
    await page.keyboard.press('Enter');

    const expected = convMacs(model, shape);
    assert.notEqual(expected, '216 MACs');
    const text = await waitForEditorText(page, (t) => t.includes(expected), 20_000);
    assert.ok(text.includes(expected), `annotation ${expected} in: ${text}`);
    const status = await waitFor(
      () => verdict(page),
      (t) => /stm32h743: fits$/.test(t.trim()),
      20_000,
    );
    await workbench.screenshot('input-shape-03-set');
    assert.match(status.trim(), /stm32h743: fits$/);
    const shapeItem = await page
      .locator('.statusbar-item:has-text("x=1x3x32x64")')
      .first()
      .innerText({ timeout: 10_000 });
    assert.match(shapeItem, /x=1x3x32x64/);
  });

  test('the shape is remembered for the file across a reload of the workbench', async () => {
    const page = workbench.page;
    const expected = convMacs(model, shape);
    // Let the workspace state reach the browser's storage, then reload.
    await page.waitForTimeout(1_000);
    // Playwright's Page.reload (harness.ts types only the part of the API it uses).
    await (page as Page & { reload(o?: { timeout?: number }): Promise<unknown> }).reload({
      timeout: 60_000,
    });
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await page.waitForSelector('.part.statusbar', { timeout: 60_000 });
    // The editor comes back by itself, or is opened again.
    let text = await waitForEditorText(page, (t) => t.includes('MACs'), 30_000);
    if (!text.includes('MACs')) {
      await openFile(page, 'ocr/rec.onnx', 30_000);
      text = await waitForEditorText(page, (t) => t.includes('MACs'), 30_000);
    }
    text = await waitForEditorText(page, (t) => t.includes(expected), 20_000);
    await workbench.screenshot('input-shape-04-reloaded');
    assert.ok(text.includes(expected), `annotation ${expected} after reload in: ${text}`);
    assert.ok(!text.includes('216 MACs'), 'not back to H=W=1');
    const status = await waitFor(
      () => verdict(page),
      (t) => /stm32h743: fits$/.test(t.trim()),
      20_000,
    );
    assert.match(status.trim(), /stm32h743: fits$/);
  });
});
