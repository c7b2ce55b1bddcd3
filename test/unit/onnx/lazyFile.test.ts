/**
 * Opening ONNX files without reading their payloads (src/core/onnx/lazyFile.ts): the structure
 * image holds zeros where large payloads lie, every payload reader gets the file's bytes, a save
 * streams them from the source (also over the source itself), and a file that ends inside a
 * payload fails in one line when that payload is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/core/analyze';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import {
  DEFAULT_MIN_HOLE_BYTES,
  payloadSource,
  readStructureImage,
  setMinHoleBytes,
} from '../../../src/core/onnx/lazyFile';
import {
  ModelLoadError,
  loadModelFile,
  parseModelBytes,
  saveModelFile,
} from '../../../src/core/onnx/load';
import { forEachFloatChunk, tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { WireWriter } from '../../../src/core/onnx/wire';
import { weightSqnr } from '../../../src/core/numerics/weightSqnr';
import { saveWithSideFile } from '../../helpers/externalData';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { payloadLastModel } from '../../helpers/payloadLast';

const cli = path.resolve(__dirname, '../../../dist/cli.js');

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-lazy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** x[1, 256] → MatMul w1[256, 256] (256 KiB, a hole) → Relu → MatMul w2[256, 8] (8 KiB, read in). */
function mlp(): Model {
  const b = new ModelBuilder({ seed: 5 });
  const x = b.input('x', DataType.FLOAT, [1, 256]);
  const w1 = b.weight('w1', [256, 256]);
  const w2 = b.weight('w2', [256, 8]);
  const [h] = b.node('MatMul', [x, w1]);
  const [r] = b.node('Relu', [h]);
  const [y] = b.node('MatMul', [r, w2]);
  b.output(y);
  return b.build();
}

function floats(t: Parameters<typeof forEachFloatChunk>[0]): Float32Array {
  const out = new Float32Array(t.dims.reduce((a, b) => a * b, 1));
  forEachFloatChunk(t, undefined, (chunk, start) => out.set(chunk, start));
  return out;
}

test('large payloads stay in the file: zeros in the image, the file bytes when read', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'm.onnx');
  const model = mlp();
  saveModelFile(model, file);
  const onDisk = fs.readFileSync(file);

  const image = readStructureImage(file);
  assert.equal(image.length, onDisk.length);
  const loaded = loadModelFile(file);
  const [w1, w2] = loaded.model.graph.initializers;
  assert.ok(payloadSource(w1.rawData!), 'w1 (256 KiB) is left in the file');
  assert.equal(payloadSource(w2.rawData!), undefined, 'w2 (8 KiB) is read in');
  assert.ok(
    w1.rawData!.every((b) => b === 0),
    'the image holds zeros where w1 lies',
  );

  // Every payload reader gets the real values.
  const expected = model.graph.initializers;
  assert.deepEqual(tensorNumbers(w1), tensorNumbers(expected[0]));
  assert.deepEqual([...floats(w1)], tensorNumbers(expected[0]).map(Math.fround));
  // Bytes outside the holes are the file's.
  const holeStart = w1.rawData!.byteOffset;
  assert.equal(Buffer.compare(image.subarray(0, holeStart), onDisk.subarray(0, holeStart)), 0);
  // encodeModel (the in-memory form) gives the file's bytes.
  assert.equal(Buffer.compare(encodeModel(loaded.model), onDisk), 0);
  // The in-memory path is unchanged: no holes, views of the given bytes.
  const inMemory = parseModelBytes(new Uint8Array(onDisk), dir);
  assert.equal(payloadSource(inMemory.model.graph.initializers[0].rawData!), undefined);
});

