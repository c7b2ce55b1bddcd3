/**
 * Show Graph: a placeholder panel until the graph view lands. Already strict: a nonce-only CSP,
 * no resource roots, and the model name escaped.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function showGraphPlaceholder(context: vscode.ExtensionContext, uri: vscode.Uri): void {
  const name = path.basename(uri.path);
  const panel = vscode.window.createWebviewPanel(
    'modelLens.graph',
    `Graph: ${name}`,
    vscode.ViewColumn.Beside,
    {
      enableScripts: false,
      localResourceRoots: [],
    },
  );
  panel.webview.html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${panel.webview.cspSource} 'unsafe-inline';">
<title>Graph</title></head>
<body style="font-family: var(--vscode-font-family); color: var(--vscode-foreground);">
<h2>${escapeHtml(name)}</h2>
<p>The interactive graph view is coming. Meanwhile the outline (Ctrl+Shift+O) lists every layer, and Show Report gives the full table.</p>
</body></html>`;
  context.subscriptions.push(panel);
}
