/**
 * The analyzer server: a separate process that owns every model, so that a 500 MB model never
 * blocks the editor. It speaks LSP over IPC and serves the text view's annotations (inlay
 * hints), hovers, diagnostics, outline, folding and go-to-definition. All figures come from
 * src/core; this file only wires requests to the store and the presenters.
 */
import * as path from 'node:path';
import {
  DiagnosticSeverity,
  FoldingRange,
  ProposedFeatures,
  TextDocumentSyncKind,
  TextDocuments,
  createConnection,
  type Diagnostic,
  type InlayHint,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { CompressionRefusal } from '../core/compress/summary';
import { findDevice } from '../core/devices';
import { ModelLoadError, saveBlocker, saveModelFile } from '../core/onnx/load';
import { markdownReport } from '../core/text/markdownReport';
import { id as quotedId } from '../core/text/printer';
import {
  ApplyFixRequest,
  DevicesRequest,
  LayerFiguresRequest,
  MeasureSensitivityRequest,
  ModelStatusNotification,
  ModelTextRequest,
  PeakLineRequest,
  ProgressNotification,
  ReportRequest,
  SaveModelRequest,
  SettingsNotification,
  VerifyFixRequest,
  type AnalyzerSettings,
  type ApplyFixParams,
  type ApplyFixResult,
  type DevicesResult,
  type DocumentParams,
  type LineParams,
  type MeasureSensitivityParams,
  type MeasureSensitivityResult,
  type ModelStatus,
  type ModelTextParams,
  type ModelTextResult,
  type SaveModelParams,
  type SaveModelResult,
  type VerifyFixParams,
  type VerifyFixResult,
} from '../shared/protocol';
import { BUILTIN_DEVICES } from '../core/devices';
import { DEFAULT_SETTINGS, ModelStore, type OpenModel } from './modelStore';
import { registerGraphRequests } from './graphRequests';
import { annotationParts, layerMarkdown } from './presentation';
import { codeActionsFor, runFix, sensitivityOf, summaryLine } from './quickFixes';
import { verifyStates } from './verification';
import { documentSymbols } from './symbols';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const store = new ModelStore();

/** `onnx-model:/abs/path/model.onnx` → `/abs/path/model.onnx`. */
function pathOf(uri: string): string {
  return decodeURIComponent(new URL(uri).pathname);
}

/** Each document's state, found again only when its text changed (by version). */
const stateOfDocument = new Map<string, { version: number; state: OpenModel | undefined }>();

/**
 * The model state the document shows now: after a quick fix the new state, after undo the one
 * before. Undefined when the text was edited by hand (it then matches no model).
 */
function modelFor(uri: string): OpenModel | undefined {
  const doc = documents.get(uri);
  if (!doc) return store.get(pathOf(uri));
  const known = stateOfDocument.get(uri);
  if (known && known.version === doc.version) return known.state;
  const state = store.stateFor(pathOf(uri), doc.getText());
  stateOfDocument.set(uri, { version: doc.version, state });
  return state;
}

connection.onInitialize(() => ({
  capabilities: {
    textDocumentSync: TextDocumentSyncKind.Full,
    hoverProvider: true,
    inlayHintProvider: true,
    documentSymbolProvider: true,
    foldingRangeProvider: true,
    definitionProvider: true,
    codeActionProvider: { codeActionKinds: ['quickfix'] },
  },
}));

connection.onRequest(ModelTextRequest, (params: ModelTextParams): ModelTextResult => {
  // A reload (e.g. after the file changed on disk) starts from the file again; the states that
  // quick fixes made stay, so that undo still finds them.
  const model = store.load(params.path);
  for (const [uri, known] of stateOfDocument) if (pathOf(uri) === params.path) known.version = -1;
  // Analyse now, so that the client's progress notification covers it and opening is instant.
  store.analyze(model);
  return { text: model.text, error: model.error };
});

connection.onNotification(SettingsNotification, (settings: AnalyzerSettings) => {
  store.settings = { ...DEFAULT_SETTINGS, ...settings };
  const { problems } = store.deviceProfiles();
  if (problems.length > 0) {
    void connection.window.showWarningMessage(`Model Lens device profiles: ${problems.join('; ')}`);
  }
  for (const doc of documents.all()) analyzeAndPublish(doc.uri);
  void connection.languages.inlayHint.refresh();
});

// Fires on open and when the text view is refreshed from disk.
documents.onDidChangeContent((e) => analyzeAndPublish(e.document.uri));
documents.onDidClose((e) => {
  store.close(pathOf(e.document.uri));
  stateOfDocument.delete(e.document.uri);
  void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
});

const SEVERITY = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
} as const;

