/**
 * What the end-to-end tests share besides the workbench (harness.ts): why they can't run here,
 * the model they open, the CLI's view of it, and moving the cursor to a line.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { saveModelFile } from '../../src/core/onnx/load';
import { DataType } from '../../src/core/onnx/types';
import { ModelBuilder } from '../helpers/modelBuilder';
import { SHARED_MODELS_DIR } from '../helpers/sharedModels';
import { REPO_ROOT, runCommand, runtimeMissing, vsixMissing, type Page } from './harness';

/**
 * Why the e2e tests can't run (no runtime from setup.sh, no VSIX to install, or the repo's
 * built CLI missing, which the tests use to compute the expected figures), or undefined. Under
 * CI a missing piece is an error, not a skip.
 */
export function e2eMissing(built: readonly string[] = ['dist/cli.js']): string | undefined {
  const missing =
    runtimeMissing() ??
    vsixMissing() ??
    (built.every((f) => fs.existsSync(path.join(REPO_ROOT, f)))
      ? undefined
      : 'run `npm run build` first');
  if (missing && process.env.CI) throw new Error(`e2e: ${missing} (CI is set, so this fails)`);
  return missing;
}

/**
 * resnet18 from ../shared when there (a writable copy: the original is read-only and the tests
 * compress it), else a small CNN built here, with one weight behind an Identity as in ResNet-18.
 */
export function placeResnet18(workspace: string): string {
  const shared = path.join(SHARED_MODELS_DIR, 'resnet18.onnx');
  const target = path.join(workspace, 'resnet18.onnx');
  if (fs.existsSync(shared)) {
    fs.copyFileSync(shared, target);
    fs.chmodSync(target, 0o644);
    return target;
  }
  const b = new ModelBuilder({ opset: 13 });
  let x = b.input('input', DataType.FLOAT, [1, 3, 64, 64]);
  let channels = 3;
  for (let i = 0; i < 4; i++) {
    let w = b.weight(`conv${i}.weight`, [64 * (i + 1), channels, 3, 3]);
    // As torch.onnx exports shared weights: through an Identity (the graph view folds it).
    if (i === 1) [w] = b.node('Identity', [w], {}, { name: `/conv${i}/weight/Identity` });
    [x] = b.node('Conv', [x, w], { pads: [1, 1, 1, 1] }, { name: `/conv${i}/Conv` });
    [x] = b.node('Relu', [x], {}, { name: `/relu${i}/Relu` });
    channels = 64 * (i + 1);
  }
  b.output(x);
  saveModelFile(b.build(), target);
  return target;
}

export interface CliNode {
  name: string;
  op: string;
  macs: number;
  weightBytes: number;
}

/** `model-lens analyze FILE --json` from the built CLI. */
export function cliAnalyze(file: string): {
  nodes: CliNode[];
  totals: { peakActivationBytes: number; weightBytes: number; macs: number };
} {
  const out = execFileSync(
    process.execPath,
    [path.join(REPO_ROOT, 'dist/cli.js'), 'analyze', file, '--json'],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  return JSON.parse(out);
}

/** Ctrl+G to a 0-based line of the active editor. */
export async function goToLine(page: Page, line: number): Promise<void> {
  await page.keyboard.press('Control+G');
  await page.waitForSelector('.quick-input-widget', { state: 'visible', timeout: 5_000 });
  await page.keyboard.insertText(String(line + 1));
  await page.keyboard.press('Enter');
}

/** Polls `probe` until `ok` holds or `ms` pass; returns the last value either way. */
export async function waitFor<T>(
  probe: () => Promise<T>,
  ok: (t: T) => boolean,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await probe();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    last = await probe();
  }
  return last;
}

/** The Problems panel's text, after opening it. */
export async function problemsText(page: Page): Promise<string> {
  await runCommand(page, 'View: Focus Problems (Errors, Warnings, Infos)').catch(() =>
    runCommand(page, 'View: Toggle Problems (Errors, Warnings, Infos)'),
  );
  await page.waitForSelector('.markers-panel', { state: 'visible', timeout: 10_000 });
  return page.locator('.markers-panel').first().innerText({ timeout: 5_000 });
}

/** The TensorFlow Lite models in ../shared/tflite (absent from a user's clone). */
export const SHARED_TFLITE_DIR = path.resolve(SHARED_MODELS_DIR, '..', 'tflite');

/**
 * A writable copy of ../shared/tflite/NAME in `workspace`, or the reason there is none (the
 * folder is absent), for `describe(…, { skip })`.
 */
export function placeSharedTflite(workspace: string, name: string): string {
  const source = path.join(SHARED_TFLITE_DIR, name);
  const target = path.join(workspace, name);
  fs.copyFileSync(source, target);
  fs.chmodSync(target, 0o644);
  return target;
}

/** Why ../shared/tflite/NAME can't be used here, or false. */
export function sharedTfliteMissing(name: string): string | false {
  return fs.existsSync(path.join(SHARED_TFLITE_DIR, name))
    ? false
    : `needs ../shared/tflite/${name} (not in this clone)`;
}

/** Model Lens: Select Device, then the profile `id` in its quick pick. */
export async function selectDevice(page: Page, id: string): Promise<void> {
  await runCommand(page, 'Model Lens: Select Device');
  await page.waitForSelector('.quick-input-widget', { state: 'visible', timeout: 10_000 });
  await page.keyboard.insertText(id);
  await page.waitForTimeout(300);
  await page.keyboard.press('Enter');
}

/** The text of the active editor's cursor line, annotations (inlay hints) included. */
export async function cursorLineText(page: Page): Promise<string> {
  const current = page.locator('.monaco-editor .view-overlays .current-line').first();
  await current.waitFor({ state: 'attached', timeout: 5_000 });
  return page.evaluate(`(() => {
    const overlay = document.querySelector('.editor-group-container.active .monaco-editor .view-overlays .current-line')
      ?? document.querySelector('.monaco-editor .view-overlays .current-line');
    const top = overlay && overlay.parentElement ? overlay.parentElement.style.top : null;
    const editor = overlay ? overlay.closest('.monaco-editor') : null;
    const lines = editor ? [...editor.querySelectorAll('.view-lines .view-line')] : [];
    const line = lines.find((l) => l.style.top === top);
    return line ? line.textContent.replace(/\\u00a0/g, ' ') : '';
  })()`);
}

/** The hover's text after "Show or Focus Hover" on the cursor ('' when none appeared). */
export async function hoverText(page: Page, ok: (t: string) => boolean, ms = 15_000) {
  await runCommand(page, 'Show or Focus Hover');
  return waitFor(
    () =>
      page
        .locator('.monaco-hover')
        .first()
        .innerText({ timeout: 2_000 })
        .catch(() => ''),
    ok,
    ms,
  );
}

/**
 * Ctrl+. on the cursor line; returns the code-action menu's rows (their text) once it is open.
 * The server may still be answering for that line, so Ctrl+. is retried a few times.
 */
export async function codeActionRows(page: Page): Promise<string[]> {
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
  // Let the list settle (providers answer one after the other).
  await page.waitForTimeout(500);
  return menu.locator('.monaco-list-row').allInnerTexts();
}
