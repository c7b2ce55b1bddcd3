/**
 * The round-trip and external-data tests again, with every payload of every file left in the file
 * (hole threshold 1 byte instead of 64 KiB): byte-identical unedited saves, lossless edited ones
 * and unknown fields, on files whose payloads were never read.
 */
// First: the threshold applies to every file the imported tests open.
import '../../helpers/lazyEveryPayload';
import './roundTrip.test';
import './externalData.test';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { payloadSource } from '../../../src/core/onnx/lazyFile';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';

test('in this file even a 16-byte payload is left in the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-lazy-'));
  try {
    const b = new ModelBuilder({ seed: 1 });
    const x = b.input('x', DataType.FLOAT, [1, 2]);
    const [y] = b.node('MatMul', [x, b.weight('w', [2, 2])]);
    b.output(y);
    const file = path.join(dir, 'm.onnx');
    saveModelFile(b.build(), file);
    assert.ok(payloadSource(loadModelFile(file).model.graph.initializers[0].rawData!));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
