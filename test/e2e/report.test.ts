/**
 * Show Report in a real VS Code (code-server), with the device stm32h743 selected: the report
 * webview lists every layer, clicking the MACs header sorts the rows by MACs (descending), the CSV
 * it holds and the file Export CSV writes through the save dialog are byte for byte
 * `model-lens analyze FILE --csv --device stm32h743`, and a layer named
 * like HTML (with a comma and quotes) stays text in the table and is quoted in the CSV.
 * Needs `bash test/e2e/setup.sh`; skips without it, fails without it under CI.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { saveModelFile } from '../../src/core/onnx/load';
import { DataType } from '../../src/core/onnx/types';
import { ModelBuilder } from '../helpers/modelBuilder';
import {
  REPO_ROOT,
  openFile,
  runCommand,
  startWorkbench,
  waitForEditorText,
  webview,
  type Page,
  type Workbench,
} from './harness';
import { cliAnalyze, e2eMissing, placeResnet18 } from './models';

const missing = e2eMissing();
const DEVICE = 'stm32h743';
const HTML_NAME = '<img src=x onerror=alert(1)>, "quoted"';

function placeHtmlNamed(workspace: string): string {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 16, 16]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('w', [8, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    {
      name: 'conv',
    },
  );
  const [y] = b.node('Relu', [c], {}, { name: HTML_NAME });
  b.output(y);
  const target = path.join(workspace, 'html-named.onnx');
  saveModelFile(b.build(), target);
  return target;
}

function cliCsv(file: string): string {
  return execFileSync(
    process.execPath,
    [path.join(REPO_ROOT, 'dist/cli.js'), 'analyze', file, '--csv', '--device', DEVICE],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
}

/** Opens the model's text view, then Show Report; waits for `rows` table rows. */
async function openReport(page: Page, file: string, rows: number): Promise<void> {
  await runCommand(page, 'View: Close All Editors');
  await openFile(page, path.basename(file));
  await waitForEditorText(page, (t) => t.includes('opset_import') || t.includes('" = '), 60_000);
  await runCommand(page, 'Model Lens: Show Report');
  await webview(page)
    .locator(`#layers tbody tr:nth-child(${rows})`)
    .waitFor({ state: 'attached', timeout: 60_000 });
}

/** The CSV the Export CSV button writes (the webview holds it for this check). */
async function exportedCsv(page: Page): Promise<string> {
  return (await webview(page).locator('#csv-text').textContent({ timeout: 5_000 })) ?? '';
}

/** Attribute `name` or the text of the first `n` cells of column `key`, in table order. */
async function column(page: Page, key: string, n: number, attribute?: string): Promise<string[]> {
  const cells = webview(page).locator(`#layers tbody tr td[data-key="${key}"]`);
  const count = Math.min(n, await cells.count());
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const cell = cells.nth(i);
    out.push((attribute ? await cell.getAttribute(attribute) : await cell.textContent()) ?? '');
  }
  return out;
}

describe('e2e: Show Report', { skip: missing }, () => {
  let workbench: Workbench;
  let workspace: string;
  let resnet: string;
  let htmlNamed: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-report-'));
    resnet = placeResnet18(workspace);
    htmlNamed = placeHtmlNamed(workspace);
    workbench = await startWorkbench({
      workspaceDir: workspace,
      name: 'report',
      settings: { 'modelLens.device': DEVICE },
    });
  });

  after(async () => {
    await workbench?.stop();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  test('the table sorts by MACs when its header is clicked', async () => {
    const { page } = workbench;
    const expected = cliAnalyze(resnet).nodes;
    await openReport(page, resnet, expected.length);
    const view = webview(page);
    assert.equal(await view.locator('#layers tbody tr').count(), expected.length);
    assert.match(
      await view.locator('#layers thead').innerText(),
      new RegExp(`latency \\(${DEVICE}\\)`),
    );
    await view.locator('th[data-key="macs"]').click();
    await view.locator('th[data-key="macs"][aria-sort="descending"]').waitFor({ timeout: 5_000 });
    const first = 10;
    const macs = (await column(page, 'macs', first, 'data-value')).map(Number);
    const names = await column(page, 'name', first);
    await workbench.screenshot('report-01-sorted-by-macs');
    for (let i = 1; i < macs.length; i++)
      assert.ok(macs[i - 1] >= macs[i], `row ${i}: ${macs[i - 1]} before ${macs[i]}`);
    const top = [...expected]
      .map((n) => n.macs)
      .sort((a, b) => b - a)
      .slice(0, first);
    assert.deepEqual(macs, top);
    assert.ok(macs[0] > 0);
    // The named layers are the CLI's layers with those MACs.
    for (const [i, name] of names.entries())
      assert.equal(expected.find((n) => n.name === name)?.macs, macs[i], name);
    // A second click sorts ascending.
    await view.locator('th[data-key="macs"]').click();
    await view.locator('th[data-key="macs"][aria-sort="ascending"]').waitFor({ timeout: 5_000 });
  });

  test('its CSV equals `model-lens analyze FILE --csv` with the same device, byte for byte', async () => {
    const csv = await exportedCsv(workbench.page);
    const expected = cliCsv(resnet);
    assert.ok(expected.includes(',latency s,'), 'the CLI CSV has the latency column');
    assert.equal(Buffer.from(csv, 'utf8').compare(Buffer.from(expected, 'utf8')), 0, 'same bytes');
  });

  test('Export CSV saves that CSV where the save dialog says', async () => {
    const { page } = workbench;
    const target = path.join(workspace, 'resnet18.layers.csv');
    await webview(page).locator('#export-csv').click();
    // code-server's save dialog: a quick input holding the default path (next to the model).
    await page.waitForSelector('.quick-input-widget', { state: 'visible', timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.keyboard.press('Enter');
    const deadline = Date.now() + 15_000;
    while (!fs.existsSync(target) && Date.now() < deadline) await page.waitForTimeout(250);
    await workbench.screenshot('report-02-exported');
    assert.ok(fs.existsSync(target), `${target} written`);
    assert.equal(fs.readFileSync(target).compare(Buffer.from(cliCsv(resnet), 'utf8')), 0);
  });

  test('a layer named like HTML stays text, and its CSV field is quoted', async () => {
    const { page } = workbench;
    await openReport(page, htmlNamed, 2);
    const view = webview(page);
    const names = await column(page, 'name', 10);
    assert.ok(names.includes(HTML_NAME), JSON.stringify(names));
    assert.equal(await view.locator('#layers img').count(), 0, 'no element made from the name');
    const csv = await exportedCsv(page);
    assert.equal(csv, cliCsv(htmlNamed));
    assert.ok(csv.includes(`,"<img src=x onerror=alert(1)>, ""quoted""",Relu,`));
  });
});
