/**
 * Bad .tflite files: each is rejected with a ModelLoadError whose one-line message says what is
 * wrong, and never with another exception or a hang.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { Builder } from 'flatbuffers';
import { ModelLoadError } from '../../../src/core/onnx/load';
import { loadTfliteFile, parseTfliteBytes } from '../../../src/core/tflite/load';
import { buildTflite, type ModelSpec } from '../../helpers/tfliteBuilder';

/** input 0 → FULLY_CONNECTED (weights 1 in buffer 1) → output 2. */
function spec(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return {
    operatorCodes: [{ builtinCode: 9 }],
    subgraphs: [
      {
        tensors: [
          { name: 'x', shape: [1, 4] },
          { name: 'w', shape: [0x5a5a5a5a], buffer: 1 },
          { name: 'y', shape: [1, 2] },
        ],
        inputs: [0],
        outputs: [2],
        operators: [{ opcodeIndex: 0, inputs: [0, 1, -1], outputs: [2] }],
      },
    ],
    buffers: [{ data: new Uint8Array(8) }],
    ...overrides,
  };
}

function withOperator(op: ModelSpec['subgraphs'][0]['operators'][0]): ModelSpec {
  const s = spec();
  return { ...s, subgraphs: [{ ...s.subgraphs[0], operators: [op] }] };
}

