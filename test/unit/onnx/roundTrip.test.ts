/**
 * Lossless I/O: what the loader reads, the writer gives back byte for byte, unknown fields survive
 * edits, tensors stay views of the file, and external data is read from the right offsets.
 * These tests use only the onnx layer (no analysis), so they guard the save path on their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeModel } from '../../../src/core/onnx/decode';
import { ExternalData } from '../../../src/core/onnx/externalData';
import { encodeModel } from '../../../src/core/onnx/encode';
import { ModelLoadError, loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import {
  TensorDataError,
  forEachFloatChunk,
  tensorNumbers,
} from '../../../src/core/onnx/tensorData';
import {
  DataType,
  type Graph,
  type Model,
  type Node,
  type Tensor,
} from '../../../src/core/onnx/types';
import { WireType, WireWriter } from '../../../src/core/onnx/wire';
import {
  ModelBuilder,
  float,
  makeTensor,
  seededRandom,
  subgraph,
} from '../../helpers/modelBuilder';

/** Repo root is three levels up from test/unit/onnx; the shared models sit next to the repo. */
const SHARED_MODELS = path.resolve(__dirname, '../../../../shared/models');

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-roundtrip-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  // Buffer.compare is a memcmp: fast enough for the 45 MB sample models.
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

// ---------------------------------------------------------------------------------------------
// (a) real exported models re-save byte-identical

const sharedFiles = fs.existsSync(SHARED_MODELS)
  ? fs
      .readdirSync(SHARED_MODELS)
      .filter((f) => f.endsWith('.onnx'))
      .sort()
  : [];

test(
  'shared sample models load and re-save byte-identical',
  { skip: sharedFiles.length === 0 ? 'no ../shared' : false },
  async (t) => {
    const dir = tempDir(t);
    for (const name of sharedFiles) {
      await t.test(name, () => {
        const src = path.join(SHARED_MODELS, name);
        const loaded = loadModelFile(src);
        assert.ok(loaded.model.graph.nodes.length > 0, 'the model has nodes');
        const out = path.join(dir, name);
        saveModelFile(loaded.model, out);
        const original = fs.readFileSync(src);
        const saved = fs.readFileSync(out);
        assert.equal(saved.length, original.length, 'same size');
        assert.ok(sameBytes(saved, original), 'byte-identical');
        // Atomic save leaves no temp file behind.
        assert.deepEqual(
          fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
          [],
        );
      });
    }
  },
);

// ---------------------------------------------------------------------------------------------
// (b) unknown fields at every level survive an edit

/** One unknown field of each wire type: a varint, a fixed32 and a length-delimited payload. */
function unknownFields(fieldNumber: number): Uint8Array[] {
  const varint = new WireWriter();
  varint.varintField(fieldNumber, 123456789);
  const fixed = new WireWriter();
  fixed.tag(fieldNumber, WireType.Fixed32);
  fixed.fixed32(0xdeadbeef);
  const ld = new WireWriter();
  ld.lengthDelimited(fieldNumber, new TextEncoder().encode(`future field ${fieldNumber}`));
  return [varint.finish(), fixed.finish(), ld.finish()];
}

const MODEL_EXTRA = unknownFields(99);
const GRAPH_EXTRA = unknownFields(98);
const NODE_EXTRA = unknownFields(97);
const TENSOR_EXTRA = unknownFields(96);

