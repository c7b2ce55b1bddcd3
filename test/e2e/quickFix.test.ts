/**
 * A quick fix in a real VS Code (code-server): Ctrl+. on a Conv line, "Quantize … to int8", the
 * annotation changes, Ctrl+S writes a smaller model, undo + save writes the original bytes back,
 * redo + save and a reopen from disk show the smaller figures again.
 * Needs `bash test/e2e/setup.sh`; skips without it, fails without it under CI.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatBytes } from '../../src/core/format';
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
import { cliAnalyze, e2eMissing, goToLine, placeResnet18 } from './models';

const missing = e2eMissing();

/** The text of the editor line the cursor is on, annotations (inlay hints) included. */
async function currentLine(page: Page): Promise<string> {
  const current = page.locator('.monaco-editor .view-overlays .current-line').first();
  await current.waitFor({ state: 'attached', timeout: 5_000 });
  return page.evaluate(`(() => {
    const overlay = document.querySelector('.monaco-editor .view-overlays .current-line');
    const top = overlay && overlay.parentElement ? overlay.parentElement.style.top : null;
    const lines = [...document.querySelectorAll('.monaco-editor .view-lines .view-line')];
    const line = lines.find((l) => l.style.top === top);
    return line ? line.textContent.replace(/\\u00a0/g, ' ') : '';
  })()`);
}

async function waitForLine(page: Page, ok: (t: string) => boolean, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let last = await currentLine(page);
  while (!ok(last) && Date.now() < deadline) {
    await page.waitForTimeout(300);
    last = await currentLine(page);
  }
  return last;
}

async function waitForFile(file: string, ok: (b: Buffer) => boolean, ms: number): Promise<Buffer> {
  const deadline = Date.now() + ms;
  let bytes = fs.readFileSync(file);
  while (!ok(bytes) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    bytes = fs.readFileSync(file);
  }
  return bytes;
}