/** Shown when the text matches no model state: it was edited by hand. */
const HAND_EDITED =
  'This text no longer describes a model: hand edits are not applied to the model, and it cannot be saved. Undo them (Ctrl+Z) or use File: Revert File. Quick fixes (Ctrl+.) change the model.';

function analyzeAndPublish(uri: string): void {
  const model = modelFor(uri);
  const doc = documents.get(uri);
  if (!model) {
    const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
    void connection.sendDiagnostics({
      uri,
      diagnostics: [
        { range, severity: DiagnosticSeverity.Error, source: 'Model Lens', message: HAND_EDITED },
      ],
    });
    void connection.sendNotification(ModelStatusNotification, { uri, error: HAND_EDITED });
    return;
  }
  const problem = store.analyze(model);
  const lineEnd = (line: number): number =>
    doc
      ? doc
          .getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } })
          .replace(/\r?\n$/, '').length
      : 200;
  const graphLine = model.printed?.layout.graphLine ?? 0;
  const at = (line: number, severity: DiagnosticSeverity, message: string): Diagnostic => ({
    range: { start: { line, character: 0 }, end: { line, character: lineEnd(line) } },
    severity,
    source: 'Model Lens',
    message,
  });
  const diagnostics: Diagnostic[] = [];
  if (model.error) diagnostics.push(at(1, DiagnosticSeverity.Error, model.error));
  else if (problem) diagnostics.push(at(graphLine, DiagnosticSeverity.Error, problem));
  for (const d of model.report?.diagnostics ?? []) {
    const line = (d.node !== undefined ? model.linesByNode.get(d.node) : undefined) ?? graphLine;
    diagnostics.push(at(line, SEVERITY[d.severity], d.message));
  }
  void connection.sendDiagnostics({ uri, diagnostics });
  const device = model.report?.device;
  const status: ModelStatus = {
    uri,
    error: model.error ?? problem,
    device: device && {
      id: device.id,
      name: device.name,
      fits: device.fits,
      weightUse: device.weightUse,
      ramUse: device.ramUse,
    },
  };
  void connection.sendNotification(ModelStatusNotification, status);
}

connection.languages.inlayHint.on((params): InlayHint[] => {
  const model = modelFor(params.textDocument.uri);
  const doc = documents.get(params.textDocument.uri);
  if (!model?.report || !doc) return [];
  const hints: InlayHint[] = [];
  for (let line = params.range.start.line; line <= params.range.end.line; line++) {
    const node = model.nodesByLine.get(line);
    if (!node) continue;
    const parts = annotationParts(node, store.settings.annotations);
    if (parts.length === 0) continue;
    const text = doc.getText({
      start: { line, character: 0 },
      end: { line: line + 1, character: 0 },
    });
    const character = annotationColumn(text, node);
    parts.forEach((part, i) =>
      hints.push({
        position: { line, character },
        label: part.label,
        tooltip: part.tooltip,
        paddingLeft: true,
        paddingRight: i === parts.length - 1,
      }),
    );
  }
  return hints;
});

/**
 * Right after the op name (`… = Conv▸ <attrs> (inputs)`): layer lines are long, and the end of
 * the line is usually off screen.
 */
function annotationColumn(lineText: string, node: { op: string; domain: string }): number {
  const op = node.domain && node.domain !== 'ai.onnx' ? `${node.domain}.${node.op}` : node.op;
  const at = lineText.indexOf(` = ${op}`);
  return at >= 0 ? at + 3 + op.length : lineText.replace(/\r?\n$/, '').length;
}

