/**
 * The default editor for `*.onnx` and `*.tflite`. A model is binary, so opening one shows its text view (the
 * language server's annotations need a text document): the custom editor hands over to it in
 * the same editor group and closes itself.
 */
import * as vscode from 'vscode';
import { textUri } from './modelText';

export const MODEL_EDITOR_VIEW_TYPE = 'modelLens.model';

export class ModelEditorProvider implements vscode.CustomReadonlyEditorProvider {
  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  async resolveCustomEditor(
    document: vscode.CustomDocument,
    panel: vscode.WebviewPanel,
  ): Promise<void> {
    panel.webview.html = '<!DOCTYPE html><html><body><p>Opening the model…</p></body></html>';
    try {
      const doc = await vscode.workspace.openTextDocument(textUri(document.uri));
      await vscode.window.showTextDocument(doc, { viewColumn: panel.viewColumn, preview: false });
    } finally {
      panel.dispose();
    }
  }
}
