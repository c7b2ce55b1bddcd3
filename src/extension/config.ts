/** The only reader of `modelLens.*` settings: turns them into what the server analyses with. */
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
  };
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
