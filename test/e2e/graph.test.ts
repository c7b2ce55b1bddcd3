/**
 * The graph view in a real VS Code (code-server): open resnet18's graph, count its nodes, click a
 * Conv and see the text cursor move and the side panel measure its other formats, move the cursor and see the highlight move, compare the
 * memory chart's peak with the CLI, check that a node named like HTML stays text, take light and
 * dark screenshots, and open a generated 10,000-node model.
 * Needs `bash test/e2e/setup.sh`; skips without it, fails without it under CI.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeTransformerLike } from '../../bench/graphModels';
import { analyzeFile } from '../../src/core/analyze';
import { formatBytes } from '../../src/core/format';
import { buildViewModel } from '../../src/core/graph/view';
import { loadModelFile, saveModelFile } from '../../src/core/onnx/load';
import { DataType } from '../../src/core/onnx/types';
import { printModel } from '../../src/core/text/printer';
import { viewInputOf } from '../../src/server/graphData';
import { DEFAULT_SETTINGS } from '../../src/server/modelStore';
import { formatsCurve } from '../../src/server/presentation';
import { OTHER_FORMATS_LABEL } from '../../src/shared/graphProtocol';
import { ModelBuilder } from '../helpers/modelBuilder';
import {
  openFile,
  runCommand,
  startWorkbench,
  waitForEditorText,
  webview,
  type Page,
  type Workbench,
} from './harness';
import { cliAnalyze, e2eMissing, goToLine, placeResnet18, waitFor } from './models';

const missing = e2eMissing();

const HTML_NAME = '<img src=x onerror=alert(1)>';

/** A Conv, then a Relu whose name is an HTML image tag with a script in its onerror. */
function placeHtmlNamed(workspace: string): string {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 16, 16]);
  const w = b.weight('w', [8, 3, 3, 3]);
  const [c] = b.node('Conv', [x, w], { pads: [1, 1, 1, 1] }, { name: 'conv' });
  const [y] = b.node('Relu', [c], {}, { name: HTML_NAME });
  b.output(y);
  const target = path.join(workspace, 'html-named.onnx');
  saveModelFile(b.build(), target);
  return target;
}

/** 0-based text line of each node, as the text view prints it. */
function nodeLines(file: string): Map<string, number> {
  const loaded = loadModelFile(file);
  const { layout } = printModel(loaded.model);
  return new Map(loaded.model.graph.nodes.map((n, i) => [n.name, layout.nodeLines[i]]));
}

/** The cursor line (0-based) of the active editor, from the status bar's "Ln 12, Col 1". */
async function cursorLine(page: Page): Promise<number> {
  const text = await page
    .locator('.statusbar-item[id="status.editor.selection"]')
    .first()
    .innerText({ timeout: 5_000 })
    .catch(() => '');
  const m = /Ln (\d+)/.exec(text);
  return m ? Number(m[1]) - 1 : -1;
}

/** Opens the model's text view, then its graph; waits for the final layout (ELK's, for a small
 * graph, replaces the first fast one; clicks must not land mid-swap). */
async function openGraph(page: Page, file: string, timeoutMs = 60_000): Promise<number> {
  await runCommand(page, 'View: Close All Editors');
  await openFile(page, path.basename(file));
  // The text view reopens where it was scrolled to: the header or any node line will do.
  await waitForEditorText(page, (t) => t.includes('opset_import') || t.includes(' = '), 60_000);
  const started = Date.now();
  await runCommand(page, 'Model Lens: Show Graph');
  await webview(page)
    .locator('body[data-layout-stage="final"]')
    .waitFor({ state: 'attached', timeout: timeoutMs });
  return Date.now() - started;
}

async function bodyData(page: Page, name: string): Promise<string | null> {
  return webview(page).locator('body').getAttribute(`data-${name}`, { timeout: 5_000 });
}

