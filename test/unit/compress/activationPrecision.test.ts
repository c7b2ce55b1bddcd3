/**
 * quantizeActivations' range methods and per-activation precision: which range each method
 * writes, the default for real data and for random inputs, and a planner's float / 16-bit
 * overrides per tensor or per reading layer.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { calibrateActivations } from '../../../src/core/compress/calibrate';
import {
  defaultRangeMethod,
  quantizeActivations,
} from '../../../src/core/compress/quantizeActivations';
import { CompressionRefusal } from '../../../src/core/compress/summary';
import { encodeModel } from '../../../src/core/onnx/encode';
import type { LoadedModel } from '../../../src/core/onnx/load';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { inputSpecs, randomInputsFor, runModel, writeNpy } from '../../../src/core/verify';
import { ModelBuilder } from '../../helpers/modelBuilder';

/** x → Conv 'c1' → Relu → r, read by Conv 'c2' (→ y2) and Conv 'c3' (→ y3). */
function branching(): LoadedModel {
  const b = new ModelBuilder({ opset: 13, seed: 3 });
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const [h] = b.node(
    'Conv',
    [x, b.weight('w1', [4, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: 'c1' },
  );
  const [r] = b.node('Relu', [h], {}, { name: 'relu', outputs: ['r'] });
  b.node('Conv', [r, b.weight('w2', [2, 4, 1, 1])], {}, { name: 'c2', outputs: ['y2'] });
  b.node('Conv', [r, b.weight('w3', [2, 4, 1, 1])], {}, { name: 'c3', outputs: ['y3'] });
  b.output('y2', DataType.FLOAT, [1, 2, 8, 8]);
  b.output('y3', DataType.FLOAT, [1, 2, 8, 8]);
  return b.load();
}

/** The tensor each node named `name` reads at input 0. */
function inputOf(model: Model, name: string): string {
  return model.graph.nodes.find((n) => n.name === name)!.inputs[0];
}

function pairs(model: Model): { tensor: string; type: DataType; scale: number }[] {
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  return model.graph.nodes
    .filter((n) => n.opType === 'QuantizeLinear')
    .map((n) => ({
      tensor: n.inputs[0],
      type: inits.get(n.inputs[2])!.dataType,
      scale: tensorNumbers(inits.get(n.inputs[1])!)[0],
    }));
}

describe('activation range methods in quantizeActivations', () => {
  const loaded = branching();

  test('mse is the default for a calibration folder, min/max for random inputs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-ranges-'));
    const specs = inputSpecs(loaded);
    for (let i = 0; i < 3; i++) {
      const set = randomInputsFor(specs, { seed: 4, sample: i });
      fs.mkdirSync(path.join(dir, String(i)));
      fs.writeFileSync(
        path.join(dir, String(i), 'x.npy'),
        writeNpy({ dtype: 'float32', dims: set.x.dims, data: set.x.data as Float32Array }),
      );
    }
    const folder = await calibrateActivations(loaded, { inputsDir: dir });
    assert.ok(folder.histograms?.has('r'), 'histograms by default with a folder');
    assert.equal(defaultRangeMethod(folder), 'mse');
    const r = quantizeActivations(loaded.model, folder);
    assert.match(
      r.summary.notes.join('\n'),
      /ranges: mse .* over 3 sample\(s\) from the calibration folder/,
    );

    const random = await calibrateActivations(loaded);
    assert.equal(random.histograms, undefined, 'no histograms for random inputs unless asked');
    assert.equal(defaultRangeMethod(random), 'minmax');
    assert.match(
      quantizeActivations(loaded.model, random).summary.notes.join('\n'),
      /ranges: min\/max over 8 sample\(s\) from random inputs \(seed 1\)/,
    );
    // Asked for explicitly, it needs the histograms.
    assert.throws(
      () => quantizeActivations(loaded.model, random, { rangeMethod: 'mse' }),
      (e: unknown) => e instanceof CompressionRefusal && /needs a histogram/.test(e.message),
    );
  });

  test('each method narrows the scale as its clipping says; min/max never clips', async () => {
    const calibration = await calibrateActivations(loaded, { histograms: true, samples: 4 });
    const scale = (method: 'minmax' | 'percentile' | 'mse', percentile?: number) =>
      pairs(
        quantizeActivations(loaded.model, calibration, { rangeMethod: method, percentile }).model,
      ).find((p) => p.tensor === 'r')!.scale;
    const { max } = calibration.ranges.get('r')!;
    assert.equal(scale('minmax'), Math.fround(max / 255));
    assert.ok(scale('mse') <= scale('minmax'));
    assert.ok(scale('percentile', 99) < scale('minmax'));
    assert.ok(scale('percentile', 99) < scale('percentile', 99.999));
  });
});

describe('per-activation precision', () => {
  const loaded = branching();
  let calibration: Awaited<ReturnType<typeof calibrateActivations>>;

  async function calibrated() {
    calibration ??= await calibrateActivations(loaded, { samples: 2 });
    return calibration;
  }

  test('a layer kept float reads the float tensor; the other reader keeps its pair', async () => {
    const r = quantizeActivations(loaded.model, await calibrated(), {
      precision: new Map([['c3', 'float']]),
    });
    assert.equal(inputOf(r.model, 'c3'), 'r');
    assert.notEqual(inputOf(r.model, 'c2'), 'r');
    assert.match(r.summary.notes.join('\n'), /kept float as asked: 1 activation\(s\): r/);
    assert.ok(!r.summary.layersTouched.includes('c3'));
  });

  test('16 bits for one reader: a second pair of int16 type, at opset 21, run by ONNX Runtime', async () => {
    const r = quantizeActivations(loaded.model, await calibrated(), {
      precision: new Map<string, 'float' | 8 | 16>([['c2', 16]]),
    });
    const onR = pairs(r.model).filter((p) => p.tensor === 'r');
    assert.deepEqual(onR.map((p) => p.type).sort(), [DataType.UINT8, DataType.UINT16].sort());
    assert.notEqual(inputOf(r.model, 'c2'), inputOf(r.model, 'c3'));
    assert.equal(r.model.opsetImport.find((o) => o.domain === '')!.version, 21);
    assert.match(r.summary.notes.join('\n'), /of them 16-bit/);
    const set = randomInputsFor(inputSpecs(loaded), { seed: 0, sample: 0 });
    const out = await runModel(encodeModel(r.model), set);
    assert.equal(out.y2.data.length, 128);
  });

  test('by tensor name: every reader; unknown names and a layer reading nothing are refused', async () => {
    const c = await calibrated();
    const r = quantizeActivations(loaded.model, c, { precision: new Map([['r', 'float']]) });
    assert.deepEqual(
      pairs(r.model).map((p) => p.tensor),
      ['x'],
    );
    const refused = (name: string, message: RegExp) =>
      assert.throws(
        () => quantizeActivations(loaded.model, c, { precision: new Map([[name, 'float']]) }),
        (e: unknown) => e instanceof CompressionRefusal && message.test(e.message),
      );
    refused('nope', /no activation or layer named 'nope'/);
    refused('relu', /layer 'relu' reads no activation to quantize/);
    assert.throws(
      () =>
        quantizeActivations(loaded.model, c, {
          precision: new Map<string, 'float'>([
            ['x', 'float'],
            ['r', 'float'],
          ]),
        }),
      /every activation to quantize \(2\) is kept float/,
    );
  });
});