function assertExtra(
  actual: readonly Uint8Array[],
  expected: readonly Uint8Array[],
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: number of unknown fields`);
  for (let i = 0; i < expected.length; i++) {
    assert.deepEqual([...actual[i]], [...expected[i]], `${what}: unknown field ${i} bytes`);
  }
}

/** A three-node model whose model, graph, every node and every initializer carry unknown fields. */
function modelWithUnknownFields(): Model {
  const b = new ModelBuilder({ seed: 7 });
  const x = b.input('x', DataType.FLOAT, [1, 8]);
  const w = b.weight('w', [8, 4]);
  const bias = b.weight('bias', [4]);
  const [mm] = b.node('MatMul', [x, w], {}, { name: 'mm' });
  const [add] = b.node('Add', [mm, bias], {}, { name: 'add' });
  const [y] = b.node('Relu', [add], {}, { name: 'relu' });
  b.output(y, DataType.FLOAT, [1, 4]);
  const m = b.build();
  const graph: Graph = {
    ...m.graph,
    extra: GRAPH_EXTRA,
    nodes: m.graph.nodes.map((n) => ({ ...n, extra: NODE_EXTRA })),
    initializers: m.graph.initializers.map((t) => ({ ...t, extra: TENSOR_EXTRA })),
  };
  return { ...m, extra: MODEL_EXTRA, graph };
}

test('unknown fields at every level are decoded into extra', () => {
  const decoded = decodeModel(encodeModel(modelWithUnknownFields()));
  assertExtra(decoded.extra, MODEL_EXTRA, 'model');
  assertExtra(decoded.graph.extra, GRAPH_EXTRA, 'graph');
  assert.equal(decoded.graph.nodes.length, 3);
  for (const n of decoded.graph.nodes) assertExtra(n.extra, NODE_EXTRA, `node ${n.name}`);
  assert.equal(decoded.graph.initializers.length, 2);
  for (const t of decoded.graph.initializers)
    assertExtra(t.extra, TENSOR_EXTRA, `tensor ${t.name}`);
});

test('after editing one node, every unknown field is still written, unedited nodes verbatim', () => {
  const original = decodeModel(encodeModel(modelWithUnknownFields()));
  const [mmNode, addNode, reluNode] = original.graph.nodes;
  assert.ok(mmNode.raw && addNode.raw && reluNode.raw, 'decoded nodes keep their bytes');

  // The edit: a new object for the Add node (no `raw`), keeping its unknown fields.
  const edited: Node = {
    extra: addNode.extra,
    name: 'add_renamed',
    opType: addNode.opType,
    domain: addNode.domain,
    inputs: addNode.inputs,
    outputs: addNode.outputs,
    attributes: addNode.attributes,
    docString: 'edited by the test',
  };
  const graph: Graph = {
    extra: original.graph.extra,
    name: original.graph.name,
    nodes: [mmNode, edited, reluNode],
    initializers: original.graph.initializers,
    sparseInitializers: original.graph.sparseInitializers,
    inputs: original.graph.inputs,
    outputs: original.graph.outputs,
    valueInfo: original.graph.valueInfo,
    docString: original.graph.docString,
  };
  // A model edit: a new object, without the original bytes.
  const model: Model = { ...original, raw: undefined, graph };
  assert.equal(model.raw, undefined);
  assert.equal(model.graph.raw, undefined);

  const bytes = encodeModel(model);
  const again = decodeModel(bytes);
  assertExtra(again.extra, MODEL_EXTRA, 'model');
  assertExtra(again.graph.extra, GRAPH_EXTRA, 'graph');
  for (const n of again.graph.nodes) assertExtra(n.extra, NODE_EXTRA, `node ${n.name}`);
  for (const t of again.graph.initializers) assertExtra(t.extra, TENSOR_EXTRA, `tensor ${t.name}`);

  // The edit took effect...
  assert.equal(again.graph.nodes[1].name, 'add_renamed');
  assert.equal(again.graph.nodes[1].docString, 'edited by the test');
  // ...and the untouched messages were copied, not re-encoded.
  assert.ok(sameBytes(again.graph.nodes[0].raw!, mmNode.raw), 'MatMul node bytes verbatim');
  assert.ok(sameBytes(again.graph.nodes[2].raw!, reluNode.raw), 'Relu node bytes verbatim');
  for (let i = 0; i < original.graph.initializers.length; i++) {
    assert.ok(
      sameBytes(again.graph.initializers[i].raw!, original.graph.initializers[i].raw!),
      `initializer ${i} bytes verbatim`,
    );
  }
  // Weight values unchanged.
  assert.deepEqual(
    tensorNumbers(again.graph.initializers[0]),
    tensorNumbers(original.graph.initializers[0]),
  );
});

// ---------------------------------------------------------------------------------------------
// (c) a freshly built model is encoded canonically

/** Deep copy without any `raw`, as if every message had been edited: forces a full re-encode. */
function stripRaw<T>(value: T): T {
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => stripRaw(v)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== 'raw') out[k] = stripRaw(v);
  return out as T;
}

function freshModel(): Model {
  const b = new ModelBuilder({ seed: 3 });
  const x = b.input('x', DataType.FLOAT, ['batch', 3, 8, 8]);
  const cond = b.input('cond', DataType.BOOL, []);
  const w = b.weight('conv.weight', [4, 3, 3, 3]);
  const bias = b.weight('conv.bias', [4]);
  const [c] = b.node('Conv', [x, w, bias], { pads: [1, 1, 1, 1], strides: [1, 1], group: 1 });
  const [shape] = b.node(
    'Constant',
    [],
    { value: makeTensor('shape', DataType.INT64, [2], [-1, 256]) },
    { name: 'const_shape' },
  );
  const [r] = b.node('Reshape', [c, shape]);
  const thenG = subgraph((s) => {
    const [o] = s.node('Relu', [r], {}, { outputs: ['then_out'] });
    s.output(o, DataType.FLOAT, ['batch', 256]);
  }, 'then');
  const elseG = subgraph((s) => {
    const [o] = s.node('LeakyRelu', [r], { alpha: float(0.1) }, { outputs: ['else_out'] });
    s.output(o, DataType.FLOAT, ['batch', 256]);
  }, 'else');
  const [y] = b.node('If', [cond], { then_branch: thenG, else_branch: elseG });
  const [z] = b.node('Softmax', [y], { axis: -1 });
  b.node(
    'Identity',
    [z],
    { note: 'a string', tags: ['a', 'b'], scales: [float(0.5), float(2)] },
    {
      outputs: ['out'],
    },
  );
  b.output('out', DataType.FLOAT, ['batch', 256]);
  return b.build();
}

test('a fresh-built model encodes, decodes and re-encodes to identical bytes', () => {
  const m = freshModel();
  const first = encodeModel(m);
  const decoded = decodeModel(first);
  // With `raw` kept, re-encoding is a copy.
  assert.ok(sameBytes(encodeModel(decoded), first));
  // Without `raw`, every message is encoded from its fields: still the same bytes, so decode
  // keeps everything the encoder writes and the encoder is deterministic.
  const stripped = stripRaw(decoded);
  assert.equal(stripped.raw, undefined);
  assert.equal(stripped.graph.nodes[0].raw, undefined);
  const second = encodeModel(stripped);
  assert.equal(second.length, first.length);
  assert.ok(sameBytes(second, first), 're-encoded bytes identical');
  // And encoding the builder's object twice gives the same bytes too.
  assert.ok(sameBytes(encodeModel(freshModel()), first));
});

// ---------------------------------------------------------------------------------------------
// (d) tensors are views of the file buffer

test('after load, initializer data is a view of the file buffer, not a copy', (t) => {
  const dir = tempDir(t);
  const b = new ModelBuilder({ seed: 11 });
  const x = b.input('x', DataType.FLOAT, [1, 64]);
  const w = b.weight('w', [64, 64]); // 16 KiB: bigger than Node's small-buffer pool slices
  const [y] = b.node('MatMul', [x, w]);
  b.output(y);
  const file = path.join(dir, 'm.onnx');
  saveModelFile(b.build(), file);

  const loaded = loadModelFile(file);
  const fileBytes = loaded.model.raw;
  assert.ok(fileBytes, 'the model keeps its file bytes');
  assert.equal(fileBytes.length, fs.statSync(file).size);
  const init = loaded.model.graph.initializers[0];
  assert.ok(init.rawData);
  assert.equal(init.rawData.buffer, fileBytes.buffer, 'same ArrayBuffer as the file');
  assert.ok(init.rawData.byteOffset >= fileBytes.byteOffset);
  assert.ok(
    init.rawData.byteOffset + init.rawData.length <= fileBytes.byteOffset + fileBytes.length,
  );
  // Sub-messages are views too.
  assert.equal(loaded.model.graph.raw!.buffer, fileBytes.buffer);
  assert.equal(init.raw!.buffer, fileBytes.buffer);
  // The values read through the view match what was written.
  const expected = b.build().graph.initializers[0];
  assert.deepEqual(tensorNumbers(init), tensorNumbers(expected));
});

// ---------------------------------------------------------------------------------------------
// (e) external data in two side files

function externalTensor(
  name: string,
  dataType: DataType,
  dims: readonly number[],
  location: string,
  offset?: number,
  length?: number,
): Tensor {
  const entries = [{ extra: [], key: 'location', value: location }];
  if (offset !== undefined) entries.push({ extra: [], key: 'offset', value: String(offset) });
  if (length !== undefined) entries.push({ extra: [], key: 'length', value: String(length) });
  return {
    extra: [],
    name,
    dataType,
    dims: [...dims],
    externalEntries: entries,
    dataLocation: 1,
    docString: '',
  };
}

function externalModel(initializers: Tensor[]): Model {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  let cur = x;
  for (const t of initializers) {
    if (t.dataType === DataType.FLOAT && t.dims.length === 2)
      [cur] = b.node('MatMul', [cur, t.name]);
  }
  b.output(cur);
  const m = b.build();
  return { ...m, graph: { ...m.graph, initializers } };
}

function randomFloats(n: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  return Float32Array.from({ length: n }, () => rnd() * 2 - 1);
}

test('external data in two side files (one in a subfolder) is read from the right offsets', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'weights'));
  const w1 = randomFloats(4 * 16, 1);
  const w2 = randomFloats(16 * 4, 2);
  const big = randomFloats(200_000, 3); // > one 65,536-element chunk of forEachFloatChunk
  const ids = BigInt64Array.from([5n, -7n, 1n << 40n]);

  // Side file A (next to the model): 3 bytes of padding so w1 is unaligned, then w1, then ids.
  const a = new Uint8Array(3 + w1.byteLength + 5 + ids.byteLength);
  a.set(new Uint8Array(w1.buffer), 3);
  const idsOffset = 3 + w1.byteLength + 5;
  a.set(new Uint8Array(ids.buffer), idsOffset);
  fs.writeFileSync(path.join(dir, 'a.bin'), a);
  // Side file B (in weights/): 4096 bytes of padding, w2, then big running to the end of file.
  const bOffset2 = 4096;
  const bOffsetBig = bOffset2 + w2.byteLength;
  const bFile = new Uint8Array(bOffsetBig + big.byteLength);
  bFile.set(new Uint8Array(w2.buffer), bOffset2);
  bFile.set(new Uint8Array(big.buffer), bOffsetBig);
  fs.writeFileSync(path.join(dir, 'weights', 'b.bin'), bFile);

  const model = externalModel([
    externalTensor('w1', DataType.FLOAT, [4, 16], 'a.bin', 3, w1.byteLength),
    externalTensor('w2', DataType.FLOAT, [16, 4], 'weights/b.bin', bOffset2, w2.byteLength),
    externalTensor('ids', DataType.INT64, [3], 'a.bin', idsOffset, ids.byteLength),
    externalTensor('big', DataType.FLOAT, [big.length], 'weights/b.bin', bOffsetBig), // no length
  ]);
  const file = path.join(dir, 'model.onnx');
  saveModelFile(model, file);

  const loaded = loadModelFile(file);
  const byName = new Map(loaded.model.graph.initializers.map((x) => [x.name, x]));
  assert.deepEqual(byName.get('w1')!.external, {
    location: 'a.bin',
    offset: 3,
    length: w1.byteLength,
  });
  assert.equal(byName.get('big')!.external!.length, undefined);

  assert.deepEqual(tensorNumbers(byName.get('w1')!, loaded.external), [...w1]);
  assert.deepEqual(tensorNumbers(byName.get('w2')!, loaded.external), [...w2]);
  assert.deepEqual(tensorNumbers(byName.get('ids')!, loaded.external), [5, -7, 2 ** 40]);

  for (const [name, expected] of [
    ['w1', w1],
    ['w2', w2],
    ['big', big],
  ] as const) {
    const got = new Float32Array(expected.length);
    let visited = 0;
    forEachFloatChunk(byName.get(name)!, loaded.external, (chunk, start) => {
      assert.equal(start, visited, `${name}: chunks arrive in order`);
      got.set(chunk, start);
      visited += chunk.length;
    });
    assert.equal(visited, expected.length, `${name}: every element visited`);
    assert.ok(
      sameBytes(new Uint8Array(got.buffer), new Uint8Array(expected.buffer)),
      `${name}: values`,
    );
  }
});

test('side files too large for one buffer are read per tensor, with the same bytes', (t) => {
  const dir = tempDir(t);
  const w = Float32Array.from({ length: 64 }, (_, i) => i * 0.25 - 3);
  const bytes = new Uint8Array(5 + w.byteLength);
  bytes.set(new Uint8Array(w.buffer), 5);
  fs.writeFileSync(path.join(dir, 'huge.bin'), bytes);
  const ref = { location: 'huge.bin', offset: 5, length: w.byteLength };
  // A 16-byte limit stands in for the 2 GiB one: this file takes the per-tensor path.
  const perTensor = new ExternalData(dir, 16);
  const first = perTensor.read(ref, 'w');
  assert.ok(sameBytes(first, new Uint8Array(w.buffer)));
  // Each read comes from the file, not from a cached whole-file buffer.
  first[0] ^= 0xff;
  assert.ok(sameBytes(perTensor.read(ref, 'w'), new Uint8Array(w.buffer)), 'fresh read from disk');
  const whole = new ExternalData(dir);
  assert.equal(whole.read(ref, 'w').buffer, whole.read(ref, 'w').buffer);
});

function expectLoadError(file: string, pattern: RegExp): void {
  assert.throws(
    () => loadModelFile(file),
    (e: unknown) => {
      assert.ok(e instanceof ModelLoadError, `expected ModelLoadError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one-line message');
      return true;
    },
  );
}

