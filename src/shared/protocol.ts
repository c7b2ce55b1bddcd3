/**
 * The messages between the extension (client) and the analyzer server, beyond standard LSP.
 * Both sides import this file, so a method name or a field exists in exactly one place.
 */

/** URI scheme of the text view of a model: `onnx-model:/abs/path/model.onnx`. */
export const MODEL_SCHEME = 'onnx-model';
/** Language id of the text view (highlighted by syntaxes/onnx.tmLanguage.json). */
export const LANGUAGE_ID = 'onnx-text';

/** Settings the server analyses with; config.ts is their only reader on the client. */
export interface AnalyzerSettings {
  readonly device: string;
  /** User device profiles, as in the `modelLens.devices` setting. */
  readonly devices: unknown[];
  readonly errorTargetDb: number;
  readonly countBiasFlops: boolean;
  /**
   * `modelLens.convention`: count MACs and bytes as ST Edge AI Core (`st`) or Arm Vela (`vela`)
   * report them (core/cost/conventions.ts); ours (`model-lens`) when absent.
   */
  readonly convention?: 'model-lens' | 'st' | 'vela';
  readonly annotations: {
    readonly macs: boolean;
    readonly weights: boolean;
    readonly activations: boolean;
    readonly bits: boolean;
  };
  /** The `modelLens.inputShapes` setting as written (glob rules; see inputShapes.ts). */
  readonly inputShapes?: unknown;
  /** Input shapes set with Set Input Shape, by model file path; they win over the globs. */
  readonly fileInputShapes?: Readonly<Record<string, Record<string, number[]>>>;
  /**
   * `modelLens.dataFolder` as written, outside any workspace folder (and from editors other than
   * VS Code): the samples a quick fix is verified on (src/server/dataFolder.ts resolves it).
   */
  readonly dataFolder?: string;
  /** The same setting as each workspace folder sees it (it is resource-scoped), by folder path. */
  readonly dataFolders?: Readonly<Record<string, string>>;
}

/** Client → server, on start and on every change of a `modelLens.*` setting. */
export const SettingsNotification = 'modelLens/settings';

/** Client → server: the text of a model file, printed by the server (which owns models). */
export const ModelTextRequest = 'modelLens/modelText';
export interface ModelTextParams {
  readonly path: string;
}
export interface ModelTextResult {
  readonly text: string;
  /** Set when the model could not be read; the text then explains it. */
  readonly error?: string;
}

/** Server → client after each analysis: what the status bar shows. */
export const ModelStatusNotification = 'modelLens/status';
export interface ModelStatus {
  readonly uri: string;
  readonly error?: string;
  readonly device?: {
    readonly id: string;
    readonly name: string;
    readonly fits: boolean;
    readonly weightUse: number;
    readonly ramUse: number;
  };
  /** Symbolic input dimensions the figures count as 1 (no input shape set for them). */
  readonly symbolicDims?: string[];
  /** Input shapes the figures use, when set (Set Input Shape or `modelLens.inputShapes`). */
  readonly inputShapes?: Record<string, number[]>;
}

/** Client → server: a model's inputs, for Set Input Shape. */
export const InputShapesRequest = 'modelLens/inputShapes';
export interface InputShapesResult {
  /** The model file. */
  readonly path: string;
  readonly inputs: {
    readonly name: string;
    /** As declared in the model: numbers, symbolic names, '' when unnamed; null when unknown. */
    readonly declared: (number | string)[] | null;
    /** The shape the analysis uses now, when one is set. */
    readonly set?: number[];
  }[];
  /** Symbolic input dimensions still counted as 1. */
  readonly symbolicDims: string[];
}

/** Client → server: device profiles for the picker (built-ins plus the user's). */
export const DevicesRequest = 'modelLens/devices';
export interface DeviceChoice {
  readonly id: string;
  readonly name: string;
  readonly ramBytes: number;
  readonly flashBytes: number;
  readonly user: boolean;
}
export interface DevicesResult {
  readonly devices: DeviceChoice[];
  readonly problems: string[];
}

/** Client → server: the markdown report of a model. */
export const ReportRequest = 'modelLens/report';
/** Client → server: the figures of the layer on a line, as markdown, or null. */
export const LayerFiguresRequest = 'modelLens/layerFigures';
/** Client → server: the line of the node where activation memory peaks, or null. */
export const PeakLineRequest = 'modelLens/peakLine';
export interface DocumentParams {
  readonly uri: string;
}
export interface LineParams {
  readonly uri: string;
  readonly line: number;
}

/**
 * Client → server when VS Code saves the text view: write the model this text shows to `path`
 * (atomically). The server keeps every model state a quick fix made, keyed by its text, so undo
 * and redo (which only change the text) save the exact bytes of that state.
 */