connection.onHover((params) => {
  const model = modelFor(params.textDocument.uri);
  const node = model?.nodesByLine.get(params.position.line);
  if (!model?.report || !node) return null;
  const markdown = layerMarkdown(node, model.report, model.sensitivity?.get(node.name));
  return { contents: { kind: 'markdown', value: markdown } };
});

connection.onDocumentSymbol((params) => {
  const model = modelFor(params.textDocument.uri);
  const doc = documents.get(params.textDocument.uri);
  if (!model || !doc) return [];
  const lines = doc.getText().split('\n');
  return documentSymbols(model, (line) => lines[line]?.length ?? 0);
});

connection.onFoldingRanges((params) => {
  const blocks = modelFor(params.textDocument.uri)?.printed?.layout.blocks ?? [];
  return blocks.map((b) => FoldingRange.create(b.start, b.end));
});

connection.onDefinition((params) => {
  const model = modelFor(params.textDocument.uri);
  const doc = documents.get(params.textDocument.uri);
  if (!model?.printed || !doc) return null;
  const line = doc.getText({
    start: { line: params.position.line, character: 0 },
    end: { line: params.position.line + 1, character: 0 },
  });
  const name = nameAt(line, params.position.character);
  const target = name === undefined ? undefined : model.printed.layout.definitions.get(name);
  if (target === undefined) return null;
  const targetText = doc.getText({
    start: { line: target, character: 0 },
    end: { line: target + 1, character: 0 },
  });
  const column = Math.max(0, targetText.indexOf(quotedId(name!)));
  return {
    uri: params.textDocument.uri,
    range: {
      start: { line: target, character: column },
      end: { line: target, character: column + quotedId(name!).length },
    },
  };
});

/** The tensor name under the cursor: a quoted name or a plain identifier. */
function nameAt(line: string, character: number): string | undefined {
  const pattern = /"((?:[^"\\]|\\.)*)"|[A-Za-z_][A-Za-z0-9_]*/g;
  for (let m = pattern.exec(line); m; m = pattern.exec(line)) {
    if (character >= m.index && character <= m.index + m[0].length) {
      return m[1] !== undefined
        ? m[1].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
        : m[0];
    }
  }
  return undefined;
}

connection.onRequest(DevicesRequest, (): DevicesResult => {
  const { profiles, problems } = store.deviceProfiles();
  const builtin = new Map(BUILTIN_DEVICES.map((d) => [d.id, d]));
  return {
    problems,
    devices: profiles.map((d) => ({
      id: d.id,
      name: d.name,
      ramBytes: d.ramBytes,
      flashBytes: d.flashBytes,
      user: builtin.get(d.id) !== d,
    })),
  };
});

connection.onRequest(ReportRequest, (params: DocumentParams): string | null => {
  const model = modelFor(params.uri);
  return model?.report ? markdownReport(model.report, model.path) : null;
});

connection.onRequest(LayerFiguresRequest, (params: LineParams): string | null => {
  const model = modelFor(params.uri);
  const node = model?.nodesByLine.get(params.line);
  return model?.report && node
    ? layerMarkdown(node, model.report, model.sensitivity?.get(node.name))
    : null;
});

connection.onRequest(PeakLineRequest, (params: DocumentParams): number | null => {
  const model = modelFor(params.uri);
  const peak = model?.report?.memory.peakNode;
  return peak ? (model!.linesByNode.get(peak) ?? null) : null;
});

// --- Quick fixes, save, verification, sensitivity ---------------------------------------------

connection.onCodeAction((params) => {
  const uri = params.textDocument.uri;
  const model = modelFor(uri);
  if (!model?.report) return [];
  store.analyze(model);
  const node = model.nodesByLine.get(params.range.start.line);
  return codeActionsFor(model, node, {
    uri,
    saveBlocker: saveBlocker(model.path),
    diagnostics: params.context.diagnostics,
  });
});