test('an external location escaping the model folder is rejected', (t) => {
  const root = tempDir(t);
  const dir = path.join(root, 'model');
  fs.mkdirSync(dir);
  // The escaped-to file exists, so the rejection is about the path, not a missing file.
  fs.writeFileSync(path.join(root, 'x.bin'), new Uint8Array(64));
  const file = path.join(dir, 'model.onnx');
  saveModelFile(
    externalModel([externalTensor('w', DataType.FLOAT, [4, 4], '../x.bin', 0, 64)]),
    file,
  );
  expectLoadError(file, /outside/);

  saveModelFile(
    externalModel([externalTensor('w', DataType.FLOAT, [4, 4], 'sub/../../x.bin', 0, 64)]),
    file,
  );
  expectLoadError(file, /outside/);
});

test('an absolute external location is rejected', (t) => {
  const dir = tempDir(t);
  const side = path.join(dir, 'abs.bin');
  fs.writeFileSync(side, new Uint8Array(64));
  const file = path.join(dir, 'model.onnx');
  saveModelFile(externalModel([externalTensor('w', DataType.FLOAT, [4, 4], side, 0, 64)]), file);
  expectLoadError(file, /relative/);
});

test('a missing side file is rejected at load', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'model.onnx');
  saveModelFile(
    externalModel([externalTensor('w', DataType.FLOAT, [4, 4], 'nope.bin', 0, 64)]),
    file,
  );
  expectLoadError(file, /not found/);
});

