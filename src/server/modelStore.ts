/**
 * The models the server has open. Each file has one or more states: the model as read from disk,
 * and one per quick fix applied in the editor. A state is printed once and analysed again
 * whenever the settings change.
 *
 * States are found by their text. The editor only ever holds text: a quick fix replaces the text
 * view's whole text with the new state's, and undo/redo put an earlier text back. Looking the
 * state up by text is what makes undo restore the exact model (and a save write its exact
 * bytes), with VS Code's own undo stack, dirty marker and save.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayerSensitivity } from '../core/advisor/sensitivity';
import {
  analyzeLoaded,
  prefetchBitHints,
  type AnalysisReport,
  type AnalyzeOptions,
  type NodeReport,
} from '../core/analyze';
import {
  BUILTIN_DEVICES,
  findDevice,
  readDeviceProfiles,
  type DeviceProfile,
} from '../core/devices';
import { loadAnyModel } from '../core/modelFile';
import type { LoadedModel } from '../core/onnx/load';
import { encodeModelParts } from '../core/onnx/encode';
import type { Model } from '../core/onnx/types';
import { printModelView } from '../core/text/modelView';
import type { PrintedModel } from '../core/text/printer';
import type { AnalyzerSettings } from '../shared/protocol';
import { resolveInputShapes, rulesFromSetting, type InputShapeRule } from '../shared/inputShapes';

export interface OpenModel {
  readonly path: string;
  readonly text: string;
  /** Why the model could not be read; then there is no analysis. */
  readonly error?: string;
  readonly loaded?: LoadedModel;
  readonly printed?: PrintedModel;
  /** The quick fixes that made this state from the file as read (empty for the file itself). */
  readonly fixes: readonly string[];
  /** Identifies the state among its file's states (a digest of its text). */
  readonly key: string;
  report?: AnalysisReport;
  /** The settings the report was made with, so an unchanged model is not analysed twice. */
  analyzedWith?: AnalyzerSettings;
  /**
   * True while the report lacks the bit-width hints (a quick analysis, to show the first
   * diagnostics sooner: the hints read every weight); `analyze` without `quick` completes it.
   */
  hintsPending?: boolean;
  /** The input shapes the report used (Set Input Shape, `modelLens.inputShapes`), if any. */
  inputShapes?: Record<string, number[]>;
  /** The analysis problem (a device id not found, a cyclic graph …), if any. */
  problem?: string;
  /** The report's node on each text line. */
  nodesByLine: Map<number, NodeReport>;
  /** Line of each node label (as in diagnostics), for placing messages. */
  linesByNode: Map<string, number>;
  /** Output-level sensitivity per layer name, once measured (hover table, fit to device). */
  sensitivity?: Map<string, LayerSensitivity>;
  /** For a state read from disk: which file contents it is (the sensitivity cache's key). */
  readonly stamp?: string;
}

/** The states of one file: the one read from disk, and those quick fixes made since. */
interface ModelFile {
  disk: OpenModel;
  /** By key, least recently used first. */
  readonly states: Map<string, OpenModel>;
}

/**
 * States kept per file besides the one on disk. Each holds a whole model, so an undo further back
 * than this can't be saved (the save says so); VS Code's undo stack is usually much shorter.
 */
const MAX_STATES = 12;

/**
 * A state's key: a digest of its text, insensitive to what an editor may do to text on save
 * (line endings, trailing whitespace, a final newline).
 */
export function textKey(text: string): string {
  const normalized = text
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n+$/, '');
  return createHash('sha1').update(normalized).digest('hex');
}

