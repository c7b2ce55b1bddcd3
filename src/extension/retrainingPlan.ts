/**
 * Model Lens: Export Retraining Plan. The plan (src/core/compress/retrainingPlan.ts) is read
 * from the model file itself, so it describes what the compressed model IS relative to float:
 * a view with unsaved quick fixes is saved first (the plan must describe a file you have), then
 * the plan and its PyTorch script (planScript.ts) are written where the save dialog says.
 * Filters removed by Model Lens (the quick fix, the CLI's --structured) are recorded in the model
 * itself (compress/removedFilters.ts), so they are listed after any number of saves. For a view
 * with unsaved fixes the file as it was before that save is also given as the original, which
 * catches filters some other tool removed in those states; on a clean view there is nothing to
 * compare with.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writePlanFiles } from '../core/compress/planScript';
import { retrainingPlan } from '../core/compress/retrainingPlan';
import { loadModelFile } from '../core/onnx/load';
import type { Model } from '../core/onnx/types';
import { MODEL_SCHEME } from '../shared/protocol';

export async function exportRetrainingPlan(uri: vscode.Uri): Promise<void> {
  const file = uri.path;
  const document = vscode.workspace.textDocuments.find(
    (d) => d.uri.scheme === MODEL_SCHEME && d.uri.path === file,
  );
  let original: Model | undefined;
  if (document?.isDirty) {
    const save = 'Save and Export';
    const choice = await vscode.window.showWarningMessage(
      `${path.basename(file)} has unsaved changes; the plan describes the model as saved.`,
      { modal: true },
      save,
    );
    if (choice !== save) return;
    try {
      original = loadModelFile(file).model;
    } catch {
      // A file that can't be read now is compared with nothing.
    }
    if (!(await document.save())) return;
  }
  const target = await vscode.window.showSaveDialog({
    title: 'Model Lens: export retraining plan (a PyTorch script is written next to it)',
    defaultUri: vscode.Uri.file(
      path.join(path.dirname(file), `${path.basename(file, path.extname(file))}.plan.json`),
    ),
    filters: { 'Retraining plan': ['json'] },
  });
  if (!target) return;
  try {
    const script = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Model Lens: reading ${path.basename(file)}…`,
      },
      async () => {
        const loaded = loadModelFile(file);
        const plan = retrainingPlan(loaded.model, loaded.external, original);
        return writePlanFiles(plan, target.fsPath);
      },
    );
    const open = 'Open Script';
    const choice = await vscode.window.showInformationMessage(
      `Model Lens: wrote ${path.basename(target.fsPath)} and ${path.basename(script)}.`,
      open,
    );
    if (choice === open) await vscode.window.showTextDocument(vscode.Uri.file(script));
  } catch (e) {
    void vscode.window.showErrorMessage(
      `Model Lens could not export the retraining plan: ${(e as Error).message}`,
    );
  }
}
