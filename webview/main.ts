/**
 * Entry of the graph webview bundle (scripts/build.mjs → dist/webview/graph.js). The extension
 * page loads it with a nonce; it asks for the graph once ready.
 */
import type { ToWebview } from '../src/shared/graphProtocol';
import { GraphApp } from './app';

const vscode = acquireVsCodeApi();
const app = new GraphApp(
  document.getElementById('app')!,
  vscode,
  document.body.dataset.modelUri ?? '',
);
window.addEventListener('message', (e: MessageEvent<ToWebview>) => app.receive(e.data));
vscode.postMessage({ type: 'ready' });
