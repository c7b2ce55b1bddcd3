/**
 * Show Report: the model's report in a webview, with the per-layer table of
 * src/core/text/layerTable.ts (as ST Edge AI's `analyze` report has it) whose column headers sort
 * on click, and Export CSV / Export Markdown buttons (a save dialog, written with
 * vscode.workspace.fs). The CSV is exactly what `model-lens analyze FILE --csv` prints with the
 * same device; the markdown is the whole report, with the same table.
 *
 * Hygiene, as the graph panel (graphPanel.ts): a nonce-only CSP, and no model string ever goes
 * into the HTML: the webview receives the data by message and sets text with textContent.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  ReportViewRequest,
  type FromReportWebview,
  type ReportView,
  type ToReportWebview,
} from '../shared/reportProtocol';

export const REPORT_VIEW_TYPE = 'modelLens.report';
const REFRESH_DELAY_MS = 250;

const panels = new Map<string, ReportPanel>();

export function showReportPanel(client: LanguageClient, uri: vscode.Uri): void {
  const existing = panels.get(uri.toString());
  if (existing) return existing.reveal();
  const panel = vscode.window.createWebviewPanel(
    REPORT_VIEW_TYPE,
    `Report: ${path.basename(uri.path)}`,
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
    { enableScripts: true, localResourceRoots: [] },
  );
  new ReportPanel(client, panel, uri);
}

class ReportPanel {
  private readonly uri: string;
  private report: ReportView | null = null;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly client: LanguageClient,
    private readonly panel: vscode.WebviewPanel,
    private readonly modelUri: vscode.Uri,
  ) {
    this.uri = modelUri.toString();
    panels.set(this.uri, this);
    panel.webview.html = html();
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: FromReportWebview) => void this.onMessage(m)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document.uri.toString() === this.uri && e.contentChanges.length > 0)
          this.scheduleRefresh();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('modelLens')) this.scheduleRefresh();
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
    this.scheduleRefresh();
  }

  private post(message: ToReportWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(message: FromReportWebview): Promise<void> {
    if (message.type === 'ready') return this.refresh();
    if (message.type === 'export' && this.report) {
      const text = message.format === 'csv' ? this.report.csv : this.report.markdown;
      return saveExport(this.modelUri, message.format, text);
    }
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), REFRESH_DELAY_MS);
  }

  private async refresh(): Promise<void> {
    // The text view must be open for the server to hold the model.
    if (!vscode.workspace.textDocuments.some((d) => d.uri.toString() === this.uri))
      await vscode.workspace.openTextDocument(this.modelUri);
    this.report = await this.client.sendRequest(ReportViewRequest, { uri: this.uri });
    this.post(
      this.report
        ? { type: 'report', report: this.report }
        : { type: 'empty', message: 'This model has no analysis to report.' },
    );
  }

  private dispose(): void {
    clearTimeout(this.refreshTimer);
    panels.delete(this.uri);
    for (const d of this.disposables) d.dispose();
  }
}

async function saveExport(
  model: vscode.Uri,
  format: 'csv' | 'markdown',
  text: string,
): Promise<void> {
  const base = path.basename(model.path).replace(/\.(onnx|tflite)$/i, '');
  const name = format === 'csv' ? `${base}.layers.csv` : `${base}.report.md`;
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(path.dirname(model.path), name)),
    filters: format === 'csv' ? { CSV: ['csv'] } : { Markdown: ['md'] },
  });
  if (!target) return;
  await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
  void vscode.window.setStatusBarMessage(`Model Lens: report saved to ${target.fsPath}`, 4000);
}

/** The page: static markup, a nonce'd style and script; the data arrives by message. */
function html(): string {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">${STYLE}</style>
<title>Model Lens report</title>
</head>
<body>
<header>
<h1 id="title">Model Lens report</h1>
<div class="actions">
<button id="export-csv" type="button">Export CSV</button>
<button id="export-markdown" type="button">Export Markdown</button>
</div>
</header>
<div id="summary"></div>
<table id="layers"><thead></thead><tbody></tbody></table>
<pre id="csv-text" hidden></pre>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>`;
}

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 0 16px 16px; }
header { display: flex; align-items: center; gap: 16px; flex-wrap: wrap; }
h1 { font-size: 1.3em; margin: 12px 0; flex: 1; overflow-wrap: anywhere; }
button { color: var(--vscode-button-foreground); background: var(--vscode-button-background); border: none; padding: 4px 10px; cursor: pointer; }
button:hover { background: var(--vscode-button-hoverBackground); }
#summary p { margin: 4px 0; color: var(--vscode-descriptionForeground); }
table { border-collapse: collapse; margin-top: 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--vscode-editorWidget-border, rgba(128,128,128,.3)); white-space: nowrap; }
th { position: sticky; top: 0; background: var(--vscode-editor-background); cursor: pointer; user-select: none; text-align: left; }
th.num, td.num { text-align: right; }
th[aria-sort="descending"]::after { content: " ▼"; }
th[aria-sort="ascending"]::after { content: " ▲"; }
td.name { max-width: 28em; overflow: hidden; text-overflow: ellipsis; }
tbody tr:hover { background: var(--vscode-list-hoverBackground); }
`;

/** Plain JavaScript (the webview runs it as is): builds the table with textContent only. */
const SCRIPT = `
(function () {
  const vscode = acquireVsCodeApi();
  let report = null;
  let sortColumn = -1;
  let descending = true;
  const $ = (id) => document.getElementById(id);
  function text(tag, content, className) {
    const el = document.createElement(tag);
    el.textContent = content;
    if (className) el.className = className;
    return el;
  }
  function compare(a, b) {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b));
  }
  function renderHead() {
    const row = document.createElement('tr');
    report.columns.forEach((c, i) => {
      const th = text('th', c.title, c.numeric ? 'num' : '');
      th.dataset.key = c.key;
      th.tabIndex = 0;
      th.title = 'Sort by ' + c.title;
      if (i === sortColumn) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      th.addEventListener('click', () => sortBy(i));
      th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(i); } });
      row.appendChild(th);
    });
    const thead = $('layers').tHead;
    thead.replaceChildren(row);
  }
  function renderBody() {
    const order = report.rows.map((_, i) => i);
    if (sortColumn >= 0) {
      order.sort((a, b) => {
        const c = compare(report.rows[a].keys[sortColumn], report.rows[b].keys[sortColumn]);
        return (descending ? -c : c) || a - b;
      });
    }
    const body = $('layers').tBodies[0];
    const rows = order.map((r) => {
      const tr = document.createElement('tr');
      report.rows[r].cells.forEach((cell, i) => {
        const col = report.columns[i];
        const td = text('td', cell, col.numeric ? 'num' : col.key === 'name' ? 'name' : '');
        td.dataset.key = col.key;
        td.dataset.value = String(report.rows[r].keys[i]);
        if (col.key === 'name') td.title = cell;
        tr.appendChild(td);
      });
      return tr;
    });
    body.replaceChildren(...rows);
  }
  function sortBy(i) {
    if (sortColumn === i) descending = !descending;
    else { sortColumn = i; descending = report.columns[i].numeric; }
    renderHead();
    renderBody();
  }
  function render() {
    $('title').textContent = 'Model Lens report: ' + report.title;
    $('summary').replaceChildren(...report.summary.map((line) => text('p', line)));
    $('csv-text').textContent = report.csv;
    if (sortColumn >= report.columns.length) sortColumn = -1;
    renderHead();
    renderBody();
  }
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m.type === 'report') { report = m.report; render(); }
    else if (m.type === 'empty') {
      report = null;
      $('summary').replaceChildren(text('p', m.message));
      $('layers').tHead.replaceChildren();
      $('layers').tBodies[0].replaceChildren();
      $('csv-text').textContent = '';
    }
  });
  $('export-csv').addEventListener('click', () => vscode.postMessage({ type: 'export', format: 'csv' }));
  $('export-markdown').addEventListener('click', () => vscode.postMessage({ type: 'export', format: 'markdown' }));
  vscode.postMessage({ type: 'ready' });
})();
`;