/** An AbortSignal that follows an LSP cancellation token. */
function signalOf(token: { onCancellationRequested: (f: () => void) => unknown }): AbortSignal {
  const controller = new AbortController();
  token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

function progressTo(progressId: string | undefined) {
  return (message: string, fraction: number): void => {
    if (progressId)
      void connection.sendNotification(ProgressNotification, { progressId, message, fraction });
  };
}

function selectedDevice() {
  if (!store.settings.device) return undefined;
  try {
    return findDevice(store.settings.device, store.deviceProfiles().profiles);
  } catch {
    return undefined;
  }
}

function isCancellation(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

connection.onRequest(
  ApplyFixRequest,
  async (params: ApplyFixParams, token): Promise<ApplyFixResult> => {
    const state = modelFor(params.uri);
    if (!state) return { refusal: HAND_EDITED };
    const blocked = saveBlocker(state.path);
    if (blocked) return { refusal: blocked };
    store.analyze(state);
    try {
      const outcome = await runFix(state, params.fix, {
        device: selectedDevice(),
        progress: progressTo(params.progressId),
        signal: signalOf(token),
        measured: (s) => store.keepSensitivity(s),
      });
      const next = store.addState(state.path, outcome.model, [...state.fixes, outcome.description]);
      const layer =
        params.line === undefined ? undefined : state.nodesByLine.get(params.line)?.name;
      const index = next.loaded?.model.graph.nodes.findIndex((n) => n.name === layer) ?? -1;
      return {
        line: index >= 0 ? next.printed?.layout.nodeLines[index] : undefined,
        text: next.text,
        before: state.key,
        after: next.key,
        summary: outcome.summaries.map((s) => `${s.operation}: ${summaryLine(s)}`),
      };
    } catch (e) {
      if (e instanceof CompressionRefusal) return { refusal: e.message };
      if (isCancellation(e)) return { refusal: 'cancelled' };
      throw e;
    }
  },
);

connection.onRequest(
  VerifyFixRequest,
  async (params: VerifyFixParams): Promise<VerifyFixResult> => {
    const file = pathOf(params.uri);
    const before = store.byKey(file, params.before);
    const after = store.byKey(file, params.after);
    if (!before?.loaded || !after?.loaded) {
      return {
        ok: false,
        line: 'not verified: the model states are no longer in memory',
        markdown: '',
      };
    }
    return verifyStates(before.loaded, after.loaded);
  },
);

connection.onRequest(SaveModelRequest, (params: SaveModelParams): SaveModelResult => {
  const state = store.stateFor(params.path, params.text);
  const name = path.basename(params.path);
  if (!state) {
    return {
      error: `the text of ${name} was edited by hand or is from an earlier session, so it matches no model Model Lens holds; undo the hand edits or revert the file`,
    };
  }
  if (!state.loaded) return { error: `${name} could not be read, so there is nothing to save` };
  const blocked = saveBlocker(params.path);
  if (blocked) return { error: blocked, readOnly: true };
  try {
    saveModelFile(state.loaded.model, params.path);
  } catch (e) {
    if (e instanceof ModelLoadError) return { error: e.message, readOnly: true };
    return { error: `${name}: ${(e as Error).message}` };
  }
  store.markSaved(params.path, state);
  return {};
});

connection.onRequest(
  MeasureSensitivityRequest,
  async (params: MeasureSensitivityParams, token): Promise<MeasureSensitivityResult> => {
    const state = modelFor(params.uri);
    if (!state) return { layers: 0, seconds: 0, error: HAND_EDITED };
    const started = performance.now();
    try {
      const table = await sensitivityOf(state, {
        progress: progressTo(params.progressId),
        signal: signalOf(token),
        measured: (s) => store.keepSensitivity(s),
      });
      return { layers: table.size, seconds: (performance.now() - started) / 1000 };
    } catch (e) {
      if (isCancellation(e)) return { layers: 0, seconds: 0, error: 'cancelled' };
      return { layers: 0, seconds: 0, error: (e as Error).message };
    }
  },
);

registerGraphRequests(connection, modelFor);
documents.listen(connection);
connection.listen();
