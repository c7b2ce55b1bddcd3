/**
 * The calibration and evaluation parts a measured plan is chosen and judged on
 * (src/core/data/parts.ts): a batched sample is cut into rows, a large folder is split, a small
 * one is used whole and says so.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readDataParts, unbatchFolder } from '../../../src/core/data/parts';
import type { FolderInputs, InputSpec } from '../../../src/core/verify/inputs';
import { writeNpy } from '../../../src/core/verify';
import { DataType } from '../../../src/core/onnx/types';

const spec = (declared: (number | string)[]): InputSpec => ({
  name: 'x',
  dataType: DataType.FLOAT,
  dtype: 'float32',
  declared,
  dims: declared.map((d) => (typeof d === 'number' ? d : 1)),
  intBound: 100,
});

/** A folder with one .npy of `rows` rows [rows, 2] and labels 0..rows-1 mod 3. */
function batchFolder(rows: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-parts-'));
  const data = Float32Array.from({ length: rows * 2 }, (_, i) => i);
  fs.writeFileSync(path.join(dir, 'x.npy'), writeNpy({ data, dims: [rows, 2], dtype: 'float32' }));
  const labels = Array.from({ length: rows }, (_, i) => i % 3);
  fs.writeFileSync(path.join(dir, 'labels.txt'), labels.join('\n'));
  return dir;
}

describe('unbatchFolder', () => {
  const folder: FolderInputs = {
    sets: [{ x: { data: Float32Array.of(0, 1, 2, 3, 4, 5), dims: [3, 2], dtype: 'float32' } }],
    sampleNames: ['dir'],
    labels: [2, 0, 1],
  };

  test('cuts a batch into one sample per row along a symbolic batch dimension', () => {
    const out = unbatchFolder(folder, [spec(['N', 2])]);
    assert.equal(out.sets.length, 3);
    assert.deepEqual([...out.sets[1].x.data], [2, 3]);
    assert.deepEqual(out.sets[2].x.dims, [1, 2]);
    assert.deepEqual(out.sampleNames, ['dir[0]', 'dir[1]', 'dir[2]']);
    assert.deepEqual(out.labels, [2, 0, 1]);
  });

  test('leaves a model with a fixed batch, or single-row samples, as they are', () => {
    assert.equal(unbatchFolder(folder, [spec([3, 2])]), folder);
    const single: FolderInputs = {
      sets: [{ x: { data: Float32Array.of(0, 1), dims: [1, 2], dtype: 'float32' } }],
      sampleNames: ['a'],
    };
    assert.equal(unbatchFolder(single, [spec(['N', 2])]), single);
  });
});

describe('readDataParts', () => {
  test('splits a folder of 300 rows, stratified and disjoint', () => {
    const dir = batchFolder(300);
    const parts = readDataParts(dir, [spec(['N', 2])]);
    assert.equal(parts.disjoint, true);
    assert.equal(parts.calibration.sets.length, 150);
    assert.equal(parts.evaluation.sets.length, 150);
    const seen = new Set(parts.calibration.sets.map((s) => s.x.data[0]));
    assert.ok(parts.evaluation.sets.every((s) => !seen.has(s.x.data[0])));
    // Stratified: each class gets its share of the calibration part.
    const counts = [0, 1, 2].map((c) => parts.calibration.labels!.filter((l) => l === c).length);
    assert.deepEqual(counts, [50, 50, 50]);
    assert.match(
      parts.note,
      /300 samples split \(seed 0, stratified by label\) into 150 for calibration and 150 for evaluation/,
    );
  });

  test('caps the calibration part, the rest evaluates', () => {
    const parts = readDataParts(batchFolder(1000), [spec(['N', 2])]);
    assert.equal(parts.calibration.sets.length, 256);
    assert.equal(parts.evaluation.sets.length, 744);
  });

  test('uses a small folder whole for both, and says so', () => {
    const parts = readDataParts(batchFolder(64), [spec(['N', 2])]);
    assert.equal(parts.disjoint, false);
    assert.equal(parts.calibration.sets.length, 64);
    assert.equal(parts.evaluation, parts.calibration);
    assert.match(
      parts.note,
      /all 64 samples used for both calibration and evaluation: too few to split/,
    );
  });

  test('a separate evaluation folder evaluates', () => {
    const parts = readDataParts(batchFolder(40), [spec(['N', 2])], {
      evaluationDir: batchFolder(500),
    });
    assert.equal(parts.disjoint, true);
    assert.equal(parts.calibration.sets.length, 40);
    assert.equal(parts.evaluation.sets.length, 500);
  });
});
