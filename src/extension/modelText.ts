/**
 * The text view of a model: a read-only virtual document `onnx-model:/path/model.onnx` whose
 * text the server prints. A progress notification shows while a large model loads, and the view
 * follows the file when it changes on disk.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { MODEL_SCHEME, ModelTextRequest, type ModelTextResult } from '../shared/protocol';

/** Models at least this big get a progress notification while they load. */
const PROGRESS_BYTES = 16 * 1024 * 1024;

export function textUri(file: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({ scheme: MODEL_SCHEME, path: file.fsPath });
}

export class ModelTextProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly watchers = new Map<string, vscode.FileSystemWatcher>();

  constructor(private readonly client: LanguageClient) {}

  async provideTextDocumentContent(
    uri: vscode.Uri,
    token: vscode.CancellationToken,
  ): Promise<string> {
    const file = uri.path;
    this.watch(uri);
    const request = (): Promise<ModelTextResult> =>
      this.client.sendRequest(ModelTextRequest, { path: file }, token);
    let size = 0;
    try {
      size = (await vscode.workspace.fs.stat(vscode.Uri.file(file))).size;
    } catch {
      // A missing file is reported by the server with the rest of the bad-input cases.
    }
    const result =
      size >= PROGRESS_BYTES
        ? await vscode.window.withProgress(
            {
              location: vscode.ProgressLocation.Notification,
              title: `Model Lens: analysing ${path.basename(file)}…`,
            },
            request,
          )
        : await request();
    if (result.error)
      void vscode.window.showErrorMessage(
        `Model Lens could not open ${path.basename(file)}: ${result.error}`,
      );
    return result.text;
  }

  private watch(uri: vscode.Uri): void {
    if (this.watchers.has(uri.path)) return;
    const pattern = new vscode.RelativePattern(
      vscode.Uri.file(path.dirname(uri.path)),
      path.basename(uri.path),
    );
    const watcher = vscode.workspace.createFileSystemWatcher(pattern);
    const refresh = (): void => this.changed.fire(uri);
    watcher.onDidChange(refresh);
    watcher.onDidCreate(refresh);
    this.watchers.set(uri.path, watcher);
  }

  dispose(): void {
    this.changed.dispose();
    for (const w of this.watchers.values()) w.dispose();
  }
}