describe('e2e: a quick fix edits, saves and undoes', { skip: missing }, () => {
  let workbench: Workbench;
  let workspace: string;
  let model: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-fix-'));
    model = placeResnet18(workspace);
    workbench = await startWorkbench({
      workspaceDir: workspace,
      name: 'quick-fix',
    });
  });

  after(async () => {
    await workbench?.stop();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  test('Ctrl+. → quantize to int8, save, undo → original bytes, redo, reopen → smaller', async () => {
    const page = workbench.page;
    const original = fs.readFileSync(model);
    const loaded = loadModelFile(model);
    const { layout } = printModel(loaded.model);
    const convIndex = loaded.model.graph.nodes.findIndex((n) => n.opType === 'Conv');
    const conv = loaded.model.graph.nodes[convIndex];
    const before = cliAnalyze(model).nodes.find((n) => n.name === conv.name)!;

    await openFile(page, path.basename(model));
    await waitForEditorText(page, (t) => t.includes('opset_import'), 30_000);
    await goToLine(page, layout.nodeLines[convIndex]);
    const shown = await waitForLine(page, (t) => t.includes('= Conv') && /W /.test(t), 30_000);
    assert.ok(shown.includes(`W ${formatBytes(before.weightBytes)}`), shown);

    // Ctrl+. and the int8 action.
    // The server may still be answering for this line: retry Ctrl+. a few times.
    const menu = page.locator('.action-widget').first();
    for (let attempt = 0; ; attempt++) {
      await page.keyboard.press('Control+.');
      const open = await menu
        .waitFor({ state: 'visible', timeout: 10_000 })
        .then(() => true)
        .catch(() => false);
      if (open) break;
      if (attempt === 2) {
        await workbench.screenshot('fix-00-no-actions');
        throw new Error('Ctrl+. opened no code action menu');
      }
      await page.keyboard.press('Escape');
    }
    await workbench.screenshot('fix-01-actions');
    const menuText = await menu.innerText({ timeout: 5_000 });
    assert.match(menuText, /Quantize .* to int8/);
    await page.locator('.action-widget .monaco-list-row:has-text("to int8")').first().click();

    // The annotation changes to the int8 weight bytes; the view is dirty.
    const changed = await waitForLine(
      page,
      (t) => t.includes('= Conv') && !t.includes(`W ${formatBytes(before.weightBytes)}`),
      60_000,
    );
    await workbench.screenshot('fix-02-quantized');
    const smaller = changed.match(/W ([\d.]+ [KMG]?i?B)/)?.[1];
    assert.ok(smaller, `a weight annotation after the fix: ${changed}`);
    const tabClass = await page.locator('.tab.active').first().getAttribute('class');
    const diskNow = fs.readFileSync(model);
    assert.ok(diskNow.equals(original), 'nothing is written before the save');
    assert.match(tabClass ?? '', /\bdirty\b/, `the text view is dirty after the fix: ${tabClass}`);

    // The verification summary: both models run in ONNX Runtime; the full report on demand.
    const toast = page.locator('.notification-toast:has-text("output SQNR")').first();
    await toast.waitFor({ state: 'visible', timeout: 60_000 });
    await workbench.screenshot('fix-02b-verified');
    assert.match(
      await toast.innerText(),
      // The verification's lead sentence first, then what the fix did.
      /[Oo]utput SQNR \d+\.\d dB, top-1 agreement [^\n]*Quantize .* to int8: quantize int8[^\n]*weights .* →/,
    );
    await toast
      .locator(
        'a.monaco-button:has-text("Show Full Report"), .monaco-button:has-text("Show Full Report")',
      )
      .first()
      .click();
    await waitForEditorText(page, (t) => t.includes('## Verification'), 20_000);
    await runCommand(page, 'View: Revert and Close Editor');
    await runCommand(page, 'View: Focus Active Editor Group');
    await waitForLine(page, (t) => t.includes(`W ${smaller}`), 10_000);

    // Save: the file on disk is the quantized model.
    await page.keyboard.press('Control+S');
    const saved = await waitForFile(model, (b) => !b.equals(original), 30_000);
    assert.ok(saved.length < original.length, `${saved.length} < ${original.length}`);
    const after = cliAnalyze(model).nodes.find((n) => n.name === conv.name)!;
    assert.equal(`${formatBytes(after.weightBytes)}`, smaller);
    assert.ok(after.weightBytes < before.weightBytes / 3);
    // Where the Conv is in the quantized text (a DequantizeLinear line now precedes it).
    const quantized = loadModelFile(model).model;
    const fixedLine =
      printModel(quantized).layout.nodeLines[
        quantized.graph.nodes.findIndex((n) => n.name === conv.name)
      ];

    // Undo + save: the original bytes, exactly.
    await page.keyboard.press('Control+Z');
    await goToLine(page, layout.nodeLines[convIndex]);
    const undone = await waitForLine(
      page,
      (t) => t.includes(`W ${formatBytes(before.weightBytes)}`),
      30_000,
    );
    assert.ok(undone.includes(`W ${formatBytes(before.weightBytes)}`), undone);
    await page.keyboard.press('Control+S');
    const restored = await waitForFile(model, (b) => b.equals(original), 30_000);
    assert.ok(restored.equals(original), 'undo + save restores the original bytes');

    // Redo + save, then close and reopen from disk: the smaller figures come from the file.
    await page.keyboard.press('Control+Shift+Z');
    await goToLine(page, fixedLine);
    const redone = await waitForLine(page, (t) => t.includes(`W ${smaller}`), 30_000);
    assert.ok(redone.includes(`W ${smaller}`), redone);
    await page.keyboard.press('Control+S');
    await waitForFile(model, (b) => !b.equals(original), 30_000);
    await runCommand(page, 'View: Close All Editors');
    await openFile(page, path.basename(model));
    // The reopened view keeps its scroll position: any layer line shows it is loaded.
    await waitForEditorText(page, (t) => t.includes(' = '), 30_000);
    const reloaded = printModel(loadModelFile(model).model).layout;
    const reloadedIndex = loadModelFile(model).model.graph.nodes.findIndex(
      (n) => n.name === conv.name,
    );
    await goToLine(page, reloaded.nodeLines[reloadedIndex]);
    const fromDisk = await waitForLine(page, (t) => t.includes(`W ${smaller}`), 30_000);
    await workbench.screenshot('fix-03-reopened');
    assert.ok(fromDisk.includes(`W ${smaller}`), fromDisk);
    assert.equal(await page.locator('.tab.active.dirty').count(), 0);
  });
});
