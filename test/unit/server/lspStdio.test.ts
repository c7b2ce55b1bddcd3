/**
 * `model-lens lsp --stdio` as Neovim or Helix use it: the built CLI spoken to over stdin/stdout
 * by a plain JSON-RPC client that knows nothing of Model Lens's own requests. Models are opened
 * by path (`file:` URIs, `.onnx` and `.onnx.txt`), positions are in the text `model-lens text`
 * prints, settings come the LSP way, and a bad file gets one diagnostic without ending the server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
// vscode-jsonrpc's stream reader and writer, as vscode-languageserver (a dependency) exports them.
import {
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type MessageConnection,
} from 'vscode-languageserver/node';
import { analyzeFile } from '../../../src/core/analyze';
import { formatCount } from '../../../src/core/format';
import { parseModelText } from '../../../src/core/text/parser';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';

const root = path.resolve(__dirname, '../../..');
const cliJs = path.join(root, 'dist/cli.js');
const serverJs = path.join(root, 'dist/server.js');
const fixture = path.join(root, 'test/fixtures/exported/detector.onnx');

interface Diagnostic {
  range: { start: { line: number; character: number } };
  severity: number;
  message: string;
}

interface DocumentSymbol {
  name: string;
  children?: DocumentSymbol[];
}

/** Newest modification time under a folder. */
function newest(dir: string): number {
  let t = 0;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile())
      t = Math.max(t, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return t;
}

/** dist/cli.js and dist/server.js, built again when src/ changed since (about 2 s). */
function ensureBuilt(): void {
  const built = [cliJs, serverJs].map((f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : 0));
  if (Math.min(...built) > newest(path.join(root, 'src'))) return;
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `build failed: ${r.stderr}`);
}

/** A generic LSP client: it answers only what any editor answers. */
class Client {
  readonly diagnostics = new Map<string, Diagnostic[]>();
  /** Every publication, in order. */
  readonly published: { uri: string; diagnostics: Diagnostic[] }[] = [];
  /** The `workspace/configuration` answers the server asked for. */
  readonly configurationRequests: unknown[] = [];
  configuration: unknown = null;
  /** Protocol errors: anything on stdout that is not a message ends up here. */
  readonly errors: string[] = [];
  stderr = '';
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;
  readonly connection: MessageConnection;

  constructor(readonly proc: ChildProcess) {
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    const reader = new StreamMessageReader(proc.stdout!);
    reader.onError((e) => this.errors.push(e.message));
    this.connection = createMessageConnection(reader, new StreamMessageWriter(proc.stdin!));
    this.connection.onNotification(
      'textDocument/publishDiagnostics',
      (p: { uri: string; diagnostics: Diagnostic[] }) => {
        this.diagnostics.set(p.uri, p.diagnostics);
        this.published.push(p);
        for (const w of this.waiters.splice(0)) w();
      },
    );
    this.connection.onRequest('workspace/configuration', (p: { items: { section?: string }[] }) => {
      this.configurationRequests.push(p);
      return p.items.map((item) => (item.section === 'modelLens' ? this.configuration : null));
    });
    this.connection.onNotification('window/logMessage', () => undefined);
    this.connection.onNotification('window/showMessage', () => undefined);
    this.connection.listen();
  }

