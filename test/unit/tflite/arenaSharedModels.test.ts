/**
 * The TFLM arena on the real TFLite Micro models in ../shared/tflite, against TFLM's own
 * figures: the generic benchmark's table for person_detect on a Cortex-M4 with CMSIS-NN
 * (tools/benchmarking/README.md: 55,296 bytes non-persistent, 29,140 persistent, the latter
 * including a 100-slot resource-variable table the benchmark creates) and
 * memory_arena_threshold_test.cc for the keyword model (10,240 bytes of variable buffers).
 * A user's clone has no ../shared, so these tests skip cleanly when it is absent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tfliteArena } from '../../../src/core/tflite/arena';
import { loadTfliteFile } from '../../../src/core/tflite/load';

const DIR = path.resolve(__dirname, '../../../../shared/tflite');
const skip = fs.existsSync(path.join(DIR, 'person_detect.tflite'))
  ? false
  : 'no ../shared/tflite in this clone';

const load = (name: string) => loadTfliteFile(path.join(DIR, name));

describe('TFLM arena on the shared TFLite models', { skip }, () => {
  test('person_detect: non-persistent arena of exactly 55,296 bytes, as TFLM publishes', () => {
    const arena = tfliteArena(load('person_detect.tflite'));
    assert.equal(arena.nonPersistentBytes, 55_296);
    assert.equal(arena.offlinePlanned, false);
    // The peak is the second pointwise conv's input and output: 48×48×8 + 48×48×16 bytes.
    assert.equal(arena.lowerBoundBytes, 55_296);
    assert.equal(arena.peakOpIndex, 2);
    assert.deepEqual(
      arena.liveAtPeak.map((t) => t.bytes),
      [36_864, 18_432],
    );
    assert.deepEqual(arena.variables, []);
    assert.deepEqual(arena.warnings, []);
  });

  test('person_detect: persistent estimate near TFLM’s 29,140 bytes, labelled an estimate', () => {
    const arena = tfliteArena(load('person_detect.tflite'));
    const published = 29_140;
    const off = Math.abs(arena.persistentEstimateBytes - published) / published;
    assert.ok(off < 0.1, `estimate ${arena.persistentEstimateBytes} vs ${published}`);
    assert.match(arena.persistentNote, /^Estimate/);
    // With the benchmark's 100-slot resource-variable table, within 1%.
    const benchmark = tfliteArena(load('person_detect.tflite'), { resourceVariableSlots: 100 });
    const benchmarkOff = Math.abs(benchmark.persistentEstimateBytes - published) / published;
    assert.ok(benchmarkOff < 0.01, `estimate ${benchmark.persistentEstimateBytes} vs ${published}`);
  });

  test('person_detect_vela: SRAM from the OfflineMemoryAllocation plan Vela wrote', () => {
    const arena = tfliteArena(load('person_detect_vela.tflite'));
    assert.equal(arena.offlinePlanned, true);
    assert.ok(arena.placements.every((p) => p.offline));
    // Vela shares one SRAM area: scratch, fast scratch, input and output all start at 0, and the
    // 74,464-byte scratch tensors set the size.
    assert.deepEqual(
      arena.placements.map((p) => [p.name, p.offset, p.alignedBytes]),
      [
        ['MobilenetV1/Predictions/Reshape_1', 0, 16],
        ['_split_1_scratch', 0, 74_464],
        ['_split_1_scratch_fast', 0, 74_464],
        ['input', 0, 9_216],
      ],
    );
    assert.equal(arena.nonPersistentBytes, 74_464);
    assert.equal(arena.lowerBoundBytes, 74_464);
  });

  test('keyword_scrambled: the SVDF state tensors are reported apart from the arena', () => {
    const arena = tfliteArena(load('keyword_scrambled.tflite'));
    assert.equal(arena.variables.length, 7);
    assert.equal(arena.variableBytes, 10_240);
    const planned = new Set(arena.placements.map((p) => p.tensor));
    for (const v of arena.variables) assert.ok(!planned.has(v.tensor), `${v.tensor} planned`);
    // The tensors alone; TFLM's reference SVDF kernels add two 256-byte scratch buffers per op.
    assert.equal(arena.nonPersistentBytes, 288);
    assert.ok(arena.persistentEstimateBytes > arena.variableBytes);
  });

  test('every shared model plans without overlaps between tensors alive together', () => {
    for (const file of fs.readdirSync(DIR).filter((f) => f.endsWith('.tflite'))) {
      const arena = tfliteArena(load(file));
      const online = arena.placements.filter((p) => !p.offline);
      for (const a of online) {
        for (const b of online) {
          if (a === b || a.firstScope > b.lastScope || b.firstScope > a.lastScope) continue;
          const apart =
            a.offset + a.alignedBytes <= b.offset || b.offset + b.alignedBytes <= a.offset;
          assert.ok(apart, `${file}: ${a.name} and ${b.name} overlap`);
        }
      }
      assert.ok(arena.nonPersistentBytes >= arena.lowerBoundBytes, file);
    }
  });
});
