/** The only reader of `modelLens.*` settings: turns them into what the server analyses with. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AnalyzerSettings } from '../shared/protocol';
import { fileInputShapes } from './inputShapes';

export const SECTION = 'modelLens';

export function readSettings(): AnalyzerSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    device: c.get<string>('device', ''),
    // Untrusted workspaces: VS Code withholds workspace values of restricted settings (package.json).
    devices: c.get<unknown[]>('devices', []),
    errorTargetDb: c.get<number>('bitErrorTargetDb', 30),
    countBiasFlops: c.get<boolean>('countBiasFlops', true),
    convention: conventionSetting(c.get<string>('convention', 'model-lens')),
    annotations: {
      macs: c.get<boolean>('annotations.macs', true),
      weights: c.get<boolean>('annotations.weights', true),
      activations: c.get<boolean>('annotations.activations', true),
      bits: c.get<boolean>('annotations.bits', true),
    },
    inputShapes: c.get<unknown>('inputShapes', {}),
    // Set Input Shape's, per model file (workspace state): they win over the setting's globs.
    fileInputShapes: fileInputShapes(),
    dataFolder: c.get<string>('dataFolder', ''),
    dataFolders: dataFolders(),
  };
}

/**
 * `modelLens.dataFolder` as each workspace folder sees it: a resource setting, so each folder of
 * a multi-root window may name its own. The server picks the one of the folder holding a model.
 */
function dataFolders(): Record<string, string> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  return Object.fromEntries(
    folders.map((f) => [
      f.uri.fsPath,
      vscode.workspace.getConfiguration(SECTION, f.uri).get<string>('dataFolder', ''),
    ]),
  );
}

/**
 * Stores the chosen data folder in the settings of the workspace folder it serves (`folder`),
 * relative to that folder when inside it so the settings can be committed; with no workspace
 * folder, in the user settings, as an absolute path.
 */
export async function setDataFolder(
  chosen: vscode.Uri,
  folder: vscode.WorkspaceFolder | undefined,
): Promise<void> {
  const c = vscode.workspace.getConfiguration(SECTION, folder?.uri);
  if (!folder) {
    await c.update('dataFolder', chosen.fsPath, vscode.ConfigurationTarget.Global);
    return;
  }
  const relative = path.relative(folder.uri.fsPath, chosen.fsPath);
  const inside = !relative.startsWith('..') && !path.isAbsolute(relative);
  await c.update(
    'dataFolder',
    inside ? relative || '.' : chosen.fsPath,
    vscode.ConfigurationTarget.WorkspaceFolder,
  );
}

/** The `modelLens.convention` setting, ours for anything it does not name. */
function conventionSetting(value: string): AnalyzerSettings['convention'] {
  return value === 'st' || value === 'vela' ? value : 'model-lens';
}

/** Stores the chosen device where the user keeps it: workspace if set there, else user settings. */
export async function setDevice(id: string): Promise<void> {
  const c = vscode.workspace.getConfiguration(SECTION);
  const inspected = c.inspect<string>('device');
  const target =
    inspected?.workspaceValue !== undefined
      ? vscode.ConfigurationTarget.Workspace
      : vscode.ConfigurationTarget.Global;
  await c.update('device', id, target);
}