/** Which contents of a file a state is: its path, size and mtime (undefined when unreadable). */
function stampOf(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    return `${file}\0${st.size}\0${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

export const DEFAULT_SETTINGS: AnalyzerSettings = {
  device: '',
  devices: [],
  errorTargetDb: 30,
  countBiasFlops: true,
  annotations: { macs: true, weights: true, activations: true, bits: true },
};

/** Measured sensitivity tables kept for files closed and opened again (ONNX Runtime is slow). */
const SENSITIVITY_CACHE_SIZE = 8;

export class ModelStore {
  private readonly files = new Map<string, ModelFile>();
  /** By file stamp (path, size, mtime): survives closing the file, not a change to it. */
  private readonly sensitivityByStamp = new Map<string, Map<string, LayerSensitivity>>();
  settings: AnalyzerSettings = DEFAULT_SETTINGS;
  /** The client's workspace folders, which `modelLens.inputShapes` globs are relative to. */
  workspaceFolders: string[] = [];
  private rulesOf?: { settings: AnalyzerSettings; rules: InputShapeRule[]; problems: string[] };

  /** The `modelLens.inputShapes` rules of the current settings, with any problems in them. */
  inputShapeRules(): { rules: InputShapeRule[]; problems: string[] } {
    if (this.rulesOf?.settings !== this.settings) {
      this.rulesOf = { settings: this.settings, ...rulesFromSetting(this.settings.inputShapes) };
    }
    return this.rulesOf;
  }

  /**
   * The input shapes a model is analysed with: Set Input Shape's for this file, over the setting's
   * globs; only inputs the model has. Undefined when none applies.
   */
  inputShapesFor(model: OpenModel): Record<string, number[]> | undefined {
    const shapes = resolveInputShapes(
      model.path,
      this.inputShapeRules().rules,
      this.settings.fileInputShapes,
      this.workspaceFolders,
    );
    if (!shapes || !model.loaded) return undefined;
    const names = new Set(model.loaded.model.graph.inputs.map((i) => i.name));
    const own = Object.entries(shapes).filter(([name]) => names.has(name));
    return own.length > 0 ? Object.fromEntries(own) : undefined;
  }

  /** The state on disk, loaded and printed once per path; a bad file gives an explanatory text. */
  open(file: string): OpenModel {
    return this.files.get(file)?.disk ?? this.load(file);
  }

  /**
   * Reads the file again (first open, a change on disk, a revert). States that quick fixes made
   * stay, so that undo still finds them.
   */
  load(file: string): OpenModel {
    let model: OpenModel;
    try {
      const loaded = loadAnyModel(file);
      const stamp = stampOf(file);
      model = { ...this.makeState(file, loaded, []), stamp };
      model.sensitivity = stamp === undefined ? undefined : this.sensitivityByStamp.get(stamp);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const text = `# Model Lens could not open ${path.basename(file)}\n# ${message.replace(/\n/g, ' ')}\n`;
      model = {
        path: file,
        text,
        error: message,
        fixes: [],
        key: textKey(text),
        nodesByLine: new Map(),
        linesByNode: new Map(),
        stamp: stampOf(file),
      };
    }
    const entry = this.files.get(file);
    if (entry) entry.disk = model;
    else this.files.set(file, { disk: model, states: new Map() });
    this.remember(file, model);
    return model;
  }

  /**
   * The state on disk, read again when the file changed since it was read (size or mtime), or
   * could not be read then: for a `file:` document in another editor, whose client doesn't tell
   * the server when the model changes on disk.
   */
  current(file: string): OpenModel {
    const disk = this.files.get(file)?.disk;
    if (disk?.stamp !== undefined && disk.stamp === stampOf(file)) return disk;
    return this.load(file);
  }

  /**
   * A new state of `file` from a compressed model made from `base`. The model is kept as the
   * engine returned it: its unchanged tensors are still the base's (views of the file as read,
   * their payloads read from it only when needed; lazyFile.ts), so a state holds only what the
   * fix changed. Encoding and decoding it again, as this did, held a whole copy of the model per
   * state (ten single-layer fixes of VGG-16: 5.6 GB). `fixes` lists every fix from the file as
   * read, this one last.
   */
  addState(file: string, base: LoadedModel, model: Model, fixes: readonly string[]): OpenModel {
    const loaded: LoadedModel = {
      path: base.path,
      // What a save would write: the parts' lengths, payloads not read.
      fileBytes: encodeModelParts(model).reduce((n, p) => n + p.length, 0),
      model,
      external: base.external,
    };
    const state = this.makeState(file, loaded, fixes);
    this.remember(file, state);
    return state;
  }

  /** The state whose text this is, or undefined (the text was edited by hand, or forgotten). */
  stateFor(file: string, text: string): OpenModel | undefined {
    return this.byKey(file, textKey(text));
  }

  byKey(file: string, key: string): OpenModel | undefined {
    const entry = this.files.get(file);
    const state = entry?.states.get(key);
    if (entry && state) {
      // Most recently used last.
      entry.states.delete(key);
      entry.states.set(key, state);
    }
    return state;
  }

  /** Remembers a state's measured sensitivity for when its file is opened again unchanged. */
  keepSensitivity(state: OpenModel): void {
    if (!state.stamp || !state.sensitivity) return;
    this.sensitivityByStamp.delete(state.stamp);
    this.sensitivityByStamp.set(state.stamp, state.sensitivity);
    for (const key of this.sensitivityByStamp.keys()) {
      if (this.sensitivityByStamp.size <= SENSITIVITY_CACHE_SIZE) break;
      this.sensitivityByStamp.delete(key);
    }
  }

  /** After a save: `state` is what the file now holds. */
  markSaved(file: string, state: OpenModel): void {
    const entry = this.files.get(file);
    if (entry) entry.disk = state;
  }

  get(file: string): OpenModel | undefined {
    return this.files.get(file)?.disk;
  }

  close(file: string): void {
    this.files.delete(file);
  }

  all(): OpenModel[] {
    return [...this.files.values()].flatMap((f) => [...f.states.values()]);
  }

  private makeState(file: string, loaded: LoadedModel, fixes: readonly string[]): OpenModel {
    const printed = printModelView(loaded);
    // The fixes go after the model, so that the printed layout's line numbers stay right.
    const text =
      fixes.length === 0
        ? printed.text
        : `${printed.text}\n# Quick fixes applied in this editor (Ctrl+Z undoes them; a save writes the model):\n${fixes.map((f, i) => `#   ${i + 1}. ${f.replace(/\n/g, ' ')}`).join('\n')}\n`;
    return {
      path: file,
      text,
      loaded,
      printed,
      fixes,
      key: textKey(text),
      nodesByLine: new Map(),
      linesByNode: new Map(),
    };
  }

  private remember(file: string, state: OpenModel): void {
    const entry = this.files.get(file);
    if (!entry) return;
    entry.states.delete(state.key);
    entry.states.set(state.key, state);
    for (const [key, old] of entry.states) {
      if (entry.states.size <= MAX_STATES + 1) break;
      if (old !== entry.disk) entry.states.delete(key);
    }
  }

  /** Device profiles from the built-ins and the user's settings, with any problems in them. */
  deviceProfiles(): { profiles: DeviceProfile[]; problems: string[] } {
    if (this.settings.devices.length === 0) return { profiles: [...BUILTIN_DEVICES], problems: [] };
    return readDeviceProfiles(JSON.stringify(this.settings.devices), 'modelLens.devices');
  }

  /**
   * Analyses a model with the current settings unless already done. Returns a problem, if any.
   * `quick`: without the bit-width hints when not analysed yet (`hintsPending` then says so); a
   * later call without it completes the report.
   */
  analyze(model: OpenModel, options: { quick?: boolean } = {}): string | undefined {
    const quick = options.quick === true;
    if (model.analyzedWith === this.settings && (quick || !model.hintsPending)) {
      return model.problem;
    }
    model.analyzedWith = this.settings;
    model.problem = this.runAnalysis(model, quick);
    return model.problem;
  }

  /**
   * Reads the weights of the pending bit-width hints ahead, several reads in flight and off this
   * thread (core prefetchBitHints), so that the `analyze` that completes them is quick and
   * requests are answered meanwhile.
   */
  async prefetchHints(model: OpenModel): Promise<void> {
    if (!model.loaded || !model.hintsPending) return;
    await prefetchBitHints(model.loaded, this.analyzeOptions(model, undefined));
  }

  private analyzeOptions(model: OpenModel, device: DeviceProfile | undefined): AnalyzeOptions {
    const inputShapes = this.inputShapesFor(model);
    return {
      inputShapes: inputShapes && new Map(Object.entries(inputShapes)),
      device,
      errorTargetDb: this.settings.errorTargetDb,
      countBiasFlops: this.settings.countBiasFlops,
      convention: this.settings.convention,
    };
  }

  private runAnalysis(model: OpenModel, quick: boolean): string | undefined {
    model.hintsPending = false;
    if (!model.loaded || !model.printed) return model.error;
    let device: DeviceProfile | undefined;
    let problem: string | undefined;
    if (this.settings.device) {
      try {
        device = findDevice(this.settings.device, this.deviceProfiles().profiles);
      } catch (e) {
        problem = (e as Error).message;
      }
    }
    model.inputShapes = this.inputShapesFor(model);
    try {
      model.report = analyzeLoaded(model.loaded, {
        ...this.analyzeOptions(model, device),
        skipBitHints: quick,
      });
      model.hintsPending = quick;
    } catch (e) {
      model.report = undefined;
      return (e as Error).message;
    }
    const nodeLines = model.printed.layout.nodeLines;
    model.nodesByLine = new Map(model.report.nodes.map((n) => [nodeLines[n.fileIndex], n]));
    model.linesByNode = new Map(model.report.nodes.map((n) => [n.name, nodeLines[n.fileIndex]]));
    return problem;
  }
}
