/**
 * The analyzer server: a separate process that owns every model, so that a 500 MB model never
 * blocks the editor. It serves the text view's annotations (inlay hints), hovers, diagnostics,
 * outline, folding and go-to-definition. All figures come from src/core; this file only wires
 * requests to the store and the presenters.
 *
 * `startServer` registers the handlers on a connection made by the caller: over IPC for the VS
 * Code extension (main.ts, dist/server.js), over stdio for other editors (`model-lens lsp`).
 *
 * A document is one of:
 * - `onnx-model:/abs/path/model.onnx`, VS Code's text view: its text names a model state (the
 *   file as read, or one a quick fix made), which is how undo, redo and save work there;
 * - `file:///abs/path/model.onnx` or `file:///abs/path/model.onnx.txt`, from any other LSP
 *   client: the model is read from disk by that path (the `.onnx` beside a `.onnx.txt`), the text
 *   the client sends is ignored, and every position refers to the model's text view, which the
 *   user displays with `model-lens text model.onnx` (docs/editors.md). A buffer that differs from
 *   that text gets a warning that positions may be off. Quick fixes need the VS Code client.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DiagnosticSeverity,
  FoldingRange,
  MessageType,
  ShowMessageNotification,
  TextDocumentSyncKind,
  TextDocuments,
  type ClientCapabilities,
  type Connection,
  type Diagnostic,
  type InlayHint,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { hypercomplexOfNode } from '../core/advisor/hypercomplex';
import { CompressionRefusal } from '../core/compress/summary';
import { VerifyError } from '../core/verify';
import { findDevice } from '../core/devices';
import { compressionBlocker } from '../core/modelFile';
import { ModelLoadError, saveBlocker, saveModelFile } from '../core/onnx/load';
import { markdownReport } from '../core/text/markdownReport';
import { ReportViewRequest, type ReportView } from '../shared/reportProtocol';
import { reportView } from './reportView';
import { definitionAt } from '../core/text/printer';
import {
  ApplyFixRequest,
  DevicesRequest,
  InputShapesRequest,
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
  type InputShapesResult,
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
import { DEFAULT_SETTINGS, ModelStore, textKey, type OpenModel } from './modelStore';
import { SETTINGS_SECTION, settingsFromSection, settingsSection } from './clientSettings';
import { registerGraphRequests } from './graphRequests';
import { withWeightFormats } from './layerFormats';
import { annotationParts, layerMarkdown } from './presentation';
import {
  codeActionsFor,
  runFix,
  sensitivityOf,
  shapeMap,
  summaryLine,
  usesCalibration,
  type FixEnvironment,
  type FixOutcome,
} from './quickFixes';
import { verifyStates, type VerificationSamples } from './verification';
import { dataFolderFor, dataFolderNotes } from './dataFolder';
import { calibrationText, dataParts, DataFolderError, evaluationNote } from './fixData';
import {
  effectsFor,
  effectsMarkdown,
  measuredFix,
  measureStateEffects,
  pruneForecast,
} from './measuredEffects';
import { inputShapeAction, inputShapesOf, symbolicMessage } from './inputShapeRequests';
import { documentSymbols } from './symbols';

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const store = new ModelStore();
  let client: ClientCapabilities = {};
  /** The VS Code extension sends the settings itself; then LSP configuration is not read. */
  let settingsFromExtension = false;
  /** Set while the client's settings are being asked for at start: `file:` documents wait. */
  let initialSettings: Promise<void> | undefined;
  let settingsInOptions = false;

  // A request the client can't answer (e.g. a message request) must not end the server.
  process.on('unhandledRejection', (e) =>
    connection.console.error(`Model Lens: ${e instanceof Error ? e.message : String(e)}`),
  );

  /** A `file:` document, opened by path by another editor (not VS Code's text view). */
  function isFileDocument(uri: string): boolean {
    return uri.startsWith('file:');
  }

  /**
   * The model file a document shows: `onnx-model:/abs/path/model.onnx` and
   * `file:///abs/path/model.onnx` → `/abs/path/model.onnx`; `file:///abs/path/model.onnx.txt` →
   * `/abs/path/model.onnx` (the text printed by `model-lens text`, beside its model). Undefined
   * for other `file:` documents.
   */
  function modelPathOf(uri: string): string | undefined {
    if (!isFileDocument(uri)) return decodeURIComponent(new URL(uri).pathname);
    let file: string;
    try {
      file = fileURLToPath(uri);
    } catch {
      return undefined;
    }
    if (/\.onnx$/i.test(file)) return file;
    if (/\.onnx\.txt$/i.test(file)) return file.slice(0, -'.txt'.length);
    return undefined;
  }

  function pathOf(uri: string): string {
    return modelPathOf(uri) ?? '';
  }

  /** Each document's state, found again only when its text changed (by version). */
  const stateOfDocument = new Map<string, { version: number; state: OpenModel | undefined }>();

  /**
   * The model state the document shows now: after a quick fix the new state, after undo the one
   * before. Undefined when the text was edited by hand (it then matches no model). A `file:`
   * document shows the model as it is on disk.
   */
  function modelFor(uri: string): OpenModel | undefined {
    const state = shownState(uri);
    // A request sees the whole report: hints a quick first analysis left out are computed now.
    if (state?.hintsPending) store.analyze(state);
    return state;
  }

  /** The hover's measured-effect lines for a layer, when measured on the current data folder. */
  function measuredEffectLines(model: OpenModel, layer: string): string[] | undefined {
    const folder = dataFolderFor(model.path, store.settings, store.workspaceFolders);
    const effects = effectsFor(model, folder);
    return effects ? effectsMarkdown(effects, layer) : undefined;
  }

  /** As modelFor, without completing a quick analysis (analyzeAndPublish). */
  function shownState(uri: string): OpenModel | undefined {
    if (isFileDocument(uri)) {
      const file = modelPathOf(uri);
      return file === undefined ? undefined : (store.get(file) ?? store.load(file));
    }
    const doc = documents.get(uri);
    if (!doc) return store.get(pathOf(uri));
    const known = stateOfDocument.get(uri);
    if (known && known.version === doc.version) return known.state;
    const state = store.stateFor(pathOf(uri), doc.getText());
    stateOfDocument.set(uri, { version: doc.version, state });
    return state;
  }

  /** The text view's lines of each model, for `file:` documents (whose own text is not used). */
  const viewLines = new WeakMap<OpenModel, string[]>();

  /** A line of the text the document's positions refer to, without its line break. */
  function lineText(uri: string, model: OpenModel | undefined, line: number): string {
    if (isFileDocument(uri)) {
      if (!model) return '';
      let lines = viewLines.get(model);
      if (!lines) viewLines.set(model, (lines = model.text.split('\n')));
      return lines[line] ?? '';
    }
    const doc = documents.get(uri);
    if (!doc) return '';
    return doc
      .getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } })
      .replace(/\r?\n$/, '');
  }

  connection.onInitialize((params) => {
    client = params.capabilities;
    store.workspaceFolders = workspaceFoldersOf(params);
    const section = settingsSection(params.initializationOptions);
    settingsInOptions = section !== undefined;
    if (settingsInOptions) store.settings = settingsFromSection(section);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Full,
        hoverProvider: true,
        inlayHintProvider: true,
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        definitionProvider: true,
        codeActionProvider: { codeActionKinds: ['quickfix'] },
      },
      serverInfo: { name: 'model-lens' },
    };
  });

  connection.onRequest(ModelTextRequest, (params: ModelTextParams): ModelTextResult => {
    // A reload (e.g. after the file changed on disk) starts from the file again; the states that
    // quick fixes made stay, so that undo still finds them.
    const model = store.load(params.path);
    for (const [uri, known] of stateOfDocument) if (pathOf(uri) === params.path) known.version = -1;
    // Analyse now, so that the client's progress notification covers it and opening is instant;
    // the bit-width hints, which read every weight, come after the first diagnostics.
    store.analyze(model, { quick: true });
    return { text: model.text, error: model.error };
  });

  /** The `modelLens.inputShapes` problems last shown. */
  let warnedShapeProblems = '';

  function applySettings(settings: AnalyzerSettings): void {
    store.settings = settings;
    const { problems } = store.deviceProfiles();
    if (problems.length > 0) {
      // A notification, not a message request: every client shows it, none has to answer.
      void connection.sendNotification(ShowMessageNotification.type, {
        type: MessageType.Warning,
        message: `Model Lens device profiles: ${problems.join('; ')}`,
      });
    }
    // Once per change of the setting: Set Input Shape sends the settings again.
    const shapeProblems = store.inputShapeRules().problems.join('; ');
    if (shapeProblems && shapeProblems !== warnedShapeProblems) {
      void connection.sendNotification(ShowMessageNotification.type, {
        type: MessageType.Warning,
        message: `Model Lens: modelLens.inputShapes entries skipped: ${shapeProblems}`,
      });
    }
    warnedShapeProblems = shapeProblems;
    for (const doc of documents.all()) analyzeAndPublish(doc.uri);
    if (client.workspace?.inlayHint?.refreshSupport) {
      connection.languages.inlayHint.refresh().catch(() => undefined);
    }
  }

  connection.onNotification(SettingsNotification, (settings: AnalyzerSettings) => {
    settingsFromExtension = true;
    applySettings({ ...DEFAULT_SETTINGS, ...settings });
  });

  // Other editors: the `modelLens` section pushed with the notification, or else pulled.
  /**
   * Settings from another editor, when they differ from the current ones (the VS Code client
   * answers workspace/configuration too, with what it also sends as SettingsNotification).
   */
  function applyClientSettings(section: unknown): void {
    if (settingsFromExtension) return;
    const settings = settingsFromSection(section);
    if (JSON.stringify(settings) !== JSON.stringify(store.settings)) applySettings(settings);
  }

  /** Asks the client for the `modelLens` section; a client that never answers is not waited on. */
  function pullSettings(): Promise<void> {
    const pulled = connection.workspace.getConfiguration(SETTINGS_SECTION).then(
      (section: unknown) => applyClientSettings(section),
      (e: unknown) => connection.console.warn(`Model Lens settings: ${String(e)}`),
    );
    return Promise.race([pulled, new Promise<void>((resolve) => setTimeout(resolve, 3000))]);
  }

  // Clients that don't push settings (Neovim before 0.10 …) answer workspace/configuration.
  connection.onInitialized(() => {
    if (settingsFromExtension || settingsInOptions || !client.workspace?.configuration) return;
    initialSettings = pullSettings().finally(() => (initialSettings = undefined));
  });

  // Other editors: the `modelLens` section pushed with the notification, or else pulled.
  connection.onDidChangeConfiguration((params) => {
    if (settingsFromExtension) return;
    const section = settingsSection(params.settings);
    if (section !== undefined) applyClientSettings(section);
    else if (client.workspace?.configuration) void pullSettings();
  });

  // Fires on open and when the text view is refreshed from disk. A model opened by path waits
  // for the client's settings, so that it is not analysed twice (without, then with a device).
  documents.onDidChangeContent((e) => {
    const uri = e.document.uri;
    if (!initialSettings || !isFileDocument(uri)) return analyzeAndPublish(uri);
    void initialSettings.then(() => {
      if (documents.get(uri)) analyzeAndPublish(uri);
    });
  });
  documents.onDidClose((e) => {
    const file = modelPathOf(e.document.uri);
    // The model stays while another document shows it (model.onnx and model.onnx.txt).
    const shown = documents
      .all()
      .some((d) => d.uri !== e.document.uri && modelPathOf(d.uri) === file);
    if (file !== undefined && !shown) store.close(file);
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

  /** Shown on a `file:` document that is neither a model nor a model's text view. */
  const NOT_A_MODEL =
    'Model Lens reads ONNX models: open model.onnx (shown as the text `model-lens text model.onnx` prints) or a model.onnx.txt printed by it, next to model.onnx.';

  /** Shown on a `file:` document whose text is not the model's text view. */
  function notTheView(file: string): string {
    const name = path.basename(file);
    return `This buffer is not the text view of ${name}, which Model Lens's hovers, hints and diagnostics refer to (it is the binary file, was edited, or was printed from another version of the model). Show the model with \`model-lens text ${name}\` (docs/editors.md).`;
  }

  function analyzeAndPublish(uri: string): void {
    const fileDocument = isFileDocument(uri);
    const file = fileDocument ? modelPathOf(uri) : undefined;
    // Another editor's document is the model on disk, read again if it changed there.
    const model = fileDocument ? file && store.current(file) : shownState(uri);
    if (!model) {
      const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
      const message = fileDocument ? NOT_A_MODEL : HAND_EDITED;
      const severity = fileDocument ? DiagnosticSeverity.Information : DiagnosticSeverity.Error;
      void connection.sendDiagnostics({
        uri,
        diagnostics: [{ range, severity, source: 'Model Lens', message }],
      });
      if (!fileDocument) {
        void connection.sendNotification(ModelStatusNotification, { uri, error: HAND_EDITED });
      }
      return;
    }
    const problem = store.analyze(model, { quick: true });
    const lineEnd = (line: number): number =>
      documents.get(uri) ? lineText(uri, model, line).length : 200;
    const graphLine = model.printed?.layout.graphLine ?? 0;
    const at = (line: number, severity: DiagnosticSeverity, message: string): Diagnostic => ({
      range: { start: { line, character: 0 }, end: { line, character: lineEnd(line) } },
      severity,
      source: 'Model Lens',
      message,
    });
    const diagnostics: Diagnostic[] = [];
    // In VS Code the view's second line is the error; another editor's buffer may be anything.
    if (model.error)
      diagnostics.push(at(fileDocument ? 0 : 1, DiagnosticSeverity.Error, model.error));
    else if (problem) diagnostics.push(at(graphLine, DiagnosticSeverity.Error, problem));
    const doc = documents.get(uri);
    if (fileDocument && !model.error && doc && textKey(doc.getText()) !== model.key) {
      diagnostics.push(at(0, DiagnosticSeverity.Warning, notTheView(model.path)));
    }
    for (const d of model.report?.diagnostics ?? []) {
      const line = (d.node !== undefined ? model.linesByNode.get(d.node) : undefined) ?? graphLine;
      // In VS Code the symbolic-dimension note points to Set Input Shape, not to the CLI's flag.
      const message = fileDocument ? d.message : symbolicMessage(d.message, model.report!);
      diagnostics.push(at(line, SEVERITY[d.severity], message));
    }
    void connection.sendDiagnostics({ uri, diagnostics });
    if (model.hintsPending) {
      // The first diagnostics are out; the hints (and their diagnostics, an unreadable weight)
      // follow, their weights read ahead with reads in flight while requests are answered. A
      // request in between completes them itself (modelFor); this publishes them.
      setImmediate(() => {
        void store
          .prefetchHints(model)
          .catch(() => undefined)
          .then(() => {
            if (!documents.get(uri)) return;
            store.analyze(model);
            analyzeAndPublish(uri);
          });
      });
    }
    // The status bar is the VS Code extension's.
    if (fileDocument) return;
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
      symbolicDims: model.report?.symbolicDims,
      inputShapes: model.inputShapes,
    };
    void connection.sendNotification(ModelStatusNotification, status);
  }

  connection.languages.inlayHint.on((params): InlayHint[] => {
    const uri = params.textDocument.uri;
    const model = modelFor(uri);
    if (!model?.report || !documents.get(uri)) return [];
    const hints: InlayHint[] = [];
    for (let line = params.range.start.line; line <= params.range.end.line; line++) {
      const node = model.nodesByLine.get(line);
      if (!node) continue;
      const parts = annotationParts(node, store.settings.annotations);
      if (parts.length === 0) continue;
      const character = annotationColumn(lineText(uri, model, line), node);
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
    const markdown = layerMarkdown(
      // The other formats' weight SQNR, measured now for this layer only (layerFormats.ts).
      withWeightFormats(model, node),
      model.report,
      model.sensitivity?.get(node.name),
      model.report.symbolicDims,
      model.loaded && hypercomplexOfNode(model.loaded.model.graph, node.fileIndex, node.weightBits),
      store.deviceProfiles().profiles,
      measuredEffectLines(model, node.name),
    );
    return { contents: { kind: 'markdown', value: markdown } };
  });

  connection.onDocumentSymbol((params) => {
    const uri = params.textDocument.uri;
    const model = modelFor(uri);
    if (!model || !documents.get(uri)) return [];
    return documentSymbols(model, (line) => lineText(uri, model, line).length);
  });

  // Blocks of kind `imports` (initializers, weight-only nodes) are folded on open by VS Code
  // (`editor.foldingImportsByDefault`, on for onnx-text in package.json).
  connection.onFoldingRanges((params) => {
    const blocks = modelFor(params.textDocument.uri)?.printed?.layout.blocks ?? [];
    return blocks.map((b) => FoldingRange.create(b.start, b.end, undefined, undefined, b.kind));
  });

  connection.onDefinition((params) => {
    const uri = params.textDocument.uri;
    const model = modelFor(uri);
    if (!model?.printed || !documents.get(uri)) return null;
    // Names may be shortened under a module scope (`…/conv1/Conv`): the layout expands them.
    const found = definitionAt(
      model.printed.layout,
      (line) => lineText(uri, model, line),
      params.position.line,
      params.position.character,
    );
    if (!found) return null;
    return {
      uri,
      range: {
        start: { line: found.line, character: found.start },
        end: { line: found.line, character: found.end },
      },
    };
  });

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
    return model?.report
      ? markdownReport(model.report, model.path, store.deviceProfiles().profiles)
      : null;
  });

  connection.onRequest(ReportViewRequest, (params: DocumentParams): ReportView | null => {
    const model = modelFor(params.uri);
    return model?.report
      ? reportView(model.report, model.path, store.deviceProfiles().profiles)
      : null;
  });

  connection.onRequest(LayerFiguresRequest, (params: LineParams): string | null => {
    const model = modelFor(params.uri);
    const node = model?.nodesByLine.get(params.line);
    return model?.report && node
      ? layerMarkdown(
          withWeightFormats(model, node),
          model.report,
          model.sensitivity?.get(node.name),
          model.report.symbolicDims,
          undefined,
          store.deviceProfiles().profiles,
          measuredEffectLines(model, node.name),
        )
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
    // A quick fix runs the extension's command and changes VS Code's text view of the model (its
    // undo and save): there is none of that in another editor.
    if (isFileDocument(uri)) return [];
    const model = modelFor(uri);
    if (!model?.report) return [];
    store.analyze(model);
    const node = model.nodesByLine.get(params.range.start.line);
    const folder = dataFolderFor(model.path, store.settings, store.workspaceFolders);
    const actions = codeActionsFor(model, node, {
      uri,
      saveBlocker: saveBlocker(model.path),
      diagnostics: params.context.diagnostics,
      pruneForecast: (layers) => pruneForecast(model, folder, layers),
    });
    const setShape = inputShapeAction(model, uri, params.range.start.line, params.context);
    return setShape ? [setShape, ...actions] : actions;
  });

  connection.onRequest(InputShapesRequest, (params: DocumentParams): InputShapesResult | null => {
    const model = modelFor(params.uri);
    if (model) store.analyze(model);
    return model ? inputShapesOf(model) : null;
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

  /**
   * The data folder each state made by a calibrated fix was calibrated on: its verification runs
   * on that folder's evaluation part (while the setting still names the folder).
   */
  const calibratedOn = new WeakMap<OpenModel, string>();

  /**
   * Runs a fix, on the data folder's calibration part when one is set for the model and the fix
   * fits weights to data (fixData.ts); otherwise data-free.
   */
  async function runFixWithData(
    state: OpenModel,
    fix: ApplyFixParams['fix'],
    env: FixEnvironment,
  ): Promise<{ outcome: FixOutcome; folder?: string }> {
    const folder = usesCalibration(fix)
      ? dataFolderFor(state.path, store.settings, store.workspaceFolders)
      : undefined;
    const loaded = state.loaded;
    if (folder === undefined || !loaded) return { outcome: await runFix(state, fix, env) };
    env.progress?.('reading the data folder', 0);
    const shapes = shapeMap(state.inputShapes);
    // Every sample is read and checked against the model before anything runs, so a folder that
    // doesn't fit refuses the fix whole.
    const parts = dataParts(loaded, folder, shapes);
    try {
      const outcome = await runFix(state, fix, {
        ...env,
        calibration: { inputs: parts.calibration.sets, description: calibrationText(parts) },
      });
      return { outcome, folder };
    } catch (e) {
      // The samples fit the model, but the calibrated engine can't take it (float16 compute,
      // float16 weights for filter ranking …): the data-free engine may, and the notification
      // says why it was used. Its own refusal, if any, is the fix's.
      if (!(e instanceof CompressionRefusal || e instanceof VerifyError)) throw e;
      return { outcome: await runFix(state, fix, { ...env, dataFreeReason: e.message }) };
    }
  }

  connection.onRequest(
    ApplyFixRequest,
    async (params: ApplyFixParams, token): Promise<ApplyFixResult> => {
      const state = modelFor(params.uri);
      if (!state) return { refusal: HAND_EDITED };
      const blocked = (state.loaded && compressionBlocker(state.loaded)) ?? saveBlocker(state.path);
      if (blocked) return { refusal: blocked };
      store.analyze(state);
      const signal = signalOf(token);
      try {
        const env = {
          device: selectedDevice(),
          progress: progressTo(params.progressId),
          signal,
          measured: (s: OpenModel) => store.keepSensitivity(s),
        };
        // With effects measured on the data folder, whole-model pruning and fit to device follow
        // the measured plan (measuredEffects.ts); every other fix runs on the folder's
        // calibration part when one is set (runFixWithData), else data-free.
        const dataFolder = dataFolderFor(state.path, store.settings, store.workspaceFolders);
        const planned = await measuredFix(state, params.fix, { ...env, dataFolder });
        const { outcome, folder } = planned
          ? { outcome: planned, folder: undefined }
          : await runFixWithData(state, params.fix, env);
        // Cancelled as the engine finished: the user asked for the model to stay as it is.
        if (signal.aborted) return { refusal: 'cancelled' };
        const next = store.addState(state.path, state.loaded!, outcome.model, [
          ...state.fixes,
          outcome.description,
        ]);
        if (folder !== undefined) calibratedOn.set(next, folder);
        const layer =
          params.line === undefined ? undefined : state.nodesByLine.get(params.line)?.name;
        const index = next.loaded?.model.graph.nodes.findIndex((n) => n.name === layer) ?? -1;
        return {
          line: index >= 0 ? next.printed?.layout.nodeLines[index] : undefined,
          text: next.text,
          before: state.key,
          after: next.key,
          summary: outcome.summaries.map((s) => `${s.operation}: ${summaryLine(s)}`),
          notes: outcome.summaries.flatMap((s) => s.notes),
          ...(outcome.method ? { method: outcome.method } : {}),
        };
      } catch (e) {
        if (e instanceof CompressionRefusal) return { refusal: e.message };
        if (isCancellation(e)) return { refusal: 'cancelled' };
        if (e instanceof DataFolderError) {
          return {
            refusal: `the data folder does not fit this model: ${e.message}`,
            dataFolder: e.folder,
          };
        }
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
      // The figures the user sees assume the shapes set for the model: so do the runs.
      const shapes = shapeMap(modelFor(params.uri)?.inputShapes);
      const dataFolder = dataFolderFor(file, store.settings, store.workspaceFolders);
      // A state whose effects were measured on the folder's calibration part is judged on its
      // evaluation part (when the folder was large enough to split); a state made by a fix
      // calibrated on the folder, on the part it did not see (evaluationSamples).
      const measured = effectsFor(before, dataFolder);
      const samples: VerificationSamples | undefined =
        dataFolder === undefined
          ? undefined
          : measured?.data.disjoint === true
            ? {
                folder: dataFolder,
                part: {
                  sets: [...measured.data.evaluation],
                  sampleNames: [],
                  ...(measured.data.evaluationLabels
                    ? { labels: [...measured.data.evaluationLabels] }
                    : {}),
                },
                note: measured.data.note,
              }
            : evaluationSamples(
                before.loaded,
                dataFolder,
                calibratedOn.get(after) === dataFolder,
                shapes,
              );
      const result = await verifyStates(before.loaded, after.loaded, shapes, samples);
      const notes = dataFolder ? dataFolderNotes(before.loaded, dataFolder, shapes) : [];
      // The full report says what reading modelLens.dataFolder assumed (image preprocessing).
      return notes.length > 0 && result.markdown
        ? {
            ...result,
            markdown: `${result.markdown}\n\n${notes.map((n) => `*${n}*`).join('\n\n')}`,
          }
        : result;
    },
  );

  /**
   * The samples a fix is verified on: after a fix calibrated on the folder, its evaluation part
   * (split again as the fix split it); else the whole folder.
   */
  function evaluationSamples(
    before: NonNullable<OpenModel['loaded']>,
    folder: string,
    calibrated: boolean,
    shapes: ReadonlyMap<string, readonly number[]> | undefined,
  ): VerificationSamples {
    if (!calibrated) return { folder };
    try {
      const parts = dataParts(before, folder, shapes);
      return { folder, part: parts.evaluation, note: evaluationNote(parts) };
    } catch (e) {
      // The folder changed since the fix: verifying on it says what is wrong now.
      if (e instanceof DataFolderError) return { folder };
      throw e;
    }
  }

  connection.onRequest(SaveModelRequest, (params: SaveModelParams): SaveModelResult => {
    const state = store.stateFor(params.path, params.text);
    const name = path.basename(params.path);
    if (!state) {
      return {
        error: `the text of ${name} was edited by hand or is from an earlier session, so it matches no model Model Lens holds; undo the hand edits or revert the file`,
      };
    }
    if (!state.loaded) return { error: `${name} could not be read, so there is nothing to save` };
    // A model the engine only reads is never written: the file already holds its one state.
    const readOnly = compressionBlocker(state.loaded);
    if (readOnly) return state.fixes.length === 0 ? {} : { error: readOnly, readOnly: true };
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
      const unsupported = state.loaded && compressionBlocker(state.loaded);
      if (unsupported) return { layers: 0, seconds: 0, error: unsupported };
      const started = performance.now();
      const progress = progressTo(params.progressId);
      const signal = signalOf(token);
      // With a data folder, the effects on it follow the random-input SQNR (the longer part).
      const folder = dataFolderFor(state.path, store.settings, store.workspaceFolders);
      const share = folder ? 0.2 : 1;
      try {
        const table = await sensitivityOf(state, {
          progress: (m, f) => progress(m, f * share),
          signal,
          measured: (s) => store.keepSensitivity(s),
        });
        const effects = folder
          ? await measureStateEffects(state, folder, {
              progress: (m, f) => progress(m, share + f * (1 - share)),
              signal,
            })
          : undefined;
        return {
          layers: table.size,
          seconds: (performance.now() - started) / 1000,
          ...(effects ? { effectSamples: effects.table.samples } : {}),
        };
      } catch (e) {
        if (isCancellation(e)) return { layers: 0, seconds: 0, error: 'cancelled' };
        return { layers: 0, seconds: 0, error: (e as Error).message };
      }
    },
  );

  registerGraphRequests(connection, modelFor);
  documents.listen(connection);
  connection.listen();
}

/** The workspace folders an LSP client names, as paths (for `modelLens.inputShapes` globs). */
function workspaceFoldersOf(params: {
  workspaceFolders?: { uri: string }[] | null;
  rootUri?: string | null;
}): string[] {
  const uris =
    params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
  return uris.flatMap((u) => {
    try {
      return [fileURLToPath(u)];
    } catch {
      return [];
    }
  });
}