describe('e2e: the graph view', { skip: missing }, () => {
  let workbench: Workbench;
  let workspace: string;
  let resnet: string;
  let htmlNamed: string;
  let large: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-graph-'));
    resnet = placeResnet18(workspace);
    htmlNamed = placeHtmlNamed(workspace);
    large = path.join(workspace, 'large-10k.onnx');
    writeTransformerLike(large, 10_000);
    workbench = await startWorkbench({
      workspaceDir: workspace,
      name: 'graph',
      theme: 'Default Dark Modern',
    });
  });

  after(async () => {
    await workbench?.stop();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  test('resnet18: the SVG has one node per non-collapsed model node', async () => {
    await openGraph(workbench.page, resnet);
    const report = analyzeFile(resnet);
    const view = buildViewModel(viewInputOf(report));
    const expected = view.items.filter((i) => i.node !== undefined).length;
    assert.equal(expected, report.nodes.length - view.collapsedCount);
    const drawn = await webview(workbench.page).locator('svg.graph g.node:not(.group)').count();
    await workbench.screenshot('graph-01-resnet18-dark');
    assert.equal(drawn, expected, `drawn ${drawn}, expected ${expected}`);
    assert.equal(await bodyData(workbench.page, 'node-count'), String(expected));
    assert.equal(await bodyData(workbench.page, 'layout-in-worker'), 'true');
  });

  test('clicking a Conv node moves the text cursor to its line', async () => {
    const lines = nodeLines(resnet);
    const convs = webview(workbench.page).locator('svg.graph g.node[data-op="Conv"]');
    assert.ok((await convs.count()) >= 3, 'at least three Conv nodes drawn');
    const conv = convs.nth(2);
    const id = (await conv.getAttribute('data-id'))!;
    await conv.click({ timeout: 10_000 });
    const expected = lines.get(id)!;
    const line = await waitFor(
      () => cursorLine(workbench.page),
      (l) => l === expected,
      10_000,
    );
    await workbench.screenshot('graph-02-clicked-conv');
    assert.equal(line, expected, `cursor on line ${line}, node ${id} is on ${expected}`);
    const selected = webview(workbench.page).locator('g.node.selected');
    assert.equal(await selected.getAttribute('data-id'), id);
    const side = await webview(workbench.page).locator('.side-panel').innerText();
    assert.ok(side.includes(id) && side.includes('MACs'), `side panel: ${side}`);

    // The other formats, measured on demand ("measuring…" first), as `analyze --json` gives them.
    type Formats = Record<'fp16' | 'pow2' | 'ternary' | 'binary', number>;
    const cli = cliAnalyze(resnet).nodes as unknown as {
      name: string;
      weightFormatSqnrDb?: Formats;
    }[];
    const formats = cli.find((n) => n.name === id)?.weightFormatSqnrDb;
    assert.ok(formats, `analyze --json measures ${id}'s other formats`);
    const row = webview(workbench.page).locator('.side-panel tr.formats');
    assert.equal(await row.locator('th').innerText({ timeout: 10_000 }), OTHER_FORMATS_LABEL);
    const value = await waitFor(
      () => row.locator('td').innerText({ timeout: 5_000 }),
      (v) => v !== 'measuring…',
      15_000,
    );
    await workbench.screenshot('graph-02b-conv-other-formats');
    assert.equal(value, formatsCurve(formats, DEFAULT_SETTINGS.errorTargetDb));
  });

  test('moving the cursor in the text view moves the highlight', async () => {
    const lines = nodeLines(resnet);
    const report = analyzeFile(resnet);
    const target = report.nodes.filter((n) => n.op === 'Conv').at(-1)!;
    await goToLine(workbench.page, lines.get(target.name)!);
    const selected = webview(workbench.page).locator('g.node.selected');
    const id = await waitFor(
      () => selected.getAttribute('data-id', { timeout: 2_000 }).catch(() => null),
      (v) => v === target.name,
      10_000,
    );
    await workbench.screenshot('graph-03-cursor-highlight');
    assert.equal(id, target.name);
  });

  test("the memory chart's peak equals the CLI's peakActivationBytes", async () => {
    const { peakActivationBytes } = cliAnalyze(resnet).totals;
    const chart = webview(workbench.page).locator('.memory-chart');
    assert.equal(await chart.getAttribute('data-peak-bytes'), String(peakActivationBytes));
    const text = await chart.locator('.peak-line text').textContent();
    assert.equal(text, `peak ${formatBytes(peakActivationBytes)}`);
  });

  test('the memory chart names the live tensors on hover and jumps to the node on click', async () => {
    const report = analyzeFile(resnet);
    const chart = webview(workbench.page).locator('.memory-chart');
    // The overlay over the bars takes the pointer; force the pointer onto the peak's position.
    const marker = chart.locator('.peak-marker') as unknown as {
      hover(o: { force: boolean }): Promise<void>;
      click(o: { force: boolean }): Promise<void>;
    };
    await marker.hover({ force: true });
    const tips = webview(workbench.page).locator('.chart-tooltip li');
    const count = await waitFor(
      () => tips.count(),
      (n) => n > 0,
      10_000,
    );
    await workbench.screenshot('graph-03b-memory-hover');
    assert.ok(count > 0, 'the tooltip lists live tensors');
    const first = (await tips.first().textContent()) ?? '';
    const live = report.memory.liveAtPeak.map((t) => t.name);
    assert.ok(
      live.some((name) => first.startsWith(`${name} — `)),
      `${first} is one of ${live.join(', ')}`,
    );
    await marker.click({ force: true });
    const selected = await waitFor(
      () =>
        webview(workbench.page)
          .locator('g.node.selected')
          .getAttribute('data-id', { timeout: 2_000 })
          .catch(() => null),
      (id) => id === report.memory.peakNode,
      10_000,
    );
    assert.equal(selected, report.memory.peakNode);
  });

  test('a folded group expands from the side panel and collapses again', async () => {
    const frame = webview(workbench.page);
    const nodes = frame.locator('svg.graph g.node:not(.group)');
    const before = await nodes.count();
    // A node with something folded into it carries a "+N" badge.
    const convs = frame.locator('g.node[data-op="Conv"]');
    let withFolded = -1;
    for (let i = 0; i < (await convs.count()) && withFolded < 0; i++) {
      const badge = convs.nth(i).locator('text.badge');
      if ((await badge.count()) && ((await badge.textContent()) ?? '').startsWith('+'))
        withFolded = i;
    }
    assert.ok(withFolded >= 0, 'a Conv with a folded constant node');
    await convs.nth(withFolded).click();
    const expand = frame.locator('.side-panel vscode-button.expand').first();
    await expand.click();
    const expanded = await waitFor(
      () => nodes.count(),
      (n) => n > before,
      15_000,
    );
    await workbench.screenshot('graph-03c-expanded');
    assert.ok(expanded > before, `expanded: ${expanded} nodes, before ${before}`);
    await frame.locator('header vscode-button:has-text("Collapse all")').click();
    const collapsed = await waitFor(
      () => nodes.count(),
      (n) => n === before,
      15_000,
    );
    assert.equal(collapsed, before);
  });

  test('the per-layer chart sorts by weight bytes, and a row click selects the node', async () => {
    const report = analyzeFile(resnet);
    const heaviest = [...report.nodes].sort((a, b) => b.weightBytes - a.weightBytes)[0];
    const frame = webview(workbench.page);
    await frame.locator('.chart-tabs vscode-button:has-text("Per layer")').click();
    await frame.locator('.layer-sort vscode-button[data-sort="weightBytes"]').click();
    const first = frame.locator('table.layers tr.layer').first();
    assert.equal(await first.getAttribute('data-id'), heaviest.name);
    await first.click();
    await workbench.screenshot('graph-03d-per-layer');
    assert.equal(await frame.locator('g.node.selected').getAttribute('data-id'), heaviest.name);
    await frame.locator('.chart-tabs vscode-button:has-text("Activation memory")').click();
  });

  test('Export SVG writes the drawn graph to the file picked in the save dialog', async () => {
    const target = path.join(workspace, 'resnet18.graph.svg');
    await openGraph(workbench.page, resnet);
    await webview(workbench.page).locator('header vscode-button:has-text("SVG")').click();
    // VS Code's own save dialog (a quick input in code-server), proposing resnet18.graph.svg.
    await workbench.page.waitForSelector('.quick-input-widget', {
      state: 'visible',
      timeout: 10_000,
    });
    await workbench.page.keyboard.press('Enter');
    const written = await waitFor(
      async () => (fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : ''),
      (t) => t.length > 0,
      15_000,
    );
    assert.match(written, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(written, /<style>/);
    const report = analyzeFile(resnet);
    const conv = report.nodes.find((n) => n.op === 'Conv')!;
    assert.ok(written.includes(conv.name), 'the export holds the node names');
  });

  test('screenshots in the light theme', async () => {
    await runCommand(workbench.page, 'Preferences: Color Theme');
    await workbench.page.waitForSelector('.quick-input-widget', { state: 'visible' });
    await workbench.page.keyboard.insertText('Light Modern');
    await workbench.page.waitForTimeout(500);
    await workbench.page.keyboard.press('Enter');
    const light = await waitFor(
      () =>
        webview(workbench.page)
          .locator('body')
          .getAttribute('class', { timeout: 2_000 })
          .catch(() => ''),
      (c) => /vscode-light/.test(c ?? ''),
      20_000,
    );
    await workbench.screenshot('graph-04-resnet18-light');
    assert.match(light ?? '', /vscode-light/);
  });

  test('a node named like HTML renders as text and runs no script', async () => {
    await openGraph(workbench.page, htmlNamed);
    const frame = webview(workbench.page);
    const nameTexts = frame.locator('g.node text.name');
    const names: string[] = [];
    for (let i = 0; i < (await nameTexts.count()); i++)
      names.push((await nameTexts.nth(i).textContent()) ?? '');
    await workbench.screenshot('graph-05-html-name');
    assert.ok(names.includes(HTML_NAME), `the name is shown as text: ${JSON.stringify(names)}`);
    assert.equal(await frame.locator('img').count(), 0, 'no <img> element was created');
    const csp = await frame
      .locator('meta[http-equiv="Content-Security-Policy"]')
      .getAttribute('content');
    assert.match(csp ?? '', /default-src 'none'; script-src 'nonce-[^']+'/);
    assert.doesNotMatch(csp ?? '', /unsafe-inline|unsafe-eval/);
  });

  test('a generated 10,000-node model opens and becomes interactive', async () => {
    const commandToFinalMs = await openGraph(workbench.page, large, 120_000);
    const interactiveMs = Number(await bodyData(workbench.page, 'interactive-ms'));
    const engine = await bodyData(workbench.page, 'layout-engine');
    await workbench.screenshot('graph-06-10k');
    console.log(
      `10k nodes in VS Code: interactive ${interactiveMs} ms after the data arrived, ` +
        `${commandToFinalMs} ms from Show Graph (polled)`,
    );
    assert.ok(interactiveMs > 0 && interactiveMs < 8_000, `interactive after ${interactiveMs} ms`);
    assert.equal(engine, 'fast-layered');
    // Interactive: search finds a node, selects it and scrolls it into view as SVG.
    const frame = webview(workbench.page);
    await frame.locator('vscode-textfield.search').click();
    await workbench.page.keyboard.type('/blocks.500/fc2/MatMul');
    const found = await waitFor(
      () =>
        frame
          .locator('g.node.selected')
          .getAttribute('data-id', { timeout: 2_000 })
          .catch(() => null),
      (id) => id === '/blocks.500/fc2/MatMul',
      15_000,
    );
    assert.equal(found, '/blocks.500/fc2/MatMul');
    await workbench.screenshot('graph-07-10k-search');
  });

  test('after a window reload the panel is restored with its selection (serializer)', async () => {
    const page = workbench.page;
    await openGraph(page, resnet);
    const frame = webview(page);
    // A tall graph opens at a readable zoom on its top; Fit brings every node into view.
    await frame.locator('vscode-button:has-text("Fit")').first().click();
    await frame.locator('g.node[data-op="Conv"]').nth(3).click();
    const selected = await frame.locator('g.node.selected').getAttribute('data-id');
    const metric = frame.locator('vscode-single-select.metric');
    assert.ok(selected, 'a node is selected before the reload');
    await page.waitForTimeout(500); // the webview saves its state 200 ms after a change
    await runCommand(page, 'Developer: Reload Window');
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    const restored = await frame
      .locator('body[data-layout-stage="final"]')
      .waitFor({ state: 'attached', timeout: 60_000 })
      .then(() => true)
      .catch(() => false);
    await workbench.screenshot('graph-09-restored');
    assert.ok(restored, 'the graph panel came back after the reload');
    assert.equal(await frame.locator('g.node.selected').getAttribute('data-id'), selected);
    assert.equal(await metric.getAttribute('value'), 'macs');
  });

  test('after a quick fix the graph updates in place, keeping zoom and selection', async () => {
    const page = workbench.page;
    await openGraph(page, resnet);
    const frame = webview(page);
    // Select a Conv from the graph: the text view gets the focus, on that line.
    const conv = frame.locator('svg.graph g.node[data-op="Conv"]').nth(1);
    const id = (await conv.getAttribute('data-id'))!;
    await conv.click({ timeout: 10_000 });
    await waitFor(
      () => cursorLine(page),
      (l) => l === nodeLines(resnet).get(id),
      10_000,
    );
    // The quick fix runs in the text view: focus it (group 1) on the Conv's line, and wait for
    // the server's code actions (the light bulb), as quickFix.test.ts does.
    await runCommand(page, 'View: Focus First Editor Group');
    await goToLine(page, nodeLines(resnet).get(id)!);
    await page
      .locator('.lightBulbWidget')
      .first()
      .waitFor({ state: 'visible', timeout: 10_000 })
      .catch(() => undefined);
    await page.waitForTimeout(500); // let the reveal's zoom settle
    const version = await bodyData(page, 'graph-version');
    const transform = await frame.locator('g.viewport').getAttribute('transform');
    const bitsBefore = await frame.locator('.side-panel').innerText();

    const menu = page.locator('.action-widget').first();
    let open = false;
    for (let attempt = 0; attempt < 3 && !open; attempt++) {
      await page.keyboard.press('Control+.');
      open = await menu
        .waitFor({ state: 'visible', timeout: 10_000 })
        .then(() => true)
        .catch(() => false);
      if (!open) await page.keyboard.press('Escape');
    }
    if (!open) await workbench.screenshot('graph-08-no-quick-fix-menu');
    assert.ok(open, 'Ctrl+. opened the quick fix menu');
    await page.locator('.action-widget .monaco-list-row:has-text("to int8")').first().click();

    const newVersion = await waitFor(
      () => bodyData(page, 'graph-version'),
      (v) => v !== version,
      60_000,
    );
    await frame.locator('body[data-layout-stage="final"]').waitFor({ state: 'attached' });
    await workbench.screenshot('graph-08-after-quick-fix');
    assert.notEqual(newVersion, version, 'the graph got the new analysis');
    assert.equal(await frame.locator('g.node.selected').getAttribute('data-id'), id);
    assert.equal(await frame.locator('g.viewport').getAttribute('transform'), transform);
    const side = await frame.locator('.side-panel').innerText();
    assert.notEqual(side, bitsBefore, 'the side panel shows the new figures');
    assert.match(side, /weight bits\s+8/);
  });
});
