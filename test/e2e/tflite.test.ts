/**
 * A TensorFlow Lite model in a real VS Code (code-server): person_detect.tflite (from
 * ../shared/tflite; the suite skips without it) opens in the Model Lens editor as text, with the
 * annotations on its operator lines; a CONV_2D line's hover gives the CLI's figures
 * (`analyze --json`, formatted as the hover formats them); an MCU profile whose RAM is under
 * TFLite Micro's 55,296-byte arena gives the fit errors in Problems and a larger MCU clears them;
 * the graph view draws its 31 operators; Ctrl+. on a layer line offers one entry saying the
 * compression quick fixes are ONNX-only; and an explicit save never writes over the file (its
 * bytes stay identical, no ONNX lands on disk).
 * Needs `bash test/e2e/setup.sh`; skips without it, fails without it under CI.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { formatBytes, formatCount, formatPercent } from '../../src/core/format';
import { buildViewModel } from '../../src/core/graph/view';
import {
  openFile,
  runCommand,
  startWorkbench,
  waitForEditorText,
  webview,
  type Workbench,
} from './harness';
import {
  codeActionRows,
  cursorLineText,
  e2eMissing,
  goToLine,
  hoverText,
  placeSharedTflite,
  problemsText,
  selectDevice,
  sharedTfliteMissing,
  waitFor,
} from './models';

const MODEL = 'person_detect.tflite';
const missing = e2eMissing() ?? sharedTfliteMissing(MODEL);

/**
 * A Cortex-M0+-class part (SAMD21-like: 32 KiB SRAM, 256 KiB flash) as a user profile: neither
 * the 54 KiB arena nor the 278 KiB of weights fit.
 */
const TINY = {
  id: 'tiny-m0plus',
  name: 'Cortex-M0+ board (32 KiB SRAM, 256 KiB flash)',
  ramBytes: '32KiB',
  flashBytes: '256KiB',
  macsPerSecond: { int8: 48e6 },
  supportedWeightBits: [8],
  supportedActivationBits: [8],
};
/** A built-in MCU where person_detect fits (256 KiB RAM, 1 MiB flash). */
const FITS = 'nrf52840';

interface CliDevice {
  fits: boolean;
  ramUse: number;
  weightUse: number;
  diagnostics: { severity: string; message: string }[];
}

interface CliNode {
  name: string;
  op: string;
  inputs: string[];
  outputs: { name: string }[];
  macs: number;
  params: number;
  weightBytes: number;
  weightBits: number | null;
  activationBytes: number;
  share: { macs: number; params: number };
}

interface CliReport {
  totals: { macs: number; params: number; peakActivationBytes: number };
  nodes: CliNode[];
  inputs: { name: string }[];
  outputs: { name: string }[];
  device?: CliDevice;
}

/**
 * The CLI of the extension the workbench runs (the VSIX's own `dist/cli.js`, as installed), so
 * that the expected figures and text lines come from the very build under test, whatever the
 * source tree holds now. Exit 1 (a failed fit check) still prints its JSON.
 */
