/**
 * The models the server has open: loaded once from disk, printed once, analysed again whenever
 * the settings change. Keyed by file path; the text view's URI maps to it.
 */
import * as path from 'node:path';
import { analyzeLoaded, type AnalysisReport, type NodeReport } from '../core/analyze';
import {
  BUILTIN_DEVICES,
  findDevice,
  readDeviceProfiles,
  type DeviceProfile,
} from '../core/devices';
import { loadModelFile, type LoadedModel } from '../core/onnx/load';
import { printModel, type PrintedModel } from '../core/text/printer';
import { summarizeTensor } from '../core/text/summary';
import type { AnalyzerSettings } from '../shared/protocol';

export interface OpenModel {
  readonly path: string;
  readonly text: string;
  /** Why the model could not be read; then there is no analysis. */
  readonly error?: string;
  readonly loaded?: LoadedModel;
  readonly printed?: PrintedModel;
  report?: AnalysisReport;
  /** The settings the report was made with, so an unchanged model is not analysed twice. */
  analyzedWith?: AnalyzerSettings;
  /** The analysis problem (a device id not found, a cyclic graph …), if any. */
  problem?: string;
  /** The report's node on each text line. */
  nodesByLine: Map<number, NodeReport>;
  /** Line of each node label (as in diagnostics), for placing messages. */
  linesByNode: Map<string, number>;
}

export const DEFAULT_SETTINGS: AnalyzerSettings = {
  device: '',
  devices: [],
  errorTargetDb: 30,
  countBiasFlops: true,
  annotations: { macs: true, weights: true, activations: true, bits: true },
};

export class ModelStore {
  private readonly models = new Map<string, OpenModel>();
  settings: AnalyzerSettings = DEFAULT_SETTINGS;

  /** Loads and prints a model (once per path); a bad file gives an explanatory text instead. */
  open(file: string): OpenModel {
    const existing = this.models.get(file);
    if (existing) return existing;
    let model: OpenModel;
    try {
      const loaded = loadModelFile(file);
      const printed = printModel(loaded.model, (t) => summarizeTensor(t, loaded.external));
      model = {
        path: file,
        text: printed.text,
        loaded,
        printed,
        nodesByLine: new Map(),
        linesByNode: new Map(),
      };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const text = `# Model Lens could not open ${path.basename(file)}\n# ${message.replace(/\n/g, ' ')}\n`;
      model = { path: file, text, error: message, nodesByLine: new Map(), linesByNode: new Map() };
    }
    this.models.set(file, model);
    return model;
  }

  get(file: string): OpenModel | undefined {
    return this.models.get(file);
  }

  close(file: string): void {
    this.models.delete(file);
  }

  all(): OpenModel[] {
    return [...this.models.values()];
  }

  /** Device profiles from the built-ins and the user's settings, with any problems in them. */
  deviceProfiles(): { profiles: DeviceProfile[]; problems: string[] } {
    if (this.settings.devices.length === 0) return { profiles: [...BUILTIN_DEVICES], problems: [] };
    return readDeviceProfiles(JSON.stringify(this.settings.devices), 'modelLens.devices');
  }

  /** Analyses a model with the current settings unless already done. Returns a problem, if any. */
  analyze(model: OpenModel): string | undefined {
    if (model.analyzedWith === this.settings) return model.problem;
    model.analyzedWith = this.settings;
    model.problem = this.runAnalysis(model);
    return model.problem;
  }

  private runAnalysis(model: OpenModel): string | undefined {
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
    try {
      model.report = analyzeLoaded(model.loaded, {
        device,
        errorTargetDb: this.settings.errorTargetDb,
        countBiasFlops: this.settings.countBiasFlops,
      });
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