export const SaveModelRequest = 'modelLens/saveModel';
export interface SaveModelParams {
  readonly path: string;
  readonly text: string;
}
export interface SaveModelResult {
  /** Why nothing was written (the file is unchanged). */
  readonly error?: string;
  /** The error is about permissions (a read-only file or file system). */
  readonly readOnly?: boolean;
}

/** A compression a quick fix applies; `layers` are node names as the report gives them. */
export type Fix =
  | { readonly kind: 'quantize'; readonly layers?: string[]; readonly bits: number | 'suggested' }
  | {
      readonly kind: 'prune';
      readonly layers?: string[];
      /** Unstructured: the fraction of weights set to zero. */
      readonly sparsity?: number;
      /** Semi-structured instead: keep n of every m consecutive inputs (2:4). */
      readonly nm?: { readonly n: number; readonly m: number };
    }
  | { readonly kind: 'removeFilters'; readonly layers: string[]; readonly fraction?: number }
  | { readonly kind: 'foldBatchNorm'; readonly layers?: string[] }
  | { readonly kind: 'factorize'; readonly layer: string; readonly rank: number }
  | { readonly kind: 'fitToDevice' };

/** What one sparsity of the prune quick pick is predicted to do (measured effects known). */
export interface PruneForecast {
  readonly sparsity: number;
  /** e.g. "predicted KL 1.5e-3, accuracy −0.3 pt, top-1 agreement ≥ 99.0% (per-layer plan)". */
  readonly detail: string;
}

/** The arguments of the client command `modelLens.applyFix`, as code actions carry them. */
export interface ApplyFixArgs {
  readonly uri: string;
  readonly fix: Fix;
  /** Short description for progress and messages, e.g. "Quantize conv1 to int8". */
  readonly title: string;
  /** A prune fix's quick pick: the prediction per sparsity, when effects were measured. */
  readonly forecast?: readonly PruneForecast[];
}

/** Client → server: compute a fix on the model the document shows now. */
export const ApplyFixRequest = 'modelLens/applyFix';
export interface ApplyFixParams {
  readonly uri: string;
  readonly fix: Fix;
  /** For progress notifications (ProgressNotification). */
  readonly progressId?: string;
  /** The cursor's line: the result says where that layer is in the new text. */
  readonly line?: number;
}
export type ApplyFixResult =
  | {
      /** The text of the new model state; the client replaces the document's text with it. */
      readonly text: string;
      /** Identifies the states before and after, for VerifyFixRequest. */
      readonly before: string;
      readonly after: string;
      /** One line per engine step: what changed, in figures. */
      readonly summary: string[];
      /** The engine's notes (layers skipped, storage, pattern checks), for the full report. */
      readonly notes?: string[];
      /**
       * How the weights were chosen, for the notification: "rounded by GPTQ on 128 calibration
       * samples of val (verified on the other 872)", or "pruned by magnitude (no data folder: …)".
       */
      readonly method?: string;
      /** The line of the cursor's layer in the new text, to keep the cursor on it. */
      readonly line?: number;
    }
  | {
      readonly refusal: string;
      /**
       * The data folder, when it is why: its samples don't fit the model or can't be read (the
       * refusal names the file). Nothing was changed.
       */
      readonly dataFolder?: string;
    };

/** Client → server: run both states in ONNX Runtime and compare their outputs. */
export const VerifyFixRequest = 'modelLens/verifyFix';
export interface VerifyFixParams {
  readonly uri: string;
  readonly before: string;
  readonly after: string;
}
export interface VerifyFixResult {
  /** One line: SQNR, top-1 agreement and the inputs, or why verification was skipped. */
  readonly line: string;
  /** The full verification report, as markdown. */
  readonly markdown: string;
  /** False when ONNX Runtime could not run a model (the line says why). */
  readonly ok: boolean;
  /**
   * "Warning: … Undo (Ctrl+Z) or choose a milder setting." when the fixed model no longer behaves
   * like the original (top-1 agreement or labelled accuracy fell past the verifier's thresholds).
   */
  readonly warning?: string;
}

/** Client → server: measure output-level sensitivity of every quantizable layer. */
export const MeasureSensitivityRequest = 'modelLens/measureSensitivity';
export interface MeasureSensitivityParams {
  readonly uri: string;
  readonly progressId?: string;
}
export interface MeasureSensitivityResult {
  readonly layers: number;
  readonly seconds: number;
  readonly error?: string;
  /** With `modelLens.dataFolder`: the effects were measured on this many of its samples too. */
  readonly effectSamples?: number;
}

/** Server → client: progress of a long request that carried a `progressId`. */
export const ProgressNotification = 'modelLens/progress';
export interface ProgressParams {
  readonly progressId: string;
  readonly message: string;
  /** 0..1 of the whole job. */
  readonly fraction: number;
}
