/**
 * The analysis report of a TFLite model carries TFLite Micro's arena (tflite/arenaReport.ts): the
 * figure every surface shows as peak activation RAM is TFLM's non-persistent arena, and what ONNX
 * has no word for (persistent estimate, state tensors, the planner) is in memory.runtime, in the
 * CLI's text and JSON too. A clone without ../shared skips these tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/core/analyze';

const DIR = path.resolve(__dirname, '../../../../shared/tflite');
const CLI = path.resolve(__dirname, '../../../dist/cli.js');
const skip = fs.existsSync(path.join(DIR, 'person_detect.tflite'))
  ? false
  : 'no ../shared/tflite in this clone';

test(
  'person_detect: peak activation RAM is TFLM published non-persistent arena, 55,296 bytes',
  { skip },
  () => {
    const r = analyzeFile(path.join(DIR, 'person_detect.tflite'));
    assert.equal(r.model.format, 'TFLite schema 3');
    assert.equal(r.totals.peakActivationBytes, 55_296);
    assert.ok(r.totals.activationLowerBoundBytes <= r.totals.peakActivationBytes);
    assert.ok(r.totals.naiveActivationBytes > r.totals.peakActivationBytes);
    assert.match(r.memory.runtime?.planner ?? '', /greedy planner, tensors padded to 16 bytes/);
    assert.match(r.memory.runtime?.persistentNote ?? '', /^Estimate/);
    // The published persistent figure is 29,140 bytes with the benchmark's 100 resource slots.
    const persistent = r.memory.runtime?.persistentEstimateBytes ?? 0;
    assert.ok(persistent > 20_000 && persistent < 32_000, `${persistent}`);
    // The peak is where the two largest tensors meet: 48·48·16 and 48·48·8 int8 bytes.
    const live = r.memory.liveAtPeak.map((t) => t.bytes);
    assert.deepEqual(live, [36_864, 18_432]);
    assert.equal(r.memory.liveBytesPerStep.length, r.nodes.length);
    assert.equal(Math.max(...r.memory.liveBytesPerStep), 55_296);
    // Every planned tensor is named as the analysis names it (hover's lifetimes).
    const names = new Set(r.nodes.map((n) => n.name));
    assert.ok(r.memory.lifetimes.some((l) => names.has(l.name)));
  },
);

test('keyword_scrambled: state tensors are apart from the arena', { skip }, () => {
  const r = analyzeFile(path.join(DIR, 'keyword_scrambled.tflite'));
  assert.equal(r.memory.runtime?.stateTensors.length, 7);
  assert.equal(r.memory.runtime?.stateBytes, 10_240);
  assert.ok(r.totals.peakActivationBytes < 10_240, 'the state is not in the arena');
  // liveAtPeak names unnamed TFLite tensors as the analysis does.
  assert.ok(r.memory.liveAtPeak.every((t) => t.name !== ''));
});

test(
  'person_detect_vela: SRAM from the offline plan, flash from the constant buffers, MACs unknown',
  { skip },
  () => {
    const r = analyzeFile(path.join(DIR, 'person_detect_vela.tflite'));
    assert.match(r.memory.runtime?.planner ?? '', /offline plan/);
    assert.equal(r.totals.peakActivationBytes, 74_464);
    const file = fs.statSync(path.join(DIR, 'person_detect_vela.tflite')).size;
    assert.ok(r.totals.weightBytes > 0.9 * file && r.totals.weightBytes < file);
    assert.deepEqual(r.totals.uncountedNodes, [r.nodes[0].name]);
    assert.ok(r.diagnostics.some((d) => /ethos-u.*command stream/.test(d.message)));
  },
);

test(
  'CLI: the text report and the JSON carry the runtime memory',
  { skip: skip || (!fs.existsSync(CLI) && 'dist/cli.js not built') },
  () => {
    const file = path.join(DIR, 'person_detect_vela.tflite');
    const text = execFileSync(process.execPath, [CLI, 'analyze', file], { encoding: 'utf8' });
    assert.match(text, /TFLite schema 3/);
    assert.match(text, /MACs unknown \(1 node of unknown cost\)/);
    assert.match(text, /laid out by the model's offline plan/);
    const json = JSON.parse(
      execFileSync(
        process.execPath,
        [CLI, 'analyze', '--json', path.join(DIR, 'keyword_scrambled.tflite')],
        {
          encoding: 'utf8',
        },
      ),
    );
    assert.equal(json.model.format, 'TFLite schema 3');
    assert.equal(json.memory.runtime.stateBytes, 10_240);
  },
);
