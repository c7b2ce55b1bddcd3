/**
 * Sparse TFLite constants (tflite/sparse.ts): hand-made TACO tensors with known dense results
 * (CSR, column-major CSR, 1×4 and 4×1 blocks, a 4-D filter sparse along one dim, uint8/uint16
 * index vectors), the analysis of a network whose FULLY_CONNECTED weight is sparse (params dense,
 * weight bytes as stored, MACs unchanged, hints from the real values), and malformed metadata:
 * a reason or a diagnostic, never an exception from the densifier or the analysis.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeBytes, analyzeLoaded } from '../../../src/core/analyze';
import { parseAnyModelBytes } from '../../../src/core/modelFile';
import { ModelLoadError } from '../../../src/core/onnx/load';
import { printModelView } from '../../../src/core/text/modelView';
import {
  checkSparsity,
  densifySparse,
  sparseStorageOf,
  storedSparseBytes,
} from '../../../src/core/tflite/sparse';
import type { DimensionMetadata, Sparsity } from '../../../src/core/tflite/types';
import type { SparsitySpec } from '../../helpers/tfliteBuilder';
import { BUILTIN, TYPE, TfliteNetwork, fullyConnected } from '../../helpers/tfliteNetwork';

const dense = (size: number): DimensionMetadata => ({ format: 'DENSE', denseSize: size });
const csr = (segments: number[], indices: number[]): DimensionMetadata => ({
  format: 'SPARSE_CSR',
  denseSize: 0,
  arraySegments: segments,
  arrayIndices: indices,
});

function f32(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Densifies float32 values and returns the dense numbers (or fails the test with the reason). */
function densified(shape: number[], sparsity: Sparsity, values: readonly number[]): number[] {
  const r = densifySparse(shape, sparsity, f32(values), 4);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return [...new Float32Array(r.dense.slice().buffer)];
}

/** Test-side encoder: CSR along the last dim of a row-major dense tensor, the rest DENSE. */
function csrLastDim(values: readonly number[], shape: readonly number[]) {
  const cols = shape[shape.length - 1];
  const segments = [0];
  const indices: number[] = [];
  const stored: number[] = [];
  for (let r = 0; r < values.length / cols; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c];
      if (v !== 0) {
        indices.push(c);
        stored.push(v);
      }
    }
    segments.push(indices.length);
  }
  const sparsity: Sparsity = {
    traversalOrder: shape.map((_, i) => i),
    blockMap: [],
    dimMetadata: [...shape.slice(0, -1).map(dense), csr(segments, indices)],
  };
  return { sparsity, stored };
}

