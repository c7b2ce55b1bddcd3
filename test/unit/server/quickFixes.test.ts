/**
 * Quick fixes through the server, as the editor drives them: code actions on a layer line, a fix
 * computed on the model the text shows, the text replaced, saved over the file, and undo (the old
 * text) saving the exact original bytes. Also the refusals: hand edits, an already-quantized
 * layer, an op without a weight axis, a read-only file and a read-only file system.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/core/analyze';
import { withGraph } from '../../../src/core/compress/graphEdit';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Tensor } from '../../../src/core/onnx/types';
import {
  ApplyFixRequest,
  MeasureSensitivityRequest,
  SaveModelRequest,
  SettingsNotification,
  VerifyFixRequest,
  type ApplyFixArgs,
  type ApplyFixResult,
  type Fix,
  type SaveModelResult,
  type VerifyFixResult,
} from '../../../src/shared/protocol';
import { DEFAULT_SETTINGS } from '../../../src/server/modelStore';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { ServerSession } from '../../helpers/serverSession';

const root = path.resolve(__dirname, '../../..');
const serverJs = path.join(root, 'dist/server.js');

/** Conv → BatchNorm → Relu → Conv → Mul(constant) → pool → Gemm. */
function writeModel(file: string): void {
  const b = new ModelBuilder({ opset: 13, seed: 7 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 16, 16]);
  const [c1] = b.node(
    'Conv',
    [x, b.weight('w1', [8, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    {
      name: 'conv1',
      outputs: ['c1'],
    },
  );
  // Positive variances: a random negative one would make every output NaN.
  const bn = ['gamma', 'beta', 'mean'].map((n) => b.weight(n, [8]));
  bn.push(b.initializer('var', DataType.FLOAT, [8], [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2]));
  const [n1] = b.node('BatchNormalization', [c1, ...bn], {}, { name: 'bn1', outputs: ['n1'] });
  const [r1] = b.node('Relu', [n1], {}, { name: 'relu1', outputs: ['r1'] });
  const [c2] = b.node(
    'Conv',
    [r1, b.weight('w2', [16, 8, 3, 3])],
    { pads: [1, 1, 1, 1] },
    {
      name: 'conv2',
      outputs: ['c2'],
    },
  );
  const [m] = b.node(
    'Mul',
    [c2, b.weight('scale', [1, 16, 1, 1])],
    {},
    {
      name: 'scale_mul',
      outputs: ['m'],
    },
  );
  b.classifierHead(m, 16);
  saveModelFile(b.build(), file);
}

function tensorNumbersAsFloat32(t: Tensor): Float32Array {
  return Float32Array.from(tensorNumbers(t));
}

interface Action {
  title: string;
  disabled?: { reason: string };
  command?: { command: string; arguments: ApplyFixArgs[] };
}

describe(
  'quick fixes through the analyzer server',
  { skip: fs.existsSync(serverJs) ? false : 'dist/server.js not built (npm run build)' },
  () => {
    let session: ServerSession;
    let dir: string;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-fix-'));
      session = await ServerSession.start(serverJs);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    });
    after(() => {
      session?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    let version = 1;
    async function setText(uri: string, text: string): Promise<void> {
      await session.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: ++version },
        contentChanges: [{ text }],
      });
    }
    const lineOf = (text: string, name: string): number =>
      text.split('\n').findIndex((l) => l.trimStart().startsWith(`[${name}] `));
    const actions = (uri: string, line: number): Promise<Action[]> =>
      session.connection.sendRequest('textDocument/codeAction', {
        textDocument: { uri },
        range: { start: { line, character: 0 }, end: { line, character: 0 } },
        context: { diagnostics: [] },
      });
    const apply = (uri: string, fix: Fix): Promise<ApplyFixResult> =>
      session.connection.sendRequest(ApplyFixRequest, { uri, fix });
    const save = (file: string, text: string): Promise<SaveModelResult> =>
      session.connection.sendRequest(SaveModelRequest, { path: file, text });
    const hover = async (uri: string, line: number): Promise<string> => {
      const h: { contents: { value: string } } | null = await session.connection.sendRequest(
        'textDocument/hover',
        { textDocument: { uri }, position: { line, character: 2 } },
      );
      return h?.contents.value ?? '';
    };

    test('int8 on a Conv line: new text, smaller figures, saved; undo saves the original bytes', async () => {
      const file = path.join(dir, 'net.onnx');
      writeModel(file);
      const original = fs.readFileSync(file);
      const { uri, text } = await session.open(file);
      const line = lineOf(text, 'conv2');
      const offered = await actions(uri, line);
      const int8 = offered.find((a) => a.title.startsWith('Quantize conv2 to int8'));
      assert.ok(int8?.command, offered.map((a) => a.title).join(' | '));
      assert.equal(int8.command.command, 'modelLens.applyFix');
      assert.ok(offered.some((a) => a.title.startsWith('Remove a fraction of conv2')));
      assert.ok(
        offered.some((a) => a.title === 'Fold every BatchNormalization into its Conv') === false,
      );

      const result = await apply(uri, int8.command.arguments[0].fix);
      assert.ok('text' in result, JSON.stringify(result));
      assert.match(result.summary[0], /weights .* → .*MACs unchanged, 1 layer/);
      assert.match(result.text, /Quick fixes applied in this editor[^]*1\. quantize int8/);
      const before = analyzeFile(file).nodes.find((n) => n.name === 'conv2')!;
      assert.match(await hover(uri, line), /at 32-bit/);

      await setText(uri, result.text);
      const newLine = lineOf(result.text, 'conv2');
      assert.match(await hover(uri, newLine), /at 8-bit/, 'the hover follows the new text');
      const after = await actions(uri, newLine);
      const again = after.find((a) => a.title.startsWith('Quantize conv2 to int8'));
      assert.match(again?.disabled?.reason ?? '', /conv2 is already quantized/);

      const verified: VerifyFixResult = await session.connection.sendRequest(VerifyFixRequest, {
        uri,
        before: result.before,
        after: result.after,
      });
      assert.ok(verified.ok, verified.line);
      assert.match(verified.line, /output SQNR \d+\.\d dB, top-1 agreement/);
      assert.match(verified.markdown, /\| SQNR \| \d/);

      assert.deepEqual(await save(file, result.text), {});
      const saved = analyzeFile(file).nodes.find((n) => n.name === 'conv2')!;
      assert.equal(saved.weightBits, 8);
      assert.ok(
        saved.weightBytes < before.weightBytes / 3,
        `${saved.weightBytes} vs ${before.weightBytes}`,
      );

      // Undo puts the original text back; saving it writes the original bytes exactly.
      await setText(uri, text);
      assert.match(await hover(uri, line), /at 32-bit/);
      assert.deepEqual(await save(file, text), {});
      assert.ok(fs.readFileSync(file).equals(original), 'byte-identical after undo + save');
      // An editor's save may trim trailing whitespace or add a final newline: still the same state.
      assert.deepEqual(await save(file, `${result.text.trimEnd()}\r\n\r\n`), {});
      assert.equal(analyzeFile(file).nodes.find((n) => n.name === 'conv2')!.weightBits, 8);
    });

    test('external data stays consistent: a fix saves inline weights, the side file is untouched, the fix verifies, undo restores', async () => {
      const file = path.join(dir, 'ext.onnx');
      writeModel(file);
      // Move conv2's weight into a side file, as exporters do for large models.
      const loaded = loadModelFile(file);
      const w2 = loaded.model.graph.initializers.find((t) => t.name === 'w2')!;
      const values = Buffer.from(tensorNumbersAsFloat32(w2).buffer);
      fs.writeFileSync(path.join(dir, 'ext.weights'), values);
      const external: Tensor = {
        extra: [],
        name: 'w2',
        dataType: DataType.FLOAT,
        dims: [...w2.dims],
        externalEntries: [
          { extra: [], key: 'location', value: 'ext.weights' },
          { extra: [], key: 'offset', value: '0' },
          { extra: [], key: 'length', value: String(values.length) },
        ],
        dataLocation: 1,
        docString: '',
      };
      // Without `raw`, the graph is encoded again from its fields (see onnx/types.ts).
      const { raw: _raw, ...graphFields } = loaded.model.graph;
      const graph = {
        ...graphFields,
        initializers: loaded.model.graph.initializers.map((t) => (t.name === 'w2' ? external : t)),
      };
      saveModelFile(withGraph(loaded.model, graph), file);
      assert.ok(loadModelFile(file).model.graph.initializers.some((t) => t.external));
      const original = fs.readFileSync(file);
      const side = fs.readFileSync(path.join(dir, 'ext.weights'));

      const { uri, text } = await session.open(file);
      const result = await apply(uri, { kind: 'quantize', layers: ['conv2'], bits: 8 });
      assert.ok('text' in result, JSON.stringify(result));
      await setText(uri, result.text);
      assert.deepEqual(await save(file, result.text), {});
      const saved = analyzeFile(file).nodes.find((n) => n.name === 'conv2')!;
      assert.equal(saved.weightBits, 8);
      assert.ok(fs.readFileSync(path.join(dir, 'ext.weights')).equals(side), 'side file untouched');
      const verified: VerifyFixResult = await session.connection.sendRequest(VerifyFixRequest, {
        uri,
        before: result.before,
        after: result.after,
      });
      // Verified on self-contained copies: ONNX Runtime has no folder to read side files from.
      assert.equal(verified.ok, true, verified.line);
      assert.match(verified.line, /output SQNR \d+\.\d dB/);
      await setText(uri, text);
      assert.deepEqual(await save(file, text), {});
      assert.ok(fs.readFileSync(file).equals(original), 'undo + save restores the bytes');
      assert.equal(analyzeFile(file).nodes.find((n) => n.name === 'conv2')!.weightBits, 32);
    });

    test('hand edits match no model: a diagnostic says so, and a save refuses without writing', async () => {
      const file = path.join(dir, 'hand.onnx');
      writeModel(file);
      const original = fs.readFileSync(file);
      const { uri, text } = await session.open(file);
      const edited = text.replace('conv1', 'convX');
      await setText(uri, edited);
      const diags = await session.until(() => {
        const d = session.diagnostics.get(uri);
        return d?.some((x) => /hand edits/.test(x.message)) ? d : undefined;
      }, 'hand-edit diagnostic');
      assert.equal(diags.length, 1);
      const refused = await save(file, edited);
      assert.match(refused.error ?? '', /edited by hand/);
      assert.ok(fs.readFileSync(file).equals(original), 'file untouched');
      const fix = await apply(uri, { kind: 'foldBatchNorm' });
      assert.ok('refusal' in fix && /hand edits/.test(fix.refusal));
    });

    test('engine refusals are clear: no weight axis, fold, factorize and prune run', async () => {
      const file = path.join(dir, 'ops.onnx');
      writeModel(file);
      const { uri, text } = await session.open(file);
      const mul = await actions(uri, lineOf(text, 'scale_mul'));
      const q = mul.find((a) => a.title.startsWith('Quantize scale_mul to int8'));
      assert.match(q?.disabled?.reason ?? '', /Mul has no known weight axis/);
      const bn = await actions(uri, lineOf(text, 'bn1'));
      const fold = bn.find((a) => a.title === 'Fold every BatchNormalization into its Conv');
      assert.ok(fold?.command);
      assert.ok(bn.some((a) => a.title === 'Fold bn1 into conv1'));
      const fc = await actions(uri, lineOf(text, 'fc'));
      const factor = fc.find((a) => a.title.startsWith('Factorize fc at rank 3'));
      assert.ok(factor?.command, fc.map((a) => a.title).join(' | '));
      const factored = await apply(uri, factor.command.arguments[0].fix);
      assert.ok('text' in factored, JSON.stringify(factored));
      assert.match(factored.summary[0], /factoriz/i);
      const folded = await apply(uri, fold.command.arguments[0].fix);
      assert.ok('text' in folded, JSON.stringify(folded));
      assert.doesNotMatch(folded.text, /= BatchNormalization/, 'the BN node is gone');
      const pruned = await apply(uri, { kind: 'prune', layers: ['conv2'], sparsity: 0.5 });
      assert.ok('text' in pruned && /prune/.test(pruned.summary[0]), JSON.stringify(pruned));
      const bad = await apply(uri, { kind: 'prune', layers: ['conv2'], sparsity: 1.5 });
      assert.ok('refusal' in bad && /between 0 and 1/.test(bad.refusal));
      const filters = await apply(uri, {
        kind: 'removeFilters',
        layers: ['conv1'],
        fraction: 0.25,
      });
      assert.ok('text' in filters, JSON.stringify(filters));
      assert.match(filters.summary[0], /MACs .* → /);
    });

    test('a read-only file: fixes are disabled with the reason, and nothing is written', async () => {
      const file = path.join(dir, 'locked.onnx');
      writeModel(file);
      fs.chmodSync(file, 0o444);
      const original = fs.readFileSync(file);
      const { uri, text } = await session.open(file);
      const [explain, ...offered] = await actions(uri, lineOf(text, 'conv2'));
      // VS Code's menu shows only enabled actions: the first one says why the rest are disabled.
      assert.match(explain.title, /Quick fixes are unavailable/);
      assert.equal(explain.disabled, undefined);
      assert.match(String(explain.command?.arguments[0]), /locked\.onnx is read-only/);
      assert.ok(offered.length > 0);
      for (const a of offered) assert.match(a.disabled?.reason ?? '', /locked\.onnx is read-only/);
      const fix = await apply(uri, { kind: 'quantize', bits: 8 });
      assert.ok('refusal' in fix && /read-only/.test(fix.refusal));
      const refused = await save(file, text);
      assert.equal(refused.readOnly, true);
      assert.ok(fs.readFileSync(file).equals(original));
    });

    test('a model on a read-only file system is refused the same way', async (t) => {
      const mount = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-rofs-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount], {
          stdio: 'ignore',
        });
      } catch {
        fs.rmSync(mount, { recursive: true, force: true });
        return t.skip('mounting a tmpfs needs privileges this machine does not give');
      }
      try {
        const file = path.join(mount, 'rofs.onnx');
        writeModel(file);
        execFileSync('mount', ['-o', 'remount,ro', mount]);
        const { uri, text } = await session.open(file);
        const [explain, ...offered] = await actions(uri, lineOf(text, 'conv2'));
        assert.match(String(explain.command?.arguments[0]), /read-only file system/);
        for (const a of offered) assert.match(a.disabled?.reason ?? '', /read-only file system/);
        const refused = await save(file, text);
        assert.match(refused.error ?? '', /read-only file system/);
      } finally {
        execFileSync('umount', [mount]);
        fs.rmSync(mount, { recursive: true, force: true });
      }
    });

    test('fit to device: measures sensitivity (then in the hover), plans, quantizes and fits', async () => {
      const file = path.join(dir, 'fit.onnx');
      writeModel(file);
      const { uri, text } = await session.open(file);
      const full = analyzeFile(file).totals.weightBytes;
      await session.connection.sendNotification(SettingsNotification, {
        ...DEFAULT_SETTINGS,
        device: 'small',
        devices: [
          {
            id: 'small',
            name: 'Small MCU',
            ramBytes: 1 << 20,
            flashBytes: Math.round(full * 0.5),
            macsPerSecond: { fp32: 1e8, int8: 4e8 },
            supportedWeightBits: [4, 8, 32],
            supportedActivationBits: [8, 32],
          },
        ],
      });
      await session.until(
        () => session.statuses.findLast((s) => s.uri === uri && s.device?.id === 'small'),
        'analysis for the small device',
      );
      const offered = await actions(uri, lineOf(text, 'conv2'));
      const fit = offered.find((a) => a.title.startsWith('Fit the model to Small MCU'));
      assert.ok(fit?.command, offered.map((a) => a.title).join(' | '));
      assert.match(
        await hover(uri, lineOf(text, 'conv2')),
        /Output sensitivity:\*\* not measured yet/,
      );
      const measured: { layers: number; error?: string } = await session.connection.sendRequest(
        MeasureSensitivityRequest,
        { uri },
      );
      assert.equal(measured.error, undefined);
      assert.equal(measured.layers, 3);
      assert.match(
        await hover(uri, lineOf(text, 'conv2')),
        /Output sensitivity[^]*\| bits \| 8 \| 6 \| 4 \|/,
      );
      // Measured once: closing and reopening the unchanged file keeps the table.
      await session.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
      await session.open(file);
      assert.match(await hover(uri, lineOf(text, 'conv2')), /Output sensitivity/);
      const result = await apply(uri, fit.command.arguments[0].fix);
      assert.ok('text' in result, JSON.stringify(result));
      await setText(uri, result.text);
      const status = await session.until(
        () => session.statuses.findLast((s) => s.uri === uri && s.device?.fits === true),
        'the model to fit after the fix',
      );
      assert.ok(status.device!.weightUse <= 1);
      await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    });
  },
);