function installedCli(workbench: Workbench, args: readonly string[]): string {
  try {
    return execFileSync(
      process.execPath,
      [path.join(workbench.extensionDir, 'dist', 'cli.js'), ...args],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
  } catch (e) {
    const out = (e as { stdout?: string; status?: number }).stdout;
    if ((e as { status?: number }).status === 1 && out) return out;
    throw e;
  }
}

describe('e2e: a TensorFlow Lite model', { skip: missing }, () => {
  let workbench: Workbench;
  let workspace: string;
  let model: string;
  let original: Buffer;
  let devicesFile: string;
  /** 0-based text line of each operator in the view (`model-lens text` prints the same). */
  let lines: Map<string, number>;
  let report: CliReport;
  const check = (device: string): CliDevice =>
    (
      JSON.parse(
        installedCli(workbench, [
          'check',
          model,
          '--device',
          device,
          '--devices',
          devicesFile,
          '--json',
        ]),
      ) as CliReport
    ).device!;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-tflite-'));
    model = placeSharedTflite(workspace, MODEL);
    original = fs.readFileSync(model);
    // The same profile for the CLI's expected figures, outside the workspace.
    devicesFile = path.join(
      fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-devices-')),
      'd.json',
    );
    fs.writeFileSync(devicesFile, JSON.stringify([TINY]));
    workbench = await startWorkbench({
      workspaceDir: workspace,
      name: 'tflite',
      settings: { 'modelLens.devices': [TINY] },
    });
    report = JSON.parse(installedCli(workbench, ['analyze', model, '--json'])) as CliReport;
    // One line per operator, `outputs = tflite.OP …`, in the file's order, which is the
    // report's (TFLite operators run in file order); names may be shortened by a module scope.
    const text = installedCli(workbench, ['text', model]).split('\n');
    const opLines = text.flatMap((l, i) => (/ = tflite\./.test(l) ? [i] : []));
    assert.equal(opLines.length, report.nodes.length);
    lines = new Map(report.nodes.map((n, i) => [n.name, opLines[i]]));
    for (const [name, line] of lines) assert.ok(line >= 0, `${name}'s line in the text view`);
  });

  after(async () => {
    await workbench?.stop();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
    if (devicesFile) fs.rmSync(path.dirname(devicesFile), { recursive: true, force: true });
  });

  test('opens in the Model Lens editor, operator lines annotated with the CLI figures', async () => {
    const page = workbench.page;
    const cli = report;
    assert.equal(cli.totals.macs, 7_157_888);
    assert.equal(cli.totals.peakActivationBytes, 55_296);
    assert.equal(cli.nodes.length, 31);
    await openFile(page, MODEL);
    const top = await waitForEditorText(page, (t) => t.includes('opset_import'), 60_000);
    assert.match(top, /opset_import: \["tflite" : 3\]/);
    // Every CONV_2D / DEPTHWISE_CONV_2D line carries its MACs and weight annotation.
    const convs = cli.nodes.filter((n) => /CONV_2D$/.test(n.op));
    assert.equal(convs.length, 28);
    for (const n of [convs[0], convs[2], convs.at(-2)!, convs.at(-1)!]) {
      await goToLine(page, lines.get(n.name)!);
      const expected = [`${formatCount(n.macs)} MACs`, `W ${formatBytes(n.weightBytes)}`];
      const shown = await waitFor(
        () => cursorLineText(page),
        (t) => t.includes(`= tflite.${n.op}`) && expected.every((e) => t.includes(e)),
        30_000,
      );
      for (const e of expected) assert.ok(shown.includes(e), `${n.name}: "${e}" in ${shown}`);
      // The annotation sits right after the op, before its attributes.
      assert.match(shown, new RegExp(`= tflite\\.${n.op}\\s*\\S[^<]*MACs[^<]*<padding`));
    }
    await workbench.screenshot('tflite-01-annotations');
    // The screen around the last layer: every visible operator line with MACs shows them.
    const text = await waitForEditorText(page, (t) => t.includes('= tflite.SOFTMAX'), 10_000);
    const opLines = text.split('\n').filter((l) => / = tflite\.\w*CONV_2D/.test(l));
    assert.ok(opLines.length >= 3, `operator lines on screen:\n${text}`);
    for (const l of opLines) assert.match(l, /MACs/, `annotated: ${l}`);
  });

  test('the hover of a CONV_2D line equals the CLI: MACs, parameters, weight bytes', async () => {
    const page = workbench.page;
    const cli = report;
    // The heaviest pointwise conv: 590 k MACs, 71 KiB of int8 weights.
    const conv = cli.nodes.find(
      (n) => n.name === 'MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6',
    )!;
    assert.equal(conv.op, 'CONV_2D');
    const full = report.nodes.find((n) => n.name === conv.name)!;
    await goToLine(page, lines.get(conv.name)!);
    const hover = await hoverText(page, (t) => t.includes('MACs') && t.includes('weight memory'));
    await workbench.screenshot('tflite-02-hover');
    const flat = hover.replace(/\s+/g, ' ');
    const expected = [
      conv.name,
      `MACs ${formatCount(conv.macs)} (${formatPercent(full.share.macs)} of the model)`,
      `parameters ${formatCount(full.params)} (${formatPercent(full.share.params)})`,
      `weight memory ${formatBytes(conv.weightBytes)} at ${full.weightBits}-bit`,
      `feature maps (in + out) ${formatBytes(full.activationBytes)}`,
    ];
    for (const e of expected) assert.ok(flat.includes(e), `hover shows "${e}":\n${hover}`);
    assert.equal(formatCount(conv.macs), '590 k');
    assert.equal(formatBytes(conv.weightBytes), '71 KiB');
    await page.keyboard.press('Escape');
  });

  test('an MCU under the 54 KiB arena gives the fit errors in Problems; a larger one clears them', async () => {
    const page = workbench.page;
    const tiny = check(TINY.id);
    assert.equal(tiny.fits, false);
    assert.ok(tiny.ramUse > 1 && tiny.weightUse > 1, JSON.stringify(tiny));
    const messages = tiny.diagnostics.map((d) => d.message);
    assert.ok(
      messages.some((m) => /Peak activation RAM needs 54 KiB but tiny-m0plus has 32 KiB/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /flash/.test(m)),
      messages.join('\n'),
    );

    await selectDevice(page, TINY.id);
    const withErrors = await waitFor(
      () => problemsText(page),
      (t) => messages.every((m) => t.includes(m)),
      30_000,
    );
    await workbench.screenshot('tflite-03-tiny-problems');
    for (const m of messages)
      assert.ok(withErrors.includes(m), `Problems shows "${m}":\n${withErrors}`);
    const status = await waitFor(
      () =>
        page
          .locator(`.statusbar-item:has-text("${TINY.id}")`)
          .first()
          .innerText({ timeout: 2_000 })
          .catch(() => ''),
      (t) => /RAM/.test(t),
      15_000,
    );
    assert.ok(
      status.includes(
        `${TINY.id}: RAM ${formatPercent(tiny.ramUse)} · flash ${formatPercent(tiny.weightUse)}`,
      ),
      status,
    );

    const fits = check(FITS);
    assert.equal(fits.fits, true);
    await openFile(page, MODEL);
    await selectDevice(page, FITS);
    const cleared = await waitFor(
      () => problemsText(page),
      (t) => !/of RAM|of flash/.test(t),
      30_000,
    );
    await workbench.screenshot('tflite-04-fits-problems');
    assert.doesNotMatch(cleared, /of RAM|of flash/);
    const verdict = await waitFor(
      () =>
        page
          .locator(`.statusbar-item:has-text("${FITS}")`)
          .first()
          .innerText({ timeout: 2_000 })
          .catch(() => ''),
      (t) => t.includes('fits'),
      15_000,
    );
    assert.match(verdict, new RegExp(`${FITS}: fits`));
  });

  test('the graph view draws the 31 operators', async () => {
    const page = workbench.page;
    const view = buildViewModel({
      nodes: report.nodes.map((n) => ({
        name: n.name,
        op: n.op,
        inputs: n.inputs,
        outputs: n.outputs.map((o) => o.name),
      })),
      graphInputs: report.inputs.map((i) => i.name),
      graphOutputs: report.outputs.map((o) => o.name),
    });
    const expected = view.items.filter((i) => i.node !== undefined).length;
    assert.equal(expected, 31);
    await runCommand(page, 'View: Close All Editors');
    await openFile(page, MODEL);
    await waitForEditorText(page, (t) => t.includes('opset_import') || t.includes(' = '), 60_000);
    await runCommand(page, 'Model Lens: Show Graph');
    const frame = webview(page);
    await frame
      .locator('body[data-layout-stage="final"]')
      .waitFor({ state: 'attached', timeout: 60_000 });
    const drawn = await frame.locator('svg.graph g.node:not(.group)').count();
    await workbench.screenshot('tflite-05-graph');
    assert.equal(drawn, expected, `drawn ${drawn}, expected ${expected}`);
    assert.equal(await frame.locator('body').getAttribute('data-node-count'), String(expected));
    const ops = new Map<string, number>();
    for (const n of report.nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
    for (const [op, count] of ops) {
      assert.equal(
        await frame.locator(`svg.graph g.node[data-op="${op}"]`).count(),
        count,
        `${op} nodes`,
      );
    }
    // The memory chart's peak is TFLite Micro's arena, as the CLI reports it.
    const chart = frame.locator('.memory-chart');
    assert.equal(await chart.getAttribute('data-peak-bytes'), String(55_296));
  });

  test('Ctrl+. on a layer line offers one entry: compression quick fixes are ONNX-only', async () => {
    const page = workbench.page;
    await runCommand(page, 'View: Focus First Editor Group');
    const conv = 'MobilenetV1/MobilenetV1/Conv2d_1_pointwise/Relu6';
    await goToLine(page, lines.get(conv)!);
    await waitFor(
      () => cursorLineText(page),
      (t) => t.includes('= tflite.CONV_2D') && t.includes('MACs'),
      15_000,
    );
    let rows: string[];
    try {
      rows = await codeActionRows(page);
    } catch (e) {
      await workbench.screenshot('tflite-06-no-actions');
      throw e;
    }
    await workbench.screenshot('tflite-06-actions');
    const actions = rows
      .map((r) => r.trim())
      .filter((r) => r && !/^Quick Fix$|^More Actions/i.test(r));
    assert.equal(actions.length, 1, `one entry, got: ${JSON.stringify(rows)}`);
    assert.match(actions[0], /ONNX-only/, JSON.stringify(rows));
    assert.doesNotMatch(rows.join('\n'), /Quantize|Prune|Fold|Factorize|Fit/);
    // Choosing it says why, and changes nothing.
    await page.locator('.action-widget .monaco-list-row:has-text("ONNX-only")').first().click();
    const why = await waitFor(
      () =>
        page
          .locator('.notifications-toasts')
          .first()
          .innerText({ timeout: 2_000 })
          .catch(() => ''),
      (t) => /ONNX/.test(t),
      10_000,
    );
    await workbench.screenshot('tflite-07-why');
    assert.match(why, /ONNX/);
    assert.equal(await page.locator('.tab.active.dirty').count(), 0, 'the view stays clean');
  });

  test('an explicit save never writes over the .tflite: its bytes stay identical', async () => {
    const page = workbench.page;
    await runCommand(page, 'View: Close All Editors');
    await openFile(page, MODEL);
    await waitForEditorText(page, (t) => t.includes(' = ') || t.includes('opset_import'), 60_000);
    // Ctrl+S on the clean view: VS Code saves even a clean editor on an explicit save.
    await page.keyboard.press('Control+S');
    await runCommand(page, 'File: Save');
    await page.waitForTimeout(3_000);
    assert.ok(fs.readFileSync(model).equals(original), 'the file is unchanged after Ctrl+S');
    // A hand edit and a save: refused, nothing written.
    await goToLine(page, 0);
    await page.keyboard.press('End');
    await page.keyboard.type(' x');
    await page.keyboard.press('Control+S');
    await page.waitForTimeout(3_000);
    const refused = await waitFor(
      () =>
        page
          .locator('.notifications-toasts')
          .first()
          .innerText({ timeout: 2_000 })
          .catch(() => ''),
      (t) => /Failed to save/.test(t),
      10_000,
    );
    await workbench.screenshot('tflite-08-hand-edit-save');
    assert.match(refused, /Failed to save 'person_detect\.tflite'.*edited by hand/s);
    assert.ok(
      fs.readFileSync(model).equals(original),
      'the file is unchanged after an edited save',
    );
    await runCommand(page, 'File: Revert File');
    await waitForEditorText(page, (t) => !t.includes('> x'), 10_000);
    // No temporary or other file was left beside it, and the file is still TFLite.
    assert.deepEqual(fs.readdirSync(workspace), [MODEL]);
    assert.equal(fs.readFileSync(model).subarray(4, 8).toString('latin1'), 'TFL3');
    assert.ok(fs.readFileSync(model).equals(original), 'byte-identical at the end');
  });
});