describe('densifying TACO tensors', () => {
  test('2-D CSR, dims [DENSE, SPARSE_CSR]', () => {
    // [[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4]]
    const s: Sparsity = {
      traversalOrder: [0, 1],
      blockMap: [],
      dimMetadata: [dense(3), csr([0, 2, 2, 4], [1, 3, 0, 3])],
    };
    assert.deepEqual(densified([3, 4], s, [1, 2, 3, 4]), [0, 1, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4]);
  });

  test('traversal order [1, 0]: column-major CSR (CSC)', () => {
    // The same matrix, walked column by column: column 0 has row 2, column 1 row 0, column 3 rows 0, 2.
    const s: Sparsity = {
      traversalOrder: [1, 0],
      blockMap: [],
      dimMetadata: [dense(4), csr([0, 1, 2, 2, 4], [2, 0, 0, 2])],
    };
    assert.deepEqual(densified([3, 4], s, [3, 1, 2, 4]), [0, 1, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4]);
  });

  test('1×4 blocks (block_map [1]), as the converter writes a pruned FULLY_CONNECTED', () => {
    // Expanded dims: rows 2, column blocks 8/4 = 2, block 4. Row 0 keeps block 1, row 1 block 0.
    const s: Sparsity = {
      traversalOrder: [0, 1, 2],
      blockMap: [1],
      dimMetadata: [dense(2), csr([0, 1, 2], [1, 0]), dense(4)],
    };
    const r = checkSparsity([2, 8], s);
    assert.ok(r.ok);
    assert.deepEqual(r.layout.blockShape, [1, 4]);
    assert.equal(r.layout.valueCount, 8);
    assert.deepEqual(
      densified([2, 8], s, [1, 2, 3, 4, 5, 6, 7, 8]),
      [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0],
    );
  });

  test('4×1 blocks (block_map [0])', () => {
    // [8, 2]: row blocks 8/4 = 2, columns 2, block 4 rows. Kept: (block 0, col 1), (block 1, col 0).
    const s: Sparsity = {
      traversalOrder: [0, 1, 2],
      blockMap: [0],
      dimMetadata: [dense(2), csr([0, 1, 2], [1, 0]), dense(4)],
    };
    const got = densified([8, 2], s, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(got, [0, 1, 0, 2, 0, 3, 0, 4, 5, 0, 6, 0, 7, 0, 8, 0]);
  });

  test('a 4-D conv filter [O, H, W, I] sparse along its input channels', () => {
    const shape = [3, 2, 2, 5];
    const values = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 || i % 7 === 0 ? 0 : i / 10));
    const { sparsity, stored } = csrLastDim(values, shape);
    assert.ok(stored.length < values.length);
    assert.deepEqual(
      densified(shape, sparsity, stored),
      values.map((v) => Math.fround(v)),
    );
  });

  test('a 4-D filter sparse along its output channels (traversal [1, 2, 3, 0])', () => {
    // Dims H, W, I dense, then O compressed: output channels 0 and 2 are kept at every tap.
    const shape = [3, 1, 2, 2];
    const s: Sparsity = {
      traversalOrder: [1, 2, 3, 0],
      blockMap: [],
      dimMetadata: [dense(1), dense(2), dense(2), csr([0, 2, 4, 6, 8], [0, 2, 0, 2, 0, 2, 0, 2])],
    };
    const got = densified(shape, s, [1, 2, 3, 4, 5, 6, 7, 8]);
    // [o][h][w][i] row-major: o = 0 → taps (w, i) 1, 3, 5, 7; o = 1 zeros; o = 2 → 2, 4, 6, 8.
    assert.deepEqual(got, [1, 3, 5, 7, 0, 0, 0, 0, 2, 4, 6, 8]);
  });

  test('int8 and fp16 values are copied whole, whatever their width', () => {
    const s: Sparsity = {
      traversalOrder: [0, 1],
      blockMap: [],
      dimMetadata: [dense(2), csr([0, 1, 2], [2, 0])],
    };
    const i8 = densifySparse([2, 3], s, new Uint8Array(Int8Array.from([-5, 7]).buffer), 1);
    assert.ok(i8.ok);
    assert.deepEqual([...new Int8Array(i8.dense.buffer)], [0, 0, -5, 7, 0, 0]);
    const half = densifySparse(
      [2, 3],
      s,
      new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer),
      2,
    );
    assert.ok(half.ok);
    assert.deepEqual([...new Uint16Array(half.dense.buffer)], [0, 0, 0x3c00, 0xc000, 0, 0]);
  });
});

