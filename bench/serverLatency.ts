/**
 * Editor latency, measured at the analyzer server over stdio (the editor talks to it over IPC):
 * the time from asking for a model's text to its first diagnostics, then hover latency over
 * every layer line. Prints one JSON line per model.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModelFile } from '../src/core/onnx/load';
import { DataType } from '../src/core/onnx/types';
import { ModelBuilder } from '../test/helpers/modelBuilder';
import { ServerSession } from '../test/helpers/serverSession';
import { DEFAULT_SETTINGS } from '../src/server/modelStore';
import {
  ApplyFixRequest,
  SaveModelRequest,
  SettingsNotification,
  type ApplyFixResult,
} from '../src/shared/protocol';

const HOVERS = 300;

async function measure(serverJs: string, original: string): Promise<void> {
  // A copy: the quick-fix step saves over the file it opened.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-bench-'));
  const file = path.join(dir, path.basename(original));
  fs.copyFileSync(original, file);
  fs.chmodSync(file, 0o644); // ../shared originals are read-only; the copy gets a quick fix
  const session = await ServerSession.start(serverJs);
  try {
    await session.connection.sendNotification(SettingsNotification, {
      ...DEFAULT_SETTINGS,
      device: 'stm32h743',
    });
    const start = performance.now();
    const { uri, text } = await session.open(file);
    await session.until(() => session.diagnostics.get(uri), 'first diagnostics');
    const toDiagnostics = performance.now() - start;
    const lines = text.split('\n');
    const layerLines = lines.flatMap((l, i) =>
      / = \w+ [<(]/.test(l) && !l.includes('= Identity') ? [i] : [],
    );
    const latencies: number[] = [];
    for (let k = 0; k < HOVERS; k++) {
      const line = layerLines[k % layerLines.length];
      const t0 = performance.now();
      await session.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: { line, character: 4 },
      });
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);

    // A quick fix on the whole model (int8, every layer) as the editor applies it: compute the new
    // state, replace the text, wait for its diagnostics; then save it.
    const t1 = performance.now();
    const fix: ApplyFixResult = await session.connection.sendRequest(ApplyFixRequest, {
      uri,
      fix: { kind: 'quantize', bits: 8 },
    });
    if (!('text' in fix)) throw new Error(`quick fix refused: ${fix.refusal}`);
    const fixMs = performance.now() - t1;
    const seen = session.diagnostics.get(uri);
    await session.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: fix.text }],
    });
    await session.until(
      () => (session.diagnostics.get(uri) !== seen ? true : undefined),
      'diagnostics of the fixed model',
    );
    const fixToDiagnosticsMs = performance.now() - t1;
    const t2 = performance.now();
    const saved: { error?: string } = await session.connection.sendRequest(SaveModelRequest, {
      path: file,
      text: fix.text,
    });
    if (saved.error) throw new Error(saved.error);
    const saveMs = performance.now() - t2;
    const pct = (p: number): number =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    console.log(
      JSON.stringify({
        file: path.basename(file),
        toDiagnosticsMs: toDiagnostics,
        hoverP50Ms: pct(0.5),
        hoverP95Ms: pct(0.95),
        hovers: HOVERS,
        fixMs,
        fixToDiagnosticsMs,
        saveMs,
      }),
    );
  } finally {
    session.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A 5,000-node transformer-like chain (MatMul, Add, LayerNormalization, Gelu), to check the
 * text view stays usable on graphs of that size. */
function bigGraph(): string {
  const b = new ModelBuilder({ opset: 20 });
  let x = b.input('tokens', DataType.FLOAT, [1, 128, 64]);
  for (let i = 0; i < 1250; i++) {
    [x] = b.node(
      'MatMul',
      [x, b.weight(`w${i}`, [64, 64])],
      {},
      { name: `/layers.${i}/fc/MatMul` },
    );
    [x] = b.node('Add', [x, b.weight(`b${i}`, [64])], {}, { name: `/layers.${i}/fc/Add` });
    [x] = b.node(
      'LayerNormalization',
      [x, b.weight(`g${i}`, [64]), b.weight(`beta${i}`, [64])],
      { axis: -1 },
      { name: `/layers.${i}/norm/LayerNormalization` },
    );
    [x] = b.node('Gelu', [x], {}, { name: `/layers.${i}/act/Gelu` });
  }
  b.output(x);
  const file = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-bench-')),
    'graph-5000-nodes.onnx',
  );
  saveModelFile(b.build(), file);
  return file;
}

async function main(): Promise<void> {
  const [serverJs, ...files] = process.argv.slice(2);
  for (const f of [...files, bigGraph()]) await measure(serverJs, f);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
