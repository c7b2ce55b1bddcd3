/**
 * The client half of quick fixes. A code action (from the server) runs `modelLens.applyFix`:
 * it asks for a fraction when the fix needs one, has the server compute the new model (off the
 * extension host, with progress and cancellation), replaces the text view's text with the new
 * state's (one undoable edit: Ctrl+Z puts the old text, and with it the old model, back), then
 * has the server verify both states in ONNX Runtime and shows the summary.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  ApplyFixRequest,
  MeasureSensitivityRequest,
  MODEL_SCHEME,
  ProgressNotification,
  VerifyFixRequest,
  type ApplyFixArgs,
  type ApplyFixResult,
  type Fix,
  type MeasureSensitivityResult,
  type ProgressParams,
  type VerifyFixResult,
} from '../shared/protocol';
import { refreshGraph } from './graphPanel';
import { pruneChoices } from '../shared/pruneChoices';

type Reporter = (message: string, fraction: number) => void;

/** Routes the server's progress notifications to the VS Code progress that asked for them. */
class ProgressRoutes {
  private readonly routes = new Map<string, Reporter>();
  private next = 0;

  constructor(client: LanguageClient) {
    client.onNotification(ProgressNotification, (p: ProgressParams) =>
      this.routes.get(p.progressId)?.(p.message, p.fraction),
    );
  }

  /** Runs `job` under a cancellable notification whose progress the server reports. */
  run<T>(
    title: string,
    job: (progressId: string, token: vscode.CancellationToken) => Promise<T>,
  ): Thenable<T> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, token) => {
        const id = `p${++this.next}`;
        let reported = 0;
        this.routes.set(id, (message, fraction) => {
          const increment = Math.max(0, fraction * 100 - reported);
          reported += increment;
          progress.report({ message, increment });
        });
        try {
          return await job(id, token);
        } finally {
          this.routes.delete(id);
        }
      },
    );
  }
}

const FILTER_FRACTIONS = [0.1, 0.25, 0.5];

/** The fix with its fraction filled in (asked for with a quick pick), or undefined if dismissed. */
async function completeFix(args: ApplyFixArgs): Promise<Fix | undefined> {
  const fix = args.fix;
  const pick = async (
    title: string,
    values: number[],
    what: string,
  ): Promise<number | undefined> => {
    const choice = await vscode.window.showQuickPick(
      values.map((v) => ({ label: `${Math.round(v * 100)}%`, description: what, value: v })),
      { title, placeHolder: title },
    );
    return choice?.value;
  };
  if (fix.kind === 'prune' && fix.sparsity === undefined && fix.nm === undefined) {
    const target = fix.layers ? fix.layers.join(', ') : 'every layer';
    const title = `Prune ${target}: share of weights set to zero, or an N:M pattern`;
    const choices = pruneChoices(fix.layers === undefined, args.forecast);
    const choice = await vscode.window.showQuickPick(choices, { title, placeHolder: title });
    return choice === undefined ? undefined : { ...fix, ...choice.value };
  }
  if (fix.kind === 'removeFilters' && fix.fraction === undefined) {
    const fraction = await pick(
      // The server ranks them by their effect on the data folder's outputs when one is set.
      `Remove filters of ${fix.layers.join(', ')} (least useful first)`,
      FILTER_FRACTIONS,
      'of the filters',
    );
    return fraction === undefined ? undefined : { ...fix, fraction };
  }
  return fix;
}

function documentOf(uri: string): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
}

async function showReport(markdown: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: markdown });
  await vscode.window.showTextDocument(doc, {
    viewColumn: vscode.ViewColumn.Beside,
    preview: true,
  });
}

