/** Command ids mapped to what they do. Each asks the server; none computes a figure itself. */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { formatBytes } from '../core/format';
import {
  DevicesRequest,
  LayerFiguresRequest,
  MODEL_SCHEME,
  PeakLineRequest,
  SettingsNotification,
  type DevicesResult,
} from '../shared/protocol';
import { readSettings, setDataFolder, setDevice } from './config';
import { fileInputShapes, registerSetInputShape } from './inputShapes';
import { isModelUri, showGraph } from './graphPanel';
import { showReportPanel } from './reportPanel';
import { exportRetrainingPlan } from './retrainingPlan';

function activeModelEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor?.document.uri.scheme === MODEL_SCHEME) return editor;
  void vscode.window.showInformationMessage('Model Lens: open an .onnx or .tflite model first.');
  return undefined;
}

export function registerCommands(context: vscode.ExtensionContext, client: LanguageClient): void {
  const register = (id: string, run: () => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, run));
  };

  // The shapes Set Input Shape remembered reach the server with the settings.
  registerSetInputShape(context, client, () =>
    client.sendNotification(SettingsNotification, readSettings()),
  );
  if (Object.keys(fileInputShapes()).length > 0)
    void client.sendNotification(SettingsNotification, readSettings());

  register('modelLens.selectDevice', async () => {
    const { devices, problems }: DevicesResult = await client.sendRequest(DevicesRequest);
    if (problems.length > 0)
      void vscode.window.showWarningMessage(`Model Lens device profiles: ${problems.join('; ')}`);
    const current = vscode.workspace.getConfiguration('modelLens').get<string>('device', '');
    const items = devices.map((d) => ({
      label: d.id,
      description: d.name,
      detail: `RAM ${formatBytes(d.ramBytes)} · flash ${formatBytes(d.flashBytes)}${d.user ? ' · your profile' : ''}`,
      picked: d.id === current,
    }));
    const choice = await vscode.window.showQuickPick(
      [
        { label: 'None', description: 'no device: costs only', detail: '', picked: current === '' },
        ...items,
      ],
      {
        title: 'Model Lens: target device',
        placeHolder: 'Choose the device the model must fit',
        matchOnDescription: true,
      },
    );
    if (choice) await setDevice(choice.label === 'None' ? '' : choice.label);
  });

  // The samples quick fixes are calibrated and verified on (modelLens.dataFolder), for the folder
  // of the model in view, else the first workspace folder.
  register('modelLens.chooseDataFolder', async () => {
    const active = vscode.window.activeTextEditor?.document.uri;
    const model = active?.scheme === MODEL_SCHEME ? vscode.Uri.file(active.path) : active;
    const folder =
      (model && vscode.workspace.getWorkspaceFolder(model)) ??
      vscode.workspace.workspaceFolders?.[0];
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: false,
      canSelectFolders: true,
      canSelectMany: false,
      defaultUri: folder?.uri,
      title: 'Model Lens: data folder (.npy/.pb samples, or images in class folders)',
      openLabel: 'Use as Data Folder',
    });
    if (!picked?.[0]) return;
    await setDataFolder(picked[0], folder);
    void vscode.window.showInformationMessage(
      `Model Lens: quick fixes now quantize, prune and verify on the samples in ${picked[0].fsPath}.`,
    );
  });

  // A webview with the sortable per-layer table and CSV / markdown export (reportPanel.ts).
  register('modelLens.showReport', (uri?: vscode.Uri) => {
    const target = isModelUri(uri) ? uri : activeModelEditor()?.document.uri;
    if (target) showReportPanel(client, target);
  });

  register('modelLens.copyLayerFigures', async () => {
    const editor = activeModelEditor();
    if (!editor) return;
    const line = editor.selection.active.line;
    const text: string | null = await client.sendRequest(LayerFiguresRequest, {
      uri: editor.document.uri.toString(),
      line,
    });
    if (!text)
      return void vscode.window.showInformationMessage(
        'Model Lens: put the cursor on a layer line.',
      );
    await vscode.env.clipboard.writeText(text);
    void vscode.window.setStatusBarMessage('Model Lens: layer figures copied', 3000);
  });

  register('modelLens.revealPeakMemoryLayer', async () => {
    const editor = activeModelEditor();
    if (!editor) return;
    const line: number | null = await client.sendRequest(PeakLineRequest, {
      uri: editor.document.uri.toString(),
    });
    if (line === null)
      return void vscode.window.showInformationMessage('Model Lens: no activation peak to show.');
    const position = new vscode.Position(line, 0);
    editor.selection = new vscode.Selection(position, position);
    editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenter);
  });

  register('modelLens.exportRetrainingPlan', (uri?: vscode.Uri) => {
    const target = isModelUri(uri) ? uri : activeModelEditor()?.document.uri;
    if (target) return exportRetrainingPlan(target);
  });

  // From the editor title the model's URI comes as the argument; from the palette, the editor.
  register('modelLens.showGraph', (uri?: vscode.Uri) => {
    const target = isModelUri(uri) ? uri : activeModelEditor()?.document.uri;
    if (target) showGraph(context, client, target);
  });
}