  /** Waits until the latest diagnostics of `uri` satisfy `ready` (other notifications ignored). */
  async diagnosticsOf(uri: string, ready: (d: Diagnostic[]) => boolean): Promise<Diagnostic[]> {
    const deadline = Date.now() + 15000;
    for (;;) {
      const d = this.diagnostics.get(uri);
      if (d && ready(d)) return d;
      if (Date.now() > deadline) {
        throw new Error(`no such diagnostics for ${uri}: ${JSON.stringify(d)}\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  static start(): Client {
    return new Client(
      spawn(process.execPath, [cliJs, 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] }),
    );
  }

  async stop(): Promise<number | null> {
    await this.connection.sendRequest('shutdown');
    await this.connection.sendNotification('exit');
    return this.exited;
  }

  open(uri: string, text: string, languageId = 'onnx'): Promise<void> {
    return this.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId, version: 1, text },
    });
  }

  hover(uri: string, line: number): Promise<{ contents: { kind: string; value: string } } | null> {
    return this.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line, character: 2 },
    });
  }
}

describe('model-lens lsp --stdio', () => {
  let client: Client;
  let dir: string;
  let text: string;
  let convLine: number;
  let convName: string;
  const modelUri = pathToFileURL(fixture).href;

  before(() => {
    ensureBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-lsp-'));
    text = execFileSync(process.execPath, [cliJs, 'text', fixture], { encoding: 'utf8' });
    const lines = text.split('\n');
    convLine = lines.findIndex((l) => / = Conv /.test(l));
    assert.ok(convLine > 0, 'a Conv line in the text view');
    // The label may be shortened to its module scope (`[…/conv1/Conv]`): the parser expands it.
    convName = parseModelText(text).graph.nodes.find((n) => n.line === convLine)!.name;
    client = Client.start();
  });

  after(() => {
    client?.connection.dispose();
    if (client && client.proc.exitCode === null) client.proc.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('initializes with hovers, symbols and hints, and the device from initializationOptions', async () => {
    const result: { capabilities: Record<string, unknown> } = await client.connection.sendRequest(
      'initialize',
      {
        processId: process.pid,
        rootUri: null,
        capabilities: { workspace: { configuration: true } },
        initializationOptions: { modelLens: { device: 'rp2040' } },
      },
    );
    assert.equal(result.capabilities.hoverProvider, true);
    assert.equal(result.capabilities.documentSymbolProvider, true);
    assert.equal(result.capabilities.inlayHintProvider, true);
    await client.connection.sendNotification('initialized', {});
  });

  test('a model opened by path is analysed: diagnostics, a hover with its figures, symbols', async () => {
    // As Neovim's BufReadCmd sends it: the buffer holds what `model-lens text` printed.
    await client.open(modelUri, text);
    const diagnostics = await client.diagnosticsOf(modelUri, (d) => d.length > 0);
    assert.ok(
      diagnostics.some((d) => d.message.includes('rp2040')),
      'the device from initializationOptions',
    );
    assert.ok(
      !diagnostics.some((d) => d.message.includes('model-lens text')),
      'the buffer is the text view: no warning about it',
    );
    for (const d of diagnostics) assert.ok(d.range.start.line < text.split('\n').length);

    const hover = await client.hover(modelUri, convLine);
    assert.equal(hover?.contents.kind, 'markdown');
    const node = analyzeFile(fixture).nodes.find((n) => n.name === convName)!;
    assert.match(hover!.contents.value, /MACs/);
    assert.ok(
      hover!.contents.value.includes(formatCount(node.macs)),
      `the hover gives ${convName}'s ${formatCount(node.macs)} MACs:\n${hover!.contents.value}`,
    );

    const symbols: DocumentSymbol[] = await client.connection.sendRequest(
      'textDocument/documentSymbol',
      { textDocument: { uri: modelUri } },
    );
    const names = (s: DocumentSymbol[]): string[] =>
      s.flatMap((x) => [x.name, ...names(x.children ?? [])]);
    assert.ok(names(symbols).includes(convName), `${convName} in the outline`);

    const hints: { position: { line: number }; label: string }[] =
      await client.connection.sendRequest('textDocument/inlayHint', {
        textDocument: { uri: modelUri },
        range: { start: { line: 0, character: 0 }, end: { line: convLine + 1, character: 0 } },
      });
    assert.ok(hints.some((h) => h.position.line === convLine && /MACs/.test(h.label)));

    const actions: unknown[] = await client.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri: modelUri },
      range: { start: { line: convLine, character: 0 }, end: { line: convLine, character: 0 } },
      context: { diagnostics: [] },
    });
    assert.deepEqual(actions, [], 'quick fixes need the VS Code client');
  });

  test('a .onnx.txt printed by model-lens text reads the model beside it', async () => {
    const model = path.join(dir, 'net.onnx');
    fs.copyFileSync(fixture, model);
    fs.writeFileSync(`${model}.txt`, text);
    const uri = pathToFileURL(`${model}.txt`).href;
    await client.open(uri, text, 'onnx-text');
    const diagnostics = await client.diagnosticsOf(uri, (d) => d.length > 0);
    assert.ok(!diagnostics.some((d) => d.message.includes('model-lens text')));
    const hover = await client.hover(uri, convLine);
    assert.match(hover?.contents.value ?? '', /MACs/);
  });

  test('a buffer that is not the text view gets a warning saying how to show it', async () => {
    const model = path.join(dir, 'raw.onnx');
    fs.copyFileSync(fixture, model);
    const uri = pathToFileURL(model).href;
    await client.open(uri, fs.readFileSync(model, 'latin1'));
    const diagnostics = await client.diagnosticsOf(uri, (d) => d.length > 0);
    const warning = diagnostics.find((d) => d.message.includes('model-lens text raw.onnx'));
    assert.equal(warning?.severity, 2);
    assert.equal(warning?.range.start.line, 0);
  });

  test('a corrupt or missing model gets one clear diagnostic, and the server goes on', async () => {
    const corrupt = path.join(dir, 'corrupt.onnx');
    fs.writeFileSync(corrupt, Buffer.from('not a model \x00\x01\x02\xff\xfe at all'));
    const corruptUri = pathToFileURL(corrupt).href;
    await client.open(corruptUri, '');
    const [bad] = await client.diagnosticsOf(corruptUri, (d) => d.length === 1);
    assert.equal(bad.severity, 1);
    assert.equal(bad.range.start.line, 0);
    assert.match(bad.message, /corrupt\.onnx: not a valid ONNX model/);
    assert.equal(await client.hover(corruptUri, convLine), null);

    const missingUri = pathToFileURL(path.join(dir, 'missing.onnx')).href;
    await client.open(missingUri, '');
    const [gone] = await client.diagnosticsOf(missingUri, (d) => d.length === 1);
    assert.match(gone.message, /missing\.onnx: no such file/);

    const notesUri = pathToFileURL(path.join(dir, 'notes.txt')).href;
    await client.open(notesUri, 'hello');
    const [notes] = await client.diagnosticsOf(notesUri, (d) => d.length === 1);
    assert.match(notes.message, /reads ONNX models/);

    const hover = await client.hover(modelUri, convLine);
    assert.match(hover?.contents.value ?? '', /MACs/, 'still serving the good model');
  });

  test('settings pulled with workspace/configuration after didChangeConfiguration', async () => {
    client.configuration = { device: 'stm32h743' };
    await client.connection.sendNotification('workspace/didChangeConfiguration', {
      settings: null,
    });
    const diagnostics = await client.diagnosticsOf(modelUri, (d) =>
      d.some((x) => x.message.includes('stm32h743')),
    );
    assert.ok(!diagnostics.some((d) => d.message.includes('rp2040')));
    assert.equal(client.configurationRequests.length, 1);
  });

  test('shutdown and exit end the process with 0, and stdout carried only the protocol', async () => {
    assert.equal(await client.stop(), 0);
    assert.deepEqual(client.errors, []);
  });

  test('a client that only answers workspace/configuration: the model waits for its settings', async () => {
    // Neovim before 0.10 neither pushes settings nor sends initializationOptions unasked.
    const other = Client.start();
    try {
      other.configuration = { device: 'nrf52840', annotations: { macs: false } };
      await other.connection.sendRequest('initialize', {
        processId: process.pid,
        rootUri: null,
        capabilities: { workspace: { configuration: true } },
      });
      await other.connection.sendNotification('initialized', {});
      await other.open(modelUri, text);
      await other.diagnosticsOf(modelUri, (d) => d.length > 0);
      const first = other.published.find((p) => p.uri === modelUri)!;
      assert.ok(
        first.diagnostics.some((d) => d.message.includes('nrf52840')),
        'analysed once, with the device',
      );
      assert.equal(other.configurationRequests.length, 1);
      const hints: { label: string }[] = await other.connection.sendRequest(
        'textDocument/inlayHint',
        {
          textDocument: { uri: modelUri },
          range: { start: { line: 0, character: 0 }, end: { line: convLine + 1, character: 0 } },
        },
      );
      assert.ok(hints.length > 0 && !hints.some((h) => /MACs/.test(h.label)), 'macs: false');
      assert.equal(await other.stop(), 0);
    } finally {
      if (other.proc.exitCode === null) other.proc.kill();
    }
  });

  test('modelLens.inputShapes from initializationOptions fixes symbolic dimensions', async () => {
    const b = new ModelBuilder({ opset: 13 });
    const x = b.input('x', DataType.FLOAT, [1, 3, 'H', 'W']);
    b.output(b.node('Conv', [x, b.weight('w', [8, 3, 3, 3])], { pads: [1, 1, 1, 1] })[0]);
    const file = path.join(dir, 'symbolic.onnx');
    saveModelFile(b.build(), file);
    const uri = pathToFileURL(file).href;
    const shaped = analyzeFile(file, { inputShapes: new Map([['x', [1, 3, 32, 64]]]) });
    const macs = formatCount(shaped.totals.macs);
    assert.notEqual(shaped.totals.macs, analyzeFile(file).totals.macs);
    const other = Client.start();
    try {
      await other.connection.sendRequest('initialize', {
        processId: process.pid,
        rootUri: null,
        capabilities: {},
        initializationOptions: {
          modelLens: { inputShapes: { '**/symbolic.onnx': { x: [1, 3, 32, 64] } } },
        },
      });
      await other.connection.sendNotification('initialized', {});
      const printed = execFileSync(process.execPath, [cliJs, 'text', file], { encoding: 'utf8' });
      await other.open(uri, printed);
      await other.diagnosticsOf(uri, () => true);
      const hints: { label: string }[] = await other.connection.sendRequest(
        'textDocument/inlayHint',
        {
          textDocument: { uri },
          range: { start: { line: 0, character: 0 }, end: { line: 1000, character: 0 } },
        },
      );
      assert.ok(
        hints.some((h) => h.label.includes(`${macs} MACs`)),
        `${macs} MACs in ${JSON.stringify(hints.map((h) => h.label))}`,
      );
      assert.equal(await other.stop(), 0);
    } finally {
      if (other.proc.exitCode === null) other.proc.kill();
    }
  });
});