test('a too-short side file opens, and fails in one line when the payload is needed', (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'short.bin'), new Uint8Array(40));
  const file = path.join(dir, 'model.onnx');
  // The declared range runs past the end of the file: the model opens (its structure is whole);
  // reading the payload, or saving a copy, fails with one line.
  for (const [offset, length] of [
    [0, 64],
    [32, 16],
  ]) {
    saveModelFile(
      externalModel([externalTensor('w', DataType.FLOAT, [4, 4], 'short.bin', offset, length)]),
      file,
    );
    const loaded = loadModelFile(file);
    const w = loaded.model.graph.initializers[0];
    for (const read of [
      () => tensorNumbers(w, loaded.external),
      () => forEachFloatChunk(w, loaded.external, () => undefined),
    ]) {
      assert.throws(read, (e: unknown) => {
        assert.ok(e instanceof Error && /runs past the end/.test(e.message), String(e));
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    }
  }
  // No length given and the file holds fewer bytes than the shape needs: never read as values.
  saveModelFile(externalModel([externalTensor('w', DataType.FLOAT, [4, 4], 'short.bin')]), file);
  assert.throws(
    () => {
      const loaded = loadModelFile(file);
      tensorNumbers(loaded.model.graph.initializers[0], loaded.external);
    },
    (e: unknown) => e instanceof ModelLoadError || e instanceof TensorDataError,
  );
  assert.throws(
    () => {
      const loaded = loadModelFile(file);
      forEachFloatChunk(loaded.model.graph.initializers[0], loaded.external, () => undefined);
    },
    (e: unknown) => e instanceof ModelLoadError || e instanceof TensorDataError,
  );
});
