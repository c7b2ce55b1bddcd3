/**
 * The text view of a model: the document `onnx-model:/path/model.onnx`, served by a file system
 * provider so that it is an ordinary editable document, with VS Code's own dirty marker, undo,
 * redo, save and revert. Its text is printed by the server, which owns the models:
 *
 * - reading it asks the server for the file's text (a progress notification for large models);
 * - saving it sends the text back: the server finds the model state that text shows (the file as
 *   read, or one a quick fix made) and writes that model over the file, atomically;
 * - a model that can't be saved over (read-only file or file system) keeps an unlocked view: its
 *   quick fixes are listed, disabled, with the reason, and a save refuses with it.
 *
 * The view follows the file when it changes on disk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  MODEL_SCHEME,
  ModelTextRequest,
  SaveModelRequest,
  type ModelTextResult,
  type SaveModelResult,
} from '../shared/protocol';

/** Models at least this big get a progress notification while they load. */
const PROGRESS_BYTES = 16 * 1024 * 1024;

export function textUri(file: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({ scheme: MODEL_SCHEME, path: file.fsPath });
}

export class ModelFileSystem implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changed.event;
  private readonly watchers = new Map<string, vscode.FileSystemWatcher>();

  constructor(private readonly client: LanguageClient) {}

  watch(uri: vscode.Uri): vscode.Disposable {
    const file = uri.path;
    if (!this.watchers.has(file)) {
      const pattern = new vscode.RelativePattern(
        vscode.Uri.file(path.dirname(file)),
        path.basename(file),
      );
      const watcher = vscode.workspace.createFileSystemWatcher(pattern);
      const fire = (): void => this.changed.fire([{ type: vscode.FileChangeType.Changed, uri }]);
      watcher.onDidChange(fire);
      watcher.onDidCreate(fire);
      this.watchers.set(file, watcher);
    }
    return new vscode.Disposable(() => {
      this.watchers.get(file)?.dispose();
      this.watchers.delete(file);
    });
  }

  stat(uri: vscode.Uri): vscode.FileStat {
    let st: fs.Stats;
    try {
      st = fs.statSync(uri.path);
    } catch {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    if (st.isDirectory()) return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
    // A read-only model file is not reported as such: VS Code would lock the view and offer no
    // code actions at all, where ours say why they are unavailable (saveBlocker).
    return { type: vscode.FileType.File, ctime: st.ctimeMs, mtime: st.mtimeMs, size: st.size };
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const file = uri.path;
    const request = (): Promise<ModelTextResult> =>
      this.client.sendRequest(ModelTextRequest, { path: file });
    let size = 0;
    try {
      size = fs.statSync(file).size;
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
    return new TextEncoder().encode(result.text);
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const text = new TextDecoder().decode(content);
    const result: SaveModelResult = await this.client.sendRequest(SaveModelRequest, {
      path: uri.path,
      text,
    });
    if (result.error) {
      throw result.readOnly
        ? vscode.FileSystemError.NoPermissions(result.error)
        : vscode.FileSystemError.Unavailable(result.error);
    }
  }

  readDirectory(): [string, vscode.FileType][] {
    return [];
  }

  createDirectory(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  rename(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  dispose(): void {
    this.changed.dispose();
    for (const w of this.watchers.values()) w.dispose();
  }
}
