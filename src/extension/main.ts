/**
 * Activation: starts the analyzer server, registers the `*.onnx` and `*.tflite` editor, the text view, the
 * device status bar and the commands, and forwards setting changes to the server.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  MODEL_SCHEME,
  ModelStatusNotification,
  SettingsNotification,
  type ModelStatus,
} from '../shared/protocol';
import { createClient } from './client';
import { registerCommands } from './commands';
import { registerGraphView } from './graphPanel';
import { SECTION, readSettings } from './config';
import { MODEL_EDITOR_VIEW_TYPE, ModelEditorProvider } from './modelEditor';
import { ModelFileSystem } from './modelText';
import { registerFixCommands } from './quickFixes';
import { DeviceStatusBar } from './statusBar';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  client = createClient(context);
  // The server must be up before the text view asks it for a model.
  await client.start();
  const statusBar = new DeviceStatusBar(() => readSettings().device);
  const text = new ModelFileSystem(client);
  client.onNotification(ModelStatusNotification, (status: ModelStatus) => statusBar.update(status));
  await client.sendNotification(SettingsNotification, readSettings());
  context.subscriptions.push(
    statusBar,
    text,
    vscode.workspace.registerFileSystemProvider(MODEL_SCHEME, text, { isCaseSensitive: true }),
    vscode.window.registerCustomEditorProvider(MODEL_EDITOR_VIEW_TYPE, new ModelEditorProvider(), {
      supportsMultipleEditorsPerDocument: true,
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      void client?.sendNotification(SettingsNotification, readSettings());
      statusBar.render();
    }),
  );
  registerCommands(context, client);
  registerFixCommands(context, client);
  registerGraphView(context, client);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