test('an unedited model saved over its own file is byte-identical; an edited one keeps its payloads', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'm.onnx');
  saveModelFile(mlp(), file);
  const before = fs.readFileSync(file);

  const loaded = loadModelFile(file);
  saveModelFile(loaded.model, file); // over the source: temp file, then rename
  assert.equal(Buffer.compare(fs.readFileSync(file), before), 0, 'byte-identical');

  // Edit one node (rename it): its message is re-encoded, w1 is streamed from the opened file
  // even though the path now names the file written above.
  const edited: Model = {
    ...loaded.model,
    raw: undefined,
    graph: {
      ...loaded.model.graph,
      raw: undefined,
      nodes: loaded.model.graph.nodes.map((n, i) =>
        i === 1 ? { ...n, raw: undefined, name: 'renamed' } : n,
      ),
    },
  };
  fs.writeFileSync(file, new Uint8Array(16)); // the path's content is now something else
  const out = path.join(dir, 'edited.onnx');
  saveModelFile(edited, out);
  const again = decodeModel(new Uint8Array(fs.readFileSync(out)));
  assert.equal(again.graph.nodes[1].name, 'renamed');
  assert.deepEqual(
    tensorNumbers(again.graph.initializers[0]),
    tensorNumbers(mlp().graph.initializers[0]),
  );
});

test('a file truncated inside its last payload opens; the payload fails in one line when needed', (t) => {
  const dir = tempDir(t);
  const bytes = payloadLastModel(mlp(), 'w1');
  const whole = path.join(dir, 'whole.onnx');
  fs.writeFileSync(whole, bytes);
  assert.deepEqual(
    tensorNumbers(loadModelFile(whole).model.graph.initializers[1]),
    tensorNumbers(mlp().graph.initializers[0]),
  );
  const file = path.join(dir, 'cut.onnx');
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 1000));

  // Read-only analysis: the structure is all there; the bit-width hint is a diagnostic.
  const report = analyzeFile(file);
  const hint = report.diagnostics.find((d) => /w1/.test(d.message));
  assert.ok(hint, 'a diagnostic names the unreadable weight');
  assert.match(hint.message, /truncated/);
  assert.ok(report.nodes.length >= 3);

  // Reading the payload, or saving, fails in one line.
  const loaded = loadModelFile(file);
  const w1 = loaded.model.graph.initializers[1];
  assert.throws(() => tensorNumbers(w1), /tensor 'w1'.*truncated/);
  assert.throws(
    () => saveModelFile(loaded.model, path.join(dir, 'copy.onnx')),
    (e: unknown) =>
      e instanceof ModelLoadError && /truncated/.test(e.message) && !e.message.includes('\n'),
  );
  assert.ok(!fs.existsSync(path.join(dir, 'copy.onnx')));

  if (fs.existsSync(cli)) {
    const run = spawnSync(
      process.execPath,
      [cli, 'compress', file, '-o', path.join(dir, 'q.onnx'), '--quantize', 'int8'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /truncated/);
    const analyze = spawnSync(process.execPath, [cli, 'analyze', file, '--json'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(analyze.status, 0, analyze.stderr);
  }
});

test('a file truncated inside a payload that structure follows fails at load in one line', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'm.onnx');
  saveModelFile(mlp(), file);
  const bytes = fs.readFileSync(file);
  const loaded = loadModelFile(file);
  const cut = loaded.model.graph.initializers[0].rawData!.byteOffset + 1000;
  fs.writeFileSync(file, bytes.subarray(0, cut));
  assert.throws(
    () => loadModelFile(file),
    (e: unknown) =>
      e instanceof ModelLoadError &&
      /ends inside the data of tensor 'w1'.*truncated/.test(e.message) &&
      !e.message.includes('\n'),
  );
});

test('the hole threshold is 64 KiB by default', () => {
  assert.equal(DEFAULT_MIN_HOLE_BYTES, 65536);
  const before = setMinHoleBytes(1);
  assert.equal(setMinHoleBytes(before), 1);
});

test('bit-width hints of a weight read from the file in blocks equal those from memory', (t) => {
  const dir = tempDir(t);
  const b = new ModelBuilder({ seed: 9 });
  const x = b.input('x', DataType.FLOAT, [1, 500]);
  // 300,000 floats: 1.2 MB, past one 1 MiB read block and several 64 k-element chunks, sampled.
  const [y] = b.node('MatMul', [x, b.weight('w', [500, 600])]);
  b.output(y);
  const model = b.build();
  const file = path.join(dir, 'm.onnx');
  saveModelFile(model, file);
  const lazy = loadModelFile(file).model.graph.initializers[0];
  assert.ok(payloadSource(lazy.rawData!));
  const inMemory = model.graph.initializers[0];
  for (const axis of [0, 1]) {
    assert.deepEqual(
      weightSqnr(lazy, axis, undefined, { formats: true }),
      weightSqnr(inMemory, axis, undefined, { formats: true }),
      `channel axis ${axis}`,
    );
  }
});