/** Asserts a ModelLoadError whose single-line message matches `pattern`. */
function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => parseTfliteBytes(bytes, '/models/bad.tflite'),
    (e: unknown) => {
      assert.ok(e instanceof ModelLoadError, `not a ModelLoadError: ${String(e)}`);
      assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
      assert.match(e.message, /^bad\.tflite: not a valid TFLite model \(/);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

/** The position of the first little-endian int32 `value` in the file. */
function findInt32(bytes: Uint8Array, value: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i + 4 <= bytes.length; i++) if (view.getInt32(i, true) === value) return i;
  throw new Error(`no ${value} in the file`);
}

describe('TFLite reader: bad input is reported, never a crash', () => {
  test('the well-formed base case decodes', () => {
    assert.equal(parseTfliteBytes(buildTflite(spec())).subgraphs[0].tensors.length, 3);
  });

  test('an empty file', () => {
    rejects(new Uint8Array(0), /the file is empty/);
  });

  test('a file truncated anywhere', () => {
    const bytes = buildTflite(spec());
    for (const length of [3, 8, 20, bytes.length >> 1, bytes.length - 4]) {
      rejects(bytes.subarray(0, length), /.+/);
    }
  });

  test('no TFL3 identifier, or another schema version', () => {
    rejects(buildTflite(spec({ identifier: 'ONNX' })), /no TFL3 file identifier/);
    rejects(buildTflite(spec({ version: 2 })), /schema version 2; Model Lens reads version 3/);
  });

  test('a root offset outside the file', () => {
    const bytes = buildTflite(spec());
    new DataView(bytes.buffer).setUint32(0, 0x7fff0000, true);
    rejects(bytes, /outside the file/);
  });

  test('a table whose vtable lies outside the file', () => {
    const bytes = buildTflite(spec());
    const root = new DataView(bytes.buffer).getUint32(0, true);
    new DataView(bytes.buffer).setInt32(root, -0x100000, true);
    rejects(bytes, /Model table at \d+: its vtable lies outside the file/);
  });

  test('a vector longer than the file', () => {
    const bytes = buildTflite(spec());
    const shape = findInt32(bytes, 0x5a5a5a5a);
    new DataView(bytes.buffer).setUint32(shape - 4, 0x10000000, true);
    rejects(bytes, /Tensor\.shape claims 268435456 elements, more than the file holds/);
  });

  test('an operator input, output or intermediate that names no tensor', () => {
    rejects(
      buildTflite(withOperator({ opcodeIndex: 0, inputs: [0, 7], outputs: [2] })),
      /subgraph 0 operator 0 \(FULLY_CONNECTED\) input refers to tensor 7, but the subgraph has 3 tensors/,
    );
    rejects(
      buildTflite(withOperator({ opcodeIndex: 0, inputs: [0, 1], outputs: [-2] })),
      /output refers to tensor -2/,
    );
    rejects(
      buildTflite(
        withOperator({ opcodeIndex: 0, inputs: [0, 1], outputs: [2], intermediates: [3] }),
      ),
      /intermediate refers to tensor 3/,
    );
  });

  test('a graph input or output out of range (no -1 allowed there)', () => {
    const s = spec();
    rejects(
      buildTflite({ ...s, subgraphs: [{ ...s.subgraphs[0], outputs: [-1] }] }),
      /subgraph 0 output refers to tensor -1/,
    );
  });

  test('an operator code index out of range', () => {
    rejects(
      buildTflite(withOperator({ opcodeIndex: 4, inputs: [0, 1], outputs: [2] })),
      /subgraph 0 operator 0 uses operator code 4, but the model has 1/,
    );
  });

  test('a tensor buffer index out of range', () => {
    const s = spec();
    const tensors = [...s.subgraphs[0].tensors];
    tensors[1] = { ...tensors[1], buffer: 9 };
    rejects(
      buildTflite({ ...s, subgraphs: [{ ...s.subgraphs[0], tensors }] }),
      /subgraph 0 tensor 1 refers to buffer 9, but the model has 2 buffers/,
    );
  });

  test('a buffer stored outside the flatbuffer past the end of the file', () => {
    rejects(
      buildTflite(spec({ buffers: [{ offset: 1_000_000, size: 16 }] })),
      /buffer 1 stores 16 bytes at offset 1000000, past the end of the \d+-byte file/,
    );
    const bytes = buildTflite(spec({ buffers: [{ outside: new Uint8Array(64) }] }));
    rejects(bytes.subarray(0, bytes.length - 1), /buffer 1 stores 64 bytes/);
  });

  test('metadata naming a missing buffer, and an OfflineMemoryAllocation shorter than it says', () => {
    rejects(
      buildTflite(spec({ metadata: [{ name: 'min_runtime_version', buffer: 5 }] })),
      /metadata 0 \(min_runtime_version\) refers to buffer 5/,
    );
    const plan = new Uint8Array(new Int32Array([1, 0, 40, 0, 0]).buffer);
    rejects(
      buildTflite(
        spec({
          buffers: [{ data: new Uint8Array(8) }, { data: plan }],
          metadata: [{ name: 'OfflineMemoryAllocation', buffer: 2 }],
        }),
      ),
      /OfflineMemoryAllocation metadata lists 40 tensors but holds 2 offsets/,
    );
  });

  test('a signature naming a missing subgraph or tensor', () => {
    const signature = (subgraphIndex: number, tensorIndex: number) =>
      spec({
        signatureDefs: [
          { key: 'serving', subgraphIndex, inputs: [{ name: 'x', tensorIndex }], outputs: [] },
        ],
      });
    rejects(buildTflite(signature(3, 0)), /signature 0 \(serving\) refers to subgraph 3/);
    rejects(buildTflite(signature(0, 30)), /signature 0 \(serving\) inputs refers to tensor 30/);
  });

  test('a model without subgraphs', () => {
    rejects(buildTflite(spec({ subgraphs: [] })), /the model has no subgraphs/);
  });

  test('one huge vector referenced thousands of times is refused quickly, not decoded each time', () => {
    // 4,000 tensor entries all pointing at one tensor whose shape has 20,000 dims: a reader
    // without a budget would decode 80 million dims from a 100 KB file.
    const b = new Builder(1 << 17);
    b.startVector(4, 20_000, 4);
    for (let i = 0; i < 20_000; i++) b.addInt32(1);
    const shape = b.endVector();
    b.startObject(3);
    b.addFieldOffset(0, shape, 0);
    const tensor = b.endObject();
    b.startVector(4, 4_000, 4);
    for (let i = 0; i < 4_000; i++) b.addOffset(tensor);
    const tensors = b.endVector();
    b.startObject(1);
    b.addFieldOffset(0, tensors, 0);
    const subgraph = b.endObject();
    b.startVector(4, 1, 4);
    b.addOffset(subgraph);
    const subgraphs = b.endVector();
    b.startObject(0);
    const emptyBuffer = b.endObject();
    b.startVector(4, 1, 4);
    b.addOffset(emptyBuffer);
    const buffers = b.endVector();
    b.startObject(5);
    b.addFieldInt32(0, 3, null);
    b.addFieldOffset(2, subgraphs, 0);
    b.addFieldOffset(4, buffers, 0);
    b.finish(b.endObject(), 'TFL3');
    const started = Date.now();
    rejects(b.asUint8Array(), /refers to the same data too many times/);
    assert.ok(Date.now() - started < 1000, 'refused quickly');
  });

  test('a missing file and a folder', () => {
    assert.throws(() => loadTfliteFile('/nonexistent/model.tflite'), {
      name: 'ModelLoadError',
      message: '/nonexistent/model.tflite: no such file',
    });
    const dir = path.join(os.tmpdir());
    assert.throws(() => loadTfliteFile(dir), {
      name: 'ModelLoadError',
      message: `${dir} is a folder, not a model file`,
    });
  });
});
