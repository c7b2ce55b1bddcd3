/**
 * The server publishes a model's first diagnostics before its bit-width hints, which read every
 * weight, and publishes again once they are done; a request in between sees the whole report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { payloadLastModel } from '../../helpers/payloadLast';
import { ServerSession } from '../../helpers/serverSession';

const serverJs = path.resolve(__dirname, '../../../dist/server.js');

/** x[1, 256] → MatMul 'mm1' (w1[256, 256], 256 KiB: left in the file) → Relu → MatMul 'mm2'. */
function twoLayers() {
  const b = new ModelBuilder({ seed: 5 });
  const x = b.input('x', DataType.FLOAT, [1, 256]);
  const [h] = b.node('MatMul', [x, b.weight('w1', [256, 256])], {}, { name: 'mm1' });
  const [r] = b.node('Relu', [h], {}, { name: 'relu' });
  const [y] = b.node('MatMul', [r, b.weight('w2', [256, 8])], {}, { name: 'mm2' });
  b.output(y);
  return b.build();
}

test('the hints pass publishes its own diagnostics after the first ones (a truncated weight)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-hints-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bytes = payloadLastModel(twoLayers(), 'w1');
  const file = path.join(dir, 'cut.onnx');
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 1000));
  const session = await ServerSession.start(serverJs);
  t.after(() => session.stop());
  const { uri } = await session.open(file);
  // Only the hints read w1: their warning comes with the publish that follows them.
  const diagnostics = await session.until(() => {
    const d = session.diagnostics.get(uri);
    return d?.some((x) => /bit-width hints/.test(x.message)) ? d : undefined;
  }, 'the hints’ diagnostics');
  const warning = diagnostics.find((x) => /bit-width hints/.test(x.message))!;
  assert.match(warning.message, /w1.*truncated|truncated.*w1/);
});

test('a request right after opening sees the bit-width hints', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-hints-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, payloadLastModel(twoLayers(), 'w1'));
  const session = await ServerSession.start(serverJs);
  t.after(() => session.stop());
  const { uri, text } = await session.open(file);
  const line = text.split('\n').findIndex((l) => / = MatMul/.test(l));
  const hover: { contents: { value: string } } = await session.connection.sendRequest(
    'textDocument/hover',
    { textDocument: { uri }, position: { line, character: 4 } },
  );
  assert.match(hover.contents.value, /Why \d+-bit/);
});
