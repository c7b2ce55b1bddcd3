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
  readonly annotations: {
    readonly macs: boolean;
    readonly weights: boolean;
    readonly activations: boolean;
    readonly bits: boolean;
  };
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