test('absurd declared lengths fail in one line, without a huge allocation', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'bad.onnx');
  // graph (field 7) of 2^40 bytes holding an initializer (field 5) whose raw_data (field 9) is 2^39.
  const w = new WireWriter();
  w.varintField(1, 7);
  w.tag(7, 2);
  w.varint(2 ** 40);
  w.tag(5, 2);
  w.varint(2 ** 40 - 20);
  w.tag(9, 2);
  w.varint(2 ** 39);
  w.raw(new Uint8Array(100_000).fill(7));
  fs.writeFileSync(file, w.finish());
  assert.throws(
    () => loadModelFile(file),
    (e: unknown) => e instanceof ModelLoadError && /truncated/.test(e.message),
  );
  // The same with the payload last: still refused (more than protobuf's 2 GiB declared).
  const v = new WireWriter();
  v.tag(7, 2);
  v.varint(2 ** 40);
  v.tag(5, 2);
  v.varint(2 ** 40 - 12);
  v.tag(9, 2);
  v.varint(2 ** 40 - 24);
  v.raw(new Uint8Array(100_000));
  fs.writeFileSync(file, v.finish());
  assert.throws(() => loadModelFile(file), ModelLoadError);
});

test('a side file shorter than its offsets say: a diagnostic for analysis, one line and exit 2 for compression', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'm.onnx');
  saveWithSideFile(mlp(), file);
  const side = `${file}.data`;
  // Cut the side file inside w2, the last payload.
  fs.truncateSync(side, fs.statSync(side).size - 100);

  const report = analyzeFile(file);
  const short = report.diagnostics.filter((d) => /tensor 'w2'.*runs past the end/.test(d.message));
  assert.ok(
    short.some((d) => d.severity === 'error'),
    'an error diagnostic names w2',
  );
  assert.ok(report.nodes.length >= 3, 'the rest is analysed');
  const loaded = loadModelFile(file);
  assert.deepEqual(
    tensorNumbers(loaded.model.graph.initializers[0], loaded.external),
    tensorNumbers(mlp().graph.initializers[0]),
    'w1 still reads',
  );
  assert.throws(
    () => tensorNumbers(loaded.model.graph.initializers[1], loaded.external),
    /tensor 'w2'.*runs past the end/,
  );

  if (fs.existsSync(cli)) {
    const analyze = spawnSync(process.execPath, [cli, 'analyze', file, '--json'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(analyze.status, 0, analyze.stderr);
    assert.match(analyze.stdout, /runs past the end/);
    const run = spawnSync(
      process.execPath,
      [cli, 'compress', file, '-o', path.join(dir, 'q.onnx'), '--quantize', 'int8'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /tensor 'w2'.*runs past the end/);
    assert.ok(!fs.existsSync(path.join(dir, 'q.onnx')));
  }
});

test('a file rewritten in place after opening: payload reads and saves refuse in one line', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'm.onnx');
  saveModelFile(mlp(), file);
  const loaded = loadModelFile(file);
  const w1 = loaded.model.graph.initializers[0];
  assert.ok(payloadSource(w1.rawData!));
  // Another tool truncates and rewrites the same file (same inode), as torch.onnx.export does.
  const other = fs.readFileSync(file);
  other[other.length - 1] ^= 0xff;
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, other, 0, other.length, 0);
    // A rewrite within the same millisecond would keep mtime; make the change visible.
    fs.futimesSync(fd, new Date(), new Date(Date.now() + 2000));
  } finally {
    fs.closeSync(fd);
  }
  assert.throws(() => tensorNumbers(w1), /rewritten in place since it was opened.*open it again/);
  const copy = path.join(dir, 'copy.onnx');
  assert.throws(() => saveModelFile(loaded.model, copy), /rewritten in place/);
  assert.equal(fs.existsSync(copy), false, 'no half-written file is left');
});