describe('malformed sparsity: a reason, never an exception', () => {
  const good = (): Sparsity => ({
    traversalOrder: [0, 1],
    blockMap: [],
    dimMetadata: [dense(3), csr([0, 2, 2, 4], [1, 3, 0, 3])],
  });
  const reason = (shape: number[], s: Sparsity, values = 4, max?: number): string => {
    const r = densifySparse(shape, s, f32(new Array<number>(values).fill(1)), 4, max);
    assert.ok(!r.ok, 'refused');
    return r.reason;
  };

  test('each fault is named', () => {
    const with_ = (m: DimensionMetadata): Sparsity => ({ ...good(), dimMetadata: [dense(3), m] });
    assert.match(
      reason([3, 4], with_(csr([0, 2, 2, 4], [1, 4, 0, 3]))),
      /index 4 is out of its dim \(4\)/,
    );
    assert.match(
      reason([3, 4], with_(csr([0, 3, 2, 4], [1, 3, 0, 3]))),
      /segments decrease \(3 then 2\)/,
    );
    assert.match(reason([3, 4], with_(csr([0, 2, 4], [1, 3, 0, 3]))), /3 segments for 3 positions/);
    assert.match(reason([3, 4], with_(csr([1, 2, 2, 4], [1, 3, 0, 3]))), /start at 1/);
    assert.match(reason([3, 4], with_(csr([0, 2, 2, 9], [1, 3, 0, 3]))), /past its 4 indices/);
    assert.match(reason([3, 4], with_(csr([0, 2, 2, 4], [3, 1, 0, 3]))), /repeat or are unsorted/);
    assert.match(reason([3, 4], good(), 3), /visits 4 values, the buffer holds 3 values/);
    assert.match(reason([3, 4], good(), 5), /visits 4 values, the buffer holds 5 values/);
    assert.match(reason([3, 4], { ...good(), traversalOrder: [0, 0] }), /not a permutation/);
    assert.match(reason([3, 4], { ...good(), dimMetadata: [dense(3)] }), /dim_metadata has 1/);
    assert.match(
      reason([3, 4], { ...good(), dimMetadata: [dense(2), good().dimMetadata[1]] }),
      /DENSE of 2/,
    );
    assert.match(
      reason([3, 4], { ...good(), dimMetadata: [dense(3), { format: 'UNKNOWN_7', denseSize: 4 }] }),
      /unknown format/,
    );
    assert.match(
      reason([3, 4], {
        ...good(),
        dimMetadata: [dense(3), { format: 'SPARSE_CSR', denseSize: 4 }],
      }),
      /without segments/,
    );
    // Blocks: a size that does not divide its dim, a sparse block dim, block dims walked first.
    const blocks = (m: DimensionMetadata[], order = [0, 1, 2], map = [1]): Sparsity => ({
      traversalOrder: order,
      blockMap: map,
      dimMetadata: m,
    });
    assert.match(
      reason([2, 8], blocks([dense(2), csr([0, 1, 2], [1, 0]), dense(3)])),
      /block of 3/,
    );
    assert.match(
      reason([2, 8], blocks([dense(2), csr([0, 1, 2], [1, 0]), csr([0, 1], [0])])),
      /blocks are dense/,
    );
    assert.match(reason([2, 8], blocks([dense(4), dense(2), dense(2)], [2, 0, 1])), /permutation/);
    assert.match(
      reason([2, 8], blocks([dense(2), dense(2), dense(4)], [0, 1, 2], [2])),
      /block_map/,
    );
    assert.match(reason([], { traversalOrder: [], blockMap: [], dimMetadata: [] }), /scalar/);
    assert.match(
      reason([3, 4], good(), 4, 32),
      /dense form is 48 bytes; Model Lens densifies up to/,
    );
  });

  test('a huge dense shape is refused before anything is allocated', () => {
    // Valid metadata, no stored value, and a dense form of 2^40 float32 elements.
    const s: Sparsity = {
      traversalOrder: [0, 1],
      blockMap: [],
      dimMetadata: [dense(1), csr([0, 0], [])],
    };
    const r = densifySparse([1, 2 ** 40], s, new Uint8Array(0), 4);
    assert.ok(!r.ok);
    assert.match(r.reason, /dense form is 4398046511104 bytes/);
    // A dense level larger than the dim it walks is caught before the walk is sized by it.
    const wide: Sparsity = { ...s, dimMetadata: [dense(2 ** 30), csr([0, 0], [])] };
    const w = densifySparse([1, 8], wide, new Uint8Array(0), 4);
    assert.ok(!w.ok);
    assert.match(w.reason, /level 0 is DENSE of 1073741824, but its dim has 1/);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the file and the analysis

/** FC weight [4, 8] in 1×4 blocks: row 0 keeps block 0, row 1 block 1, row 2 both, row 3 none. */
function blockSparsity(vectorType: 1 | 2 | 3): SparsitySpec {
  return {
    traversalOrder: [0, 1, 2],
    blockMap: [1],
    dimMetadata: [
      { format: 0, denseSize: 4 },
      { format: 1, denseSize: 2, segments: [0, 1, 2, 4, 4], indices: [0, 1, 0, 1], vectorType },
      { format: 0, denseSize: 4 },
    ],
  };
}
const BLOCK_VALUES = Array.from({ length: 16 }, (_, i) => (i % 2 ? -1 : 1) * (0.25 + i / 16));
const BLOCK_DENSE = [
  ...BLOCK_VALUES.slice(0, 4), 0, 0, 0, 0,
  0, 0, 0, 0, ...BLOCK_VALUES.slice(4, 8),
  ...BLOCK_VALUES.slice(8, 16),
  0, 0, 0, 0, 0, 0, 0, 0,
].map((v) => Math.fround(v)); // prettier-ignore

function sparseFcNetwork(
  vectorType: 1 | 2 | 3 = 1,
  sparsity: SparsitySpec = blockSparsity(vectorType),
  values = f32(BLOCK_VALUES),
): Uint8Array {
  const n = new TfliteNetwork();
  const x = n.input('x', [1, 8]);
  const w = n.sparseConstant('w', [4, 8], values, TYPE.FLOAT32, sparsity);
  const y = n.op(BUILTIN.FULLY_CONNECTED, [x, w, -1], [1, 4], fullyConnected());
  return n.build([y]);
}

/** The same network with a dense weight, for the figures that must not change. */
function denseFcNetwork(): Uint8Array {
  const n = new TfliteNetwork();
  const x = n.input('x', [1, 8]);
  const w = n.constant('w', [4, 8], f32(BLOCK_DENSE), TYPE.FLOAT32);
  const y = n.op(BUILTIN.FULLY_CONNECTED, [x, w, -1], [1, 4], fullyConnected());
  return n.build([y]);
}

describe('a sparse FULLY_CONNECTED weight in the analysis', () => {
  for (const [vectorType, width] of [
    [1, 4],
    [2, 2],
    [3, 1],
  ] as const) {
    test(`read from the file with ${['', 'int32', 'uint16', 'uint8'][vectorType]} index vectors`, () => {
      const loaded = parseAnyModelBytes(sparseFcNetwork(vectorType));
      const w = loaded.model.graph.initializers.find((t) => t.name === 'w')!;
      assert.deepEqual([...new Float32Array(w.rawData!.slice().buffer)], BLOCK_DENSE);
      const storage = sparseStorageOf(w)!;
      // 5 segments + 4 indices at the vector's width; the block dims have no arrays.
      assert.equal(storage.indexBytes, 9 * width);
      assert.equal(storage.valueBytes, 64);
      assert.equal(storedSparseBytes(storage), 64 + 9 * width);
      assert.deepEqual(storage.blockShape, [1, 4]);
    });
  }

  test('params count the dense elements, weight bytes what the file stores, MACs unchanged', () => {
    const sparse = analyzeBytes(sparseFcNetwork(3));
    const denseReport = analyzeBytes(denseFcNetwork());
    const fc = sparse.nodes.find((n) => n.op === 'FULLY_CONNECTED')!;
    const denseFc = denseReport.nodes.find((n) => n.op === 'FULLY_CONNECTED')!;
    assert.equal(fc.params, 32);
    assert.equal(fc.weightBytes, 64 + 9);
    assert.equal(sparse.totals.params, 32);
    assert.equal(sparse.totals.weightBytes, 73);
    assert.equal(fc.macs, denseFc.macs);
    assert.equal(fc.macs, 32);
    assert.equal(fc.weightBits, 32);
    // Hints are measured on the dense values: the same as the dense weight's.
    assert.ok(fc.weightSqnrDb && fc.suggestedWeightBits !== null);
    assert.deepEqual(fc.weightSqnrDb, denseFc.weightSqnrDb);
    assert.equal(fc.suggestedWeightBits, denseFc.suggestedWeightBits);
    // Quantized, the stored values shrink and the index arrays stay.
    const bits = fc.suggestedWeightBits!;
    assert.equal(fc.suggestedWeightBytes, Math.ceil((16 * bits) / 8) + 4 * 4 + 9);
    const info = sparse.diagnostics.find((d) => d.node === fc.name && /sparse/.test(d.message));
    assert.equal(info?.severity, 'info');
    assert.match(
      info!.message,
      /weight 'w' is stored sparse \(TACO, 1×4 blocks\): 16 of 32 values, 73 bytes with 9 of indices/,
    );
    // The text view's comment on the weight says how it is stored.
    assert.match(
      printModelView(parseAnyModelBytes(sparseFcNetwork(3))).text,
      /float\[4, 8\] w,?\s+# sparse \(TACO, 1×4 blocks\): 16 of 32 values, 73 bytes/,
    );
  });

  test('an fp16 sparse weight behind DEQUANTIZE (MediaPipe)', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 8]);
    const half = new Uint16Array(16).map((_, i) => (i % 2 ? 0xbc00 : 0x3c00)); // ±1.0
    const w16 = n.sparseConstant(
      'w16',
      [4, 8],
      new Uint8Array(half.buffer),
      TYPE.FLOAT16,
      blockSparsity(2),
    );
    const w = n.op(BUILTIN.DEQUANTIZE, [w16], [4, 8]);
    const y = n.op(BUILTIN.FULLY_CONNECTED, [x, w, -1], [1, 4], fullyConnected());
    const r = analyzeBytes(n.build([y]));
    const fc = r.nodes.find((node) => node.op === 'FULLY_CONNECTED')!;
    assert.equal(fc.params, 32);
    assert.equal(fc.weightBytes, 32 + 9 * 2);
    assert.equal(fc.weightBits, 16);
    assert.equal(fc.macs, 32);
    assert.ok(fc.weightSqnrDb);
    assert.equal(r.totals.weightBytes, 50);
  });

  test('a per-channel int8 sparse weight: its table counted, hints on the stored integers', () => {
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 8], TYPE.INT8);
    const q = Array.from({ length: 16 }, (_, i) => ((i * 37) % 255) - 127);
    const w = n.sparseConstant(
      'w',
      [4, 8],
      new Uint8Array(Int8Array.from(q).buffer),
      TYPE.INT8,
      blockSparsity(3),
      { scale: [0.01, 0.02, 0.03, 0.04], zeroPoint: [0, 0, 0, 0], quantizedDimension: 0 },
    );
    const y = n.op(BUILTIN.FULLY_CONNECTED, [x, w, -1], [1, 4], fullyConnected(), TYPE.INT8);
    const fc = analyzeBytes(n.build([y])).nodes.find((node) => node.op === 'FULLY_CONNECTED')!;
    assert.equal(fc.params, 32);
    // 16 int8 values + 9 uint8 indices + 4 float32 scales + 4 int64 zero points.
    assert.equal(fc.weightBytes, 16 + 9 + 4 * 4 + 4 * 8);
    assert.equal(fc.weightBits, 8);
    assert.ok(fc.weightSqnrDb);
  });

  test('malformed metadata: a warning, the weight counted, no hint, no exception', () => {
    const bad = (segments: number[], indices: number[], values = 16): Uint8Array => {
      const s = blockSparsity(1);
      const dims = [s.dimMetadata[0], { ...s.dimMetadata[1], segments, indices }, s.dimMetadata[2]];
      return sparseFcNetwork(1, { ...s, dimMetadata: dims }, f32(BLOCK_VALUES.slice(0, values)));
    };
    for (const [what, bytes, why] of [
      ['index out of range', bad([0, 1, 2, 4, 4], [0, 2, 0, 1]), /index 2 is out of its dim/],
      ['segments decreasing', bad([0, 2, 1, 4, 4], [0, 1, 0, 1]), /segments decrease/],
      ['too few values', bad([0, 1, 2, 4, 4], [0, 1, 0, 1], 12), /visits 16 values/],
    ] as const) {
      const loaded = parseAnyModelBytes(bytes);
      const r = analyzeLoaded(loaded);
      const fc = r.nodes.find((n) => n.op === 'FULLY_CONNECTED')!;
      assert.equal(fc.params, 32, what);
      // What the file stores: the values, 5 segments and 4 indices as int32.
      assert.equal(fc.weightBytes, (what === 'too few values' ? 48 : 64) + 9 * 4, what);
      assert.equal(fc.macs, 32, what);
      assert.equal(fc.suggestedWeightBits, null, what);
      assert.equal(fc.weightSqnrDb, null, what);
      const warning = r.diagnostics.find((d) => d.severity === 'warning' && d.node === fc.name);
      assert.match(warning?.message ?? '', why, what);
      assert.match(warning!.message, /values are unknown/, what);
      assert.equal(typeof printModelView(loaded).text, 'string');
    }
  });

  test('a huge dense shape is refused in one line, as a huge state tensor is', () => {
    // One stored value in a [1, 2^30] float32 weight: 4 GiB dense.
    const n = new TfliteNetwork();
    const x = n.input('x', [1, 2 ** 30]);
    const w = n.sparseConstant('w', [1, 2 ** 30], f32([0.5]), TYPE.FLOAT32, {
      traversalOrder: [0, 1],
      dimMetadata: [
        { format: 0, denseSize: 1 },
        { format: 1, segments: [0, 1], indices: [7] },
      ],
    });
    const y = n.op(BUILTIN.FULLY_CONNECTED, [x, w, -1], [1, 1], fullyConnected());
    assert.throws(
      () => parseAnyModelBytes(n.build([y])),
      (e: unknown) =>
        e instanceof ModelLoadError &&
        !e.message.includes('\n') &&
        /sparse tensor 'w' \[1, 1073741824\] is 4294967296 bytes dense; Model Lens densifies sparse tensors up to 256 MiB/.test(
          e.message,
        ),
    );
  });
});
