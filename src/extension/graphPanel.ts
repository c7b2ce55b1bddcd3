/**
 * The graph view: a webview panel per model, fed by the server's graph request and kept in step
 * with the model's text view both ways (a click reveals the node's line; the cursor highlights
 * the node). After an edit (a quick fix) the graph data is fetched again and the webview updates
 * in place. The panel survives a reload through its serializer.
 *
 * Hygiene: a nonce-only script CSP, resources only from media/ and the webview bundle, and no
 * model string ever goes into this HTML (the webview receives data and sets text with d3).
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  GraphRequest,
  LiveTensorsRequest,
  NodeFormatsRequest,
  type FromWebview,
  type GraphData,
  type GraphViewState,
  type LiveTensor,
  type NodeFormatsResult,
  type ToWebview,
} from '../shared/graphProtocol';
import { MODEL_SCHEME } from '../shared/protocol';

export const GRAPH_VIEW_TYPE = 'modelLens.graph';
/** Coalesces the burst of change events a quick fix makes into one refresh. */
const REFRESH_DELAY_MS = 250;

const panels = new Map<string, GraphPanel>();

export function showGraph(
  context: vscode.ExtensionContext,
  client: LanguageClient,
  uri: vscode.Uri,
): void {
  const existing = panels.get(uri.toString());
  if (existing) return existing.reveal();
  const panel = vscode.window.createWebviewPanel(
    GRAPH_VIEW_TYPE,
    `Graph: ${path.basename(uri.path)}`,
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
    webviewOptions(context),
  );
  new GraphPanel(context, client, panel, uri);
}

/** Fetches the graph of `uri` again where it is shown (e.g. after sensitivity was measured). */
export function refreshGraph(uri: vscode.Uri): void {
  panels.get(uri.toString())?.scheduleRefresh();
}

/** Restores graph panels after a window reload, from the state the webview saved. */
export function registerGraphView(context: vscode.ExtensionContext, client: LanguageClient): void {
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(GRAPH_VIEW_TYPE, {
      async deserializeWebviewPanel(panel, state: GraphViewState | undefined) {
        if (!state?.uri) return panel.dispose();
        panel.webview.options = webviewOptions(context);
        new GraphPanel(context, client, panel, vscode.Uri.parse(state.uri));
      },
    }),
  );
}

function webviewOptions(context: vscode.ExtensionContext) {
  return {
    enableScripts: true,
    localResourceRoots: [
      vscode.Uri.joinPath(context.extensionUri, 'media'),
      vscode.Uri.joinPath(context.extensionUri, 'dist', 'webview'),
    ],
  };
}

