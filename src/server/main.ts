/**
 * The analyzer server: a separate process that owns every model, so that a 500 MB model never
 * blocks the editor. It speaks LSP over IPC and serves the text view's annotations (inlay
 * hints), hovers, diagnostics, outline, folding and go-to-definition. All figures come from
 * src/core; this file only wires requests to the store and the presenters.
 */
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
import { markdownReport } from '../core/text/markdownReport';
import { id as quotedId } from '../core/text/printer';
import {
  DevicesRequest,
  LayerFiguresRequest,
  ModelStatusNotification,
  ModelTextRequest,
  PeakLineRequest,
  ReportRequest,
  SettingsNotification,
  type AnalyzerSettings,
  type DevicesResult,
  type DocumentParams,
  type LineParams,
  type ModelStatus,
  type ModelTextParams,
  type ModelTextResult,
} from '../shared/protocol';
import { BUILTIN_DEVICES } from '../core/devices';
import { DEFAULT_SETTINGS, ModelStore, type OpenModel } from './modelStore';
import { annotationParts, layerMarkdown } from './presentation';
import { documentSymbols } from './symbols';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const store = new ModelStore();

/** `onnx-model:/abs/path/model.onnx` → `/abs/path/model.onnx`. */
function pathOf(uri: string): string {
  return decodeURIComponent(new URL(uri).pathname);
}

function modelFor(uri: string): OpenModel | undefined {
  return store.get(pathOf(uri));
}

connection.onInitialize(() => ({
  capabilities: {
    textDocumentSync: TextDocumentSyncKind.Full,
    hoverProvider: true,
    inlayHintProvider: true,
    documentSymbolProvider: true,
    foldingRangeProvider: true,
    definitionProvider: true,
  },
}));

connection.onRequest(ModelTextRequest, (params: ModelTextParams): ModelTextResult => {
  // A reload (e.g. after the file changed on disk) starts from the file again.
  store.close(params.path);
  const model = store.open(params.path);
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
  void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
});

const SEVERITY = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
} as const;

function analyzeAndPublish(uri: string): void {
  const model = store.open(pathOf(uri));
  const problem = store.analyze(model);
  const doc = documents.get(uri);
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
  return { contents: { kind: 'markdown', value: layerMarkdown(node, model.report) } };
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
  return model?.report && node ? layerMarkdown(node, model.report) : null;
});

connection.onRequest(PeakLineRequest, (params: DocumentParams): number | null => {
  const model = modelFor(params.uri);
  const peak = model?.report?.memory.peakNode;
  return peak ? (model!.linesByNode.get(peak) ?? null) : null;
});

documents.listen(connection);
connection.listen();
