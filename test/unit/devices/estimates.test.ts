import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILTIN_DEVICES,
  estimateLayer,
  estimateModel,
  findDevice,
  integerMacPicojoules,
} from '../../../src/core/devices';
import type { DeviceProfile, LayerFigures } from '../../../src/core/devices';

const device: DeviceProfile = {
  id: 'dev',
  name: 'Dev',
  ramBytes: 1e6,
  flashBytes: 1e6,
  onChipBytes: 1000,
  macsPerSecond: { int8: 1e9, fp32: 1e8 },
  supportedWeightBits: [8, 32],
  supportedActivationBits: [8, 32],
  watts: 2,
  source: 'test',
};

const conv: LayerFigures = {
  name: 'conv',
  op: 'Conv',
  macs: 1e6,
  weightBytes: 500,
  activationBytes: 2000,
  weightBits: 8,
  activationBits: 8,
};

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${actual} ≠ ${expected}`);

test('one int8 layer, checked by hand', () => {
  // Latency: 1e6 MACs / 1e9 MAC/s = 1 ms.
  // Energy (Horowitz 45 nm):
  //   MACs      1e6 × (0.2 + 0.03) pJ                     = 230,000 pJ
  //   weights   500 B fit on chip: 4000 bits × 5/32 pJ    =     625 pJ
  //   maps      2000 B exceed 1000 B: 16000 bits × 20 pJ  = 320,000 pJ
  //   total                                               = 550,625 pJ = 5.50625e-7 J
  // From power: 1 ms × 2 W = 2 mJ.
  const e = estimateLayer(device, conv);
  assert.equal(e.precision, 'int8');
  close(e.latencySeconds, 1e-3);
  close(e.energyJoules, 5.50625e-7);
  close(e.energyJoulesFromPower ?? 0, 2e-3);
  assert.equal(e.note, undefined);
});

test('an fp32 layer uses the fp32 rate and fp32 MAC energy', () => {
  // 1e6 / 1e8 = 10 ms; MACs 1e6 × 4.6 pJ = 4.6e-6 J, plus the same 320,625 pJ of memory.
  const e = estimateLayer(device, { ...conv, weightBits: 32, activationBits: 32 });
  assert.equal(e.precision, 'fp32');
  close(e.latencySeconds, 1e-2);
  close(e.energyJoules, 4.6e-6 + 3.20625e-7);
});

test('integer widths outside the table scale from int8: multiplier by bits², adder by bits', () => {
  close(integerMacPicojoules(8), 0.23);
  close(integerMacPicojoules(4), 0.2 / 4 + 0.03 / 2);
  // Close to the table's int32 figures (3.1 + 0.1): the scaling rule is sane.
  close(integerMacPicojoules(32), 3.2 + 0.12);
});

test('a missing rate falls back to the next wider precision, with a note', () => {
  // 4-bit weights with 4-bit activations: int4, which dev lacks, so int8 speed and energy.
  const e = estimateLayer(device, { ...conv, weightBits: 4, activationBits: 4 });
  assert.equal(e.precision, 'int8');
  assert.equal(e.note, 'dev has no int4 rate; estimated at int8');
  const nano = findDevice('jetson-nano', BUILTIN_DEVICES);
  assert.equal(estimateLayer(nano, conv).precision, 'fp16');
});

test('with no wider rate, the layer is estimated as if quantized, and says so', () => {
  const coral = findDevice('coral-edge-tpu', BUILTIN_DEVICES);
  const e = estimateLayer(coral, { ...conv, weightBits: 32, activationBits: 32 });
  assert.equal(e.precision, 'int8');
  assert.equal(
    e.note,
    'coral-edge-tpu has no fp32 or wider rate; estimated at int8, as if quantized',
  );
  close(e.latencySeconds, 1e6 / 2e12);
});

test('mixed widths run at the wider operand: 4-bit weights, 8-bit activations is int8', () => {
  const e = estimateLayer(
    { ...device, macsPerSecond: { int4: 4e9, int8: 1e9 } },
    { ...conv, weightBits: 4 },
  );
  assert.equal(e.precision, 'int8');
});

test('a layer without MACs takes no compute time but still moves memory', () => {
  const relu = {
    ...conv,
    op: 'Relu',
    macs: 0,
    weightBytes: 0,
    weightBits: undefined,
    activationBytes: 100,
  };
  const e = estimateLayer(device, relu);
  assert.equal(e.latencySeconds, 0);
  close(e.energyJoules, 800 * (5 / 32) * 1e-12);
});

test('the model estimate sums its layers', () => {
  const m = estimateModel(device, [conv, conv]);
  close(m.latencySeconds, 2e-3);
  close(m.energyJoules, 2 * 5.50625e-7);
  close(m.energyJoulesFromPower ?? 0, 4e-3);
  assert.equal(m.layers.length, 2);
  const noWatts = { ...device, watts: undefined };
  assert.equal(estimateModel(noWatts, [conv]).energyJoulesFromPower, undefined);
});

test('a layer folded at analysis time (a shape computation) does not run: no time, no energy', () => {
  const gather: LayerFigures = {
    ...conv,
    name: 'gather',
    op: 'Gather',
    macs: 0,
    weightBytes: 8,
    activationBytes: 48,
    weightBits: undefined,
    activationBits: 64,
    folded: true,
  };
  const e = estimateLayer(device, gather);
  assert.equal(e.latencySeconds, 0);
  assert.equal(e.energyJoules, 0);
  assert.equal(e.energyJoulesFromPower, 0);
  assert.match(e.note ?? '', /folded at analysis time/);
  const model = estimateModel(device, [conv, gather]);
  close(model.energyJoules, estimateLayer(device, conv).energyJoules);
});