class GraphPanel {
  private readonly uri: string;
  private expanded: string[] = [];
  private nodeAtLine = new Map<number, string>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly client: LanguageClient,
    private readonly panel: vscode.WebviewPanel,
    private readonly modelUri: vscode.Uri,
  ) {
    this.uri = modelUri.toString();
    panels.set(this.uri, this);
    panel.webview.html = this.html();
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'graph.svg');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: FromWebview) => void this.onMessage(m)),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor.document.uri.toString() === this.uri) this.highlightLine(e);
      }),
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
  }

  private post(message: ToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(message: FromWebview): Promise<void> {
    switch (message.type) {
      case 'ready':
        return this.refresh();
      case 'expand':
        this.expanded = message.expanded;
        return this.refresh();
      case 'reveal':
        return this.revealLine(message.line, message.preserveFocus ?? false);
      case 'liveTensors': {
        const tensors: LiveTensor[] = await this.client.sendRequest(LiveTensorsRequest, {
          uri: this.uri,
          step: message.step,
        });
        return this.post({ type: 'liveTensors', step: message.step, tensors });
      }
      case 'formats':
        return this.post({ type: 'formats', ...(await this.nodeFormats(message)) });
      case 'export':
        return saveExport(this.modelUri, message.format, message.data);
      case 'timing':
        return; // read by tests and benchmarks from the webview itself
    }
  }

  /**
   * The server's measurement of a node's other formats; a failure (or a document that matches no
   * model state) answers null, so the side panel stops saying "measuring…". The webview drops an
   * answer for another version or node than it shows.
   */
  private async nodeFormats(request: {
    node: string;
    version: number;
  }): Promise<NodeFormatsResult> {
    const none: NodeFormatsResult = { node: request.node, version: request.version, value: null };
    try {
      const result: NodeFormatsResult | null = await this.client.sendRequest(NodeFormatsRequest, {
        uri: this.uri,
        node: request.node,
        version: request.version,
      });
      return result ?? none;
    } catch {
      return none;
    }
  }

  scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), REFRESH_DELAY_MS);
  }

  private async refresh(): Promise<void> {
    // The text view must be open for the server to hold the model.
    if (!vscode.workspace.textDocuments.some((d) => d.uri.toString() === this.uri))
      await vscode.workspace.openTextDocument(this.modelUri);
    const data: GraphData | null = await this.client.sendRequest(GraphRequest, {
      uri: this.uri,
      expanded: this.expanded,
    });
    if (!data) return;
    // A node's own line wins over a line it only stands for (a constant folded into two nodes).
    this.nodeAtLine = new Map(data.nodes.flatMap((n) => n.lines.map((l) => [l, n.id] as const)));
    for (const n of data.nodes) if (n.line !== null) this.nodeAtLine.set(n.line, n.id);
    this.post({ type: 'graph', data });
    const editor = vscode.window.visibleTextEditors.find(
      (e) => e.document.uri.toString() === this.uri,
    );
    if (editor)
      this.post({ type: 'highlight', node: this.nodeOnLine(editor.selection.active.line) });
  }

  private nodeOnLine(line: number): string | null {
    return this.nodeAtLine.get(line) ?? null;
  }

  private highlightLine(e: vscode.TextEditorSelectionChangeEvent): void {
    this.post({ type: 'highlight', node: this.nodeOnLine(e.selections[0].active.line) });
  }

  /** Shows the model's text view with the node's line selected, in the editor it is open in. */
  private async revealLine(line: number | null, preserveFocus: boolean): Promise<void> {
    if (line === null) return;
    const doc = await vscode.workspace.openTextDocument(this.modelUri);
    const visible = vscode.window.visibleTextEditors.find(
      (e) => e.document.uri.toString() === this.uri,
    );
    const range = doc.lineAt(Math.min(line, doc.lineCount - 1)).range;
    const editor = await vscode.window.showTextDocument(doc, {
      viewColumn: visible?.viewColumn ?? vscode.ViewColumn.One,
      preserveFocus,
      selection: new vscode.Selection(range.start, range.start),
    });
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private html(): string {
    const webview = this.panel.webview;
    const nonce = randomBytes(16).toString('base64');
    const asset = (...parts: string[]) =>
      webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, ...parts)).toString();
    // The layout worker is created from a blob: URL (a worker script must be same-origin, and
    // the webview's resources are not); images are blob:/data: for the PNG export only.
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      'worker-src blob:',
      'img-src blob: data:',
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${asset('media', 'graph.css')}" nonce="${nonce}">
<title>Graph</title>
</head>
<body data-model-uri="${escapeAttribute(this.uri)}">
<div id="app"></div>
<script nonce="${nonce}" src="${asset('dist', 'webview', 'graph.js')}"></script>
</body>
</html>`;
  }

  private dispose(): void {
    clearTimeout(this.refreshTimer);
    panels.delete(this.uri);
    for (const d of this.disposables) d.dispose();
  }
}

/** The model URI is ours, but it is still a path a user chose: escape it for the attribute. */
function escapeAttribute(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Saves an exported view (SVG text, or PNG as base64) where the user picks. */
async function saveExport(model: vscode.Uri, format: 'svg' | 'png', data: string): Promise<void> {
  const base = path.basename(model.path).replace(/\.(onnx|tflite)$/i, '');
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(path.dirname(model.path), `${base}.graph.${format}`)),
    filters: format === 'svg' ? { 'SVG image': ['svg'] } : { 'PNG image': ['png'] },
  });
  if (!target) return;
  const bytes = format === 'svg' ? Buffer.from(data, 'utf8') : Buffer.from(data, 'base64');
  await vscode.workspace.fs.writeFile(target, bytes);
  void vscode.window.setStatusBarMessage(`Model Lens: graph saved to ${target.fsPath}`, 4000);
}

export function isModelUri(uri: vscode.Uri | undefined): uri is vscode.Uri {
  return uri?.scheme === MODEL_SCHEME;
}
