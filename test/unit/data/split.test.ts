/** The seeded calibration / evaluation split of a data folder's samples. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { splitFolderInputs, splitSamples } from '../../../src/core/data';
import type { FolderInputs } from '../../../src/core/verify';

describe('splitSamples', () => {
  test('two parts that never overlap and together hold every sample', () => {
    const { calibration, evaluation } = splitSamples(50, { calibration: 12, seed: 3 });
    assert.equal(calibration.length, 12);
    assert.equal(evaluation.length, 38);
    assert.deepEqual(
      [...calibration, ...evaluation].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.deepEqual(
      calibration,
      [...calibration].sort((a, b) => a - b),
      'ascending',
    );
  });

  test('the same seed gives the same split; another seed another one', () => {
    const a = splitSamples(100, { calibration: 20, seed: 7 });
    assert.deepEqual(splitSamples(100, { calibration: 20, seed: 7 }), a);
    assert.notDeepEqual(splitSamples(100, { calibration: 20, seed: 8 }).calibration, a.calibration);
  });

  test('a fraction below 1 is a share of the samples', () => {
    assert.equal(splitSamples(64, { calibration: 0.25 }).calibration.length, 16);
  });

  test('with labels, each class gives its share (largest remainders first)', () => {
    // 60 of class 0, 30 of class 1, 10 of class 2; 10 to calibration → 6, 3, 1.
    const labels = [
      ...Array<number>(60).fill(0),
      ...Array<number>(30).fill(1),
      ...Array<number>(10).fill(2),
    ];
    const { calibration } = splitSamples(100, { calibration: 10, seed: 1, labels });
    const perClass = [0, 1, 2].map((c) => calibration.filter((i) => labels[i] === c).length);
    assert.deepEqual(perClass, [6, 3, 1]);
    // 7 of 100: 4.2, 2.1, 0.7 → 4, 2, 0 and the one left over to class 2 (remainder 0.7).
    const seven = splitSamples(100, { calibration: 7, labels }).calibration;
    assert.deepEqual(
      [0, 1, 2].map((c) => seven.filter((i) => labels[i] === c).length),
      [4, 2, 1],
    );
  });

  test('a count out of range or labels of another length are refused', () => {
    assert.throws(() => splitSamples(10, { calibration: 11 }), /give a count from 0 to 10/);
    assert.throws(() => splitSamples(10, { calibration: 2.5 }), /give a count from 0 to 10/);
    assert.throws(
      () => splitSamples(3, { calibration: 1, labels: [0, 1] }),
      /2 labels for 3 samples/,
    );
  });
});

describe('splitFolderInputs', () => {
  const folder: FolderInputs = {
    sets: Array.from({ length: 8 }, (_, i) => ({
      x: { data: Float32Array.of(i), dims: [1], dtype: 'float32' },
    })),
    sampleNames: Array.from({ length: 8 }, (_, i) => `img${i}.png`),
    labels: [0, 0, 0, 0, 1, 1, 1, 1],
    notes: ['assumed: NCHW'],
  };

  test('sets, names and labels follow their samples into each part', () => {
    const { calibration, evaluation, split } = splitFolderInputs(folder, {
      calibration: 4,
      seed: 2,
    });
    assert.deepEqual(
      calibration.sampleNames,
      split.calibration.map((i) => `img${i}.png`),
    );
    assert.deepEqual(
      evaluation.sets.map((s) => s.x.data[0]),
      split.evaluation,
    );
    assert.deepEqual(calibration.labels, [0, 0, 1, 1], 'stratified: two of each class');
    assert.deepEqual(evaluation.notes, folder.notes);
  });

  test('a folder whose one sample holds many labelled rows cannot be split', () => {
    const batch: FolderInputs = { ...folder, sets: folder.sets.slice(0, 1), sampleNames: ['dir'] };
    assert.throws(() => splitFolderInputs(batch, { calibration: 1 }), /8 labels for 1 samples/);
  });
});
