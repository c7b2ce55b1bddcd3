/**
 * The one entry point every surface calls (CLI, language server, webview data, benchmarks):
 * load → graph → shapes → costs → memory plan → bit-width hints → device fit.
 */
import { loadModelFile, parseModelBytes, type LoadedModel } from './onnx/load';

export interface AnalyzeOptions {
  /** Fixed dims for graph inputs (the CLI's --input NAME=DIMS). */
  readonly inputShapes?: ReadonlyMap<string, readonly number[]>;
}

export interface AnalysisReport {
  readonly model: { path: string; irVersion: number; opset: number; producer: string };
}

export function analyzeLoaded(_loaded: LoadedModel, _options: AnalyzeOptions = {}): AnalysisReport {
  throw new Error('not implemented yet');
}

export function analyzeFile(file: string, options: AnalyzeOptions = {}): AnalysisReport {
  return analyzeLoaded(loadModelFile(file), options);
}

export function analyzeBytes(bytes: Uint8Array, options: AnalyzeOptions = {}): AnalysisReport {
  return analyzeLoaded(parseModelBytes(bytes), options);
}