export function registerFixCommands(
  context: vscode.ExtensionContext,
  client: LanguageClient,
): void {
  const progress = new ProgressRoutes(client);

  const applyFix = async (args: ApplyFixArgs): Promise<void> => {
    const doc = documentOf(args.uri);
    if (!doc) return;
    const fix = await completeFix(args);
    if (!fix) return;
    const version = doc.version;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === doc);
    const line = editor?.selection.active.line;
    const result: ApplyFixResult = await progress.run(
      `Model Lens: ${args.title}`,
      (progressId, token) =>
        client.sendRequest(ApplyFixRequest, { uri: args.uri, fix, progressId, line }, token),
    );
    if ('refusal' in result) {
      if (result.dataFolder !== undefined) {
        void showDataFolderError(
          `Model Lens did not ${lowerFirst(args.title)}: ${result.refusal}. The model is unchanged.`,
        );
      } else if (result.refusal !== 'cancelled') {
        void vscode.window.showWarningMessage(
          `Model Lens cannot ${lowerFirst(args.title)}: ${result.refusal}`,
        );
      }
      return;
    }
    if (doc.version !== version) {
      void vscode.window.showWarningMessage(
        'Model Lens: the model changed while the fix was computed; nothing was applied. Try again.',
      );
      return;
    }
    const edit = new vscode.WorkspaceEdit();
    const end = doc.lineAt(doc.lineCount - 1).range.end;
    edit.replace(doc.uri, new vscode.Range(new vscode.Position(0, 0), end), result.text);
    if (!(await vscode.workspace.applyEdit(edit))) {
      void vscode.window.showErrorMessage(
        'Model Lens: VS Code did not apply the edit (is the view read-only?).',
      );
      return;
    }
    if (editor && result.line !== undefined) {
      // The fix may add lines (DequantizeLinear nodes): keep the cursor on the same layer.
      const at = new vscode.Position(result.line, 0);
      editor.selection = new vscode.Selection(at, at);
      editor.revealRange(
        new vscode.Range(at, at),
        vscode.TextEditorRevealType.InCenterIfOutsideViewport,
      );
    }
    const verification: VerifyFixResult = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: 'Model Lens: verifying in ONNX Runtime…',
      },
      () =>
        client.sendRequest(VerifyFixRequest, {
          uri: args.uri,
          before: result.before,
          after: result.after,
        }),
    );
    // The verification's lead sentence first, then its warning if any, then what the fix did
    // and how it chose the weights (on the data folder, or data-free and how to use data): a
    // long summary must not push the verdict out of the notification.
    const message = [
      `${capitalize(verification.line)}.`,
      ...(verification.warning ? [verification.warning] : []),
      `${args.title}: ${[...result.summary, ...(result.method ? [result.method] : [])].join('; ')}.`,
    ].join(' ');
    // The verification first, as in the notification: its markdown starts with the lead sentence.
    const report = [
      `# ${args.title}`,
      '',
      '## Verification',
      '',
      verification.markdown || verification.line,
      '',
      '## Changes',
      '',
      ...result.summary.map((s) => `- ${s}`),
      ...(result.method ? [`- ${capitalize(result.method)}`] : []),
      '',
      ...(result.notes && result.notes.length > 0
        ? ['## Notes', '', ...result.notes.map((n) => `- ${n}`), '']
        : []),
      '_Unsaved: save the model (Ctrl+S) to write it, or undo (Ctrl+Z) to return to the model before the fix._',
    ].join('\n');
    const show =
      verification.ok && !verification.warning
        ? vscode.window.showInformationMessage
        : vscode.window.showWarningMessage;
    const choice = await show(message, 'Show Full Report');
    if (choice) await showReport(report);
  };

  const measureSensitivity = async (): Promise<void> => {
    const editor = vscode.window.activeTextEditor;
    if (editor?.document.uri.scheme !== MODEL_SCHEME) {
      void vscode.window.showInformationMessage(
        'Model Lens: open an .onnx or .tflite model first.',
      );
      return;
    }
    const uri = editor.document.uri.toString();
    const result: MeasureSensitivityResult = await progress.run(
      'Model Lens: measuring layer sensitivity in ONNX Runtime',
      (progressId, token) =>
        client.sendRequest(MeasureSensitivityRequest, { uri, progressId }, token),
    );
    if (result.error) {
      if (result.error !== 'cancelled')
        void vscode.window.showWarningMessage(
          `Model Lens: sensitivity not measured: ${result.error}`,
        );
      return;
    }
    refreshGraph(editor.document.uri);
    const data =
      result.effectSamples !== undefined
        ? `, and their effect on ${result.effectSamples} samples of your data folder,`
        : '';
    void vscode.window.showInformationMessage(
      `Model Lens: measured the output sensitivity of ${result.layers} layers${data} in ${result.seconds.toFixed(1)} s. Hover a layer to see it.`,
    );
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('modelLens.applyFix', applyFix),
    vscode.commands.registerCommand('modelLens.measureSensitivity', measureSensitivity),
    // The server's one action on a model it can't rewrite (a .tflite): says why.
    vscode.commands.registerCommand('modelLens.explain', (message: string) => {
      void vscode.window.showInformationMessage(`Model Lens: ${message}`);
    }),
  );
}

/** A data folder that doesn't fit the model: an error, with the way to choose another. */
async function showDataFolderError(message: string): Promise<void> {
  const choose = 'Choose Data Folder…';
  const choice = await vscode.window.showErrorMessage(message, choose);
  if (choice === choose) await vscode.commands.executeCommand('modelLens.chooseDataFolder');
}

const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);
const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
