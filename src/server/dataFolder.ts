/**
 * `modelLens.dataFolder`: the folder of samples (tensor files or images, as `--samples DIR`)
 * that the verification after a quick fix runs on, instead of seeded random inputs. The setting
 * is per workspace folder; a relative path (or `${workspaceFolder}`) is relative to the
 * workspace folder holding the model, and with none to the model's own folder.
 */
import * as path from 'node:path';
import type { LoadedModel } from '../core/onnx/load';
import { inputsDirNotes, inputSpecs } from '../core/verify';
import type { AnalyzerSettings } from '../shared/protocol';

/** The absolute data folder for `modelPath`, or undefined when none is set for it. */
export function dataFolderFor(
  modelPath: string,
  settings: Pick<AnalyzerSettings, 'dataFolder' | 'dataFolders'>,
  workspaceFolders: readonly string[],
): string | undefined {
  const folders = [...new Set([...Object.keys(settings.dataFolders ?? {}), ...workspaceFolders])];
  // The innermost workspace folder holding the model (folders may nest in a multi-root window).
  const home = folders
    .filter((f) => {
      const rel = path.relative(f, modelPath);
      return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
    })
    .sort((a, b) => b.length - a.length)[0];
  // A folder's own value wins, an empty one included: that is how a folder turns it off.
  const value =
    (home !== undefined ? settings.dataFolders?.[home] : undefined) ?? settings.dataFolder;
  if (!value?.trim()) return undefined;
  const base = home ?? path.dirname(modelPath);
  return path.resolve(base, value.trim().replace(/\$\{workspaceFolder\}/g, base));
}

/**
 * What reading the folder assumed for this model (an image folder without a full
 * preprocess.json), for the full report; a folder that can't be read says so in the
 * verification itself, so here it gives no note.
 */
export function dataFolderNotes(
  loaded: LoadedModel,
  folder: string,
  inputShapes?: ReadonlyMap<string, readonly number[]>,
): string[] {
  try {
    return inputsDirNotes(folder, inputSpecs(loaded, inputShapes));
  } catch {
    return [];
  }
}
