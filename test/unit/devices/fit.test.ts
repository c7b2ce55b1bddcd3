import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_DEVICES, checkFit, findDevice } from '../../../src/core/devices';
import type { DeviceProfile, LayerFigures } from '../../../src/core/devices';
import type { ActivationFigures } from '../../../src/core/devices/fit';

const MiB = 2 ** 20;
const stm32h743 = findDevice('stm32h743', BUILTIN_DEVICES);
const xavier = findDevice('jetson-agx-xavier', BUILTIN_DEVICES);

// ResNet-18 at fp32: 11,689,512 parameters × 4 B = 46,758,048 B = 44.59 MiB. The peak activation
// arena is taken as 3 MiB (the two 64×112×112 fp32 maps around the stem are 3.06 MiB).
const resnet18 = { weightBytes: 11_689_512 * 4, peakActivationBytes: 3 * MiB, layers: [] };

/** A made-up device whose limits are round numbers, for boundary cases. */
const tiny: DeviceProfile = {
  id: 'tiny',
  name: 'Tiny',
  ramBytes: 1000,
  flashBytes: 2000,
  onChipBytes: 100,
  macsPerSecond: { int8: 1e6 },
  supportedWeightBits: [8],
  supportedActivationBits: [8],
  vectorWidth: 4,
  source: 'test',
};

const activation = (name: string, dtype: string, node: string): ActivationFigures => ({
  name,
  dtype,
  bits: dtype === 'int64' ? 64 : dtype === 'float32' ? 32 : 8,
  node,
  float: dtype.startsWith('float'),
});

const layer = (overrides: Partial<LayerFigures>): LayerFigures => ({
  name: 'conv',
  op: 'Conv',
  macs: 1000,
  weightBytes: 10,
  activationBytes: 10,
  weightBits: 8,
  activationBits: 8,
  ...overrides,
});

test('a ResNet-18-size model on an MCU gets flash and RAM errors with human units', () => {
  const fit = checkFit(stm32h743, resnet18);
  assert.equal(fit.fits, false);
  assert.equal(fit.weightBytesLimit, 2 * MiB);
  assert.equal(fit.ramBytesLimit, MiB);
  assert.ok(Math.abs(fit.weightUse - 22.296) < 0.001);
  assert.equal(fit.ramUse, 3);
  assert.deepEqual(fit.diagnostics, [
    {
      severity: 'error',
      rule: 'weights-exceed-flash',
      message: 'Weights need 44.6 MiB but stm32h743 has 2 MiB of flash (2230%)',
    },
    {
      severity: 'error',
      rule: 'activations-exceed-ram',
      message: 'Peak activation RAM needs 3 MiB but stm32h743 has 1 MiB of RAM (300%)',
    },
  ]);
});

test('the same model on a Jetson AGX Xavier fits without model diagnostics', () => {
  const fit = checkFit(xavier, resnet18);
  assert.equal(fit.fits, true);
  assert.deepEqual(fit.diagnostics, []);
  assert.ok(fit.weightUse < 0.01);
});

test('the warning starts just above 75% and the error just above 100%', () => {
  const at = (weightBytes: number, peakActivationBytes: number) =>
    checkFit(tiny, { weightBytes, peakActivationBytes, layers: [] }).diagnostics.map((d) => [
      d.severity,
      d.rule,
    ]);
  assert.deepEqual(at(1500, 750), []);
  assert.deepEqual(at(1501, 751), [
    ['warning', 'weights-near-flash'],
    ['warning', 'activations-near-ram'],
  ]);
  assert.deepEqual(at(2000, 1000), [
    ['warning', 'weights-near-flash'],
    ['warning', 'activations-near-ram'],
  ]);
  assert.deepEqual(at(2001, 1001), [
    ['error', 'weights-exceed-flash'],
    ['error', 'activations-exceed-ram'],
  ]);
});

test('the headroom warning says how full the memory is and why that matters', () => {
  const fit = checkFit(tiny, { weightBytes: 1600, peakActivationBytes: 0, layers: [] });
  assert.equal(fit.fits, true);
  assert.equal(
    fit.diagnostics[0].message,
    "Weights need 1.56 KiB, 80% of the 1.95 KiB of flash on tiny; the runtime's scratch and persistent buffers need room too (warning above 75%)",
  );
});

test('on-chip case 1: feature maps fit, filters stream in, which is good (information)', () => {
  const fit = checkFit(tiny, {
    weightBytes: 0,
    peakActivationBytes: 0,
    layers: [layer({ weightBytes: 500, activationBytes: 80 })],
  });
  assert.deepEqual(fit.diagnostics, [
    {
      severity: 'info',
      node: 'conv',
      rule: 'filters-stream',
      message:
        'feature maps (80 B) fit in the 100 B on chip of tiny; its filters (500 B) stream in from off-chip memory, each read once (good)',
    },
  ]);
});

test('on-chip case 2: filters fit, feature maps stream (warning, acceptable)', () => {
  const fit = checkFit(tiny, {
    weightBytes: 0,
    peakActivationBytes: 0,
    layers: [layer({ weightBytes: 50, activationBytes: 400 })],
  });
  assert.equal(fit.diagnostics.length, 1);
  assert.equal(fit.diagnostics[0].severity, 'warning');
  assert.equal(fit.diagnostics[0].rule, 'feature-maps-stream');
  assert.match(fit.diagnostics[0].message, /feature maps \(400 B\) do not/);
});

test('on-chip case 3: neither fits, so multiple off-chip passes (warning)', () => {
  const fit = checkFit(tiny, {
    weightBytes: 0,
    peakActivationBytes: 0,
    layers: [layer({ weightBytes: 500, activationBytes: 400 })],
  });
  assert.deepEqual(fit.diagnostics, [
    {
      severity: 'warning',
      node: 'conv',
      rule: 'multiple-off-chip-passes',
      message:
        'neither its feature maps (400 B) nor its filters (500 B) fit in the 100 B on chip of tiny, so it needs multiple off-chip passes',
    },
  ]);
  assert.equal(fit.fits, true);
});

test('a layer that fits on chip, or a device without on-chip memory, gets no on-chip diagnostic', () => {
  const small = checkFit(tiny, { weightBytes: 0, peakActivationBytes: 0, layers: [layer({})] });
  assert.deepEqual(small.diagnostics, []);
  const big = layer({
    weightBytes: 10 * MiB,
    activationBytes: 10 * MiB,
    weightBits: 32,
    activationBits: 32,
  });
  const mcu = checkFit(stm32h743, { weightBytes: 0, peakActivationBytes: 0, layers: [big] });
  assert.deepEqual(mcu.diagnostics, []);
});

test('unsupported precisions warn and name the quantize quick fix', () => {
  const coral = findDevice('coral-edge-tpu', BUILTIN_DEVICES);
  const fp32 = layer({
    name: 'fc',
    weightBits: 32,
    activationBits: 32,
    weightBytes: 40,
    activationBytes: 40,
  });
  const fit = checkFit(coral, {
    weightBytes: 40,
    peakActivationBytes: 40,
    layers: [fp32],
    activations: [activation('fc_out', 'float32', 'fc')],
  });
  assert.deepEqual(
    fit.diagnostics.map((d) => [d.severity, d.node, d.rule, d.message]),
    [
      [
        'warning',
        'fc',
        'unsupported-weight-precision',
        '32-bit weights are not supported by coral-edge-tpu (supports 8 bits); quick fix "quantize" to 8 bits',
      ],
      [
        'warning',
        'fc',
        'unsupported-activation-precision',
        'float32 tensor \'fc_out\' is not supported by coral-edge-tpu (supports 8 bits); quick fix "quantize" activations to 8 bits',
      ],
    ],
  );
  assert.equal(fit.fits, true);
});

test('precision warnings are one per model and width, on the first layer, naming the others', () => {
  const coral = findDevice('coral-edge-tpu', BUILTIN_DEVICES);
  const layers = ['a', 'b', 'c'].map((name) => layer({ name, weightBits: 32, activationBits: 32 }));
  const fit = checkFit(coral, {
    weightBytes: 0,
    peakActivationBytes: 0,
    layers: [...layers, layer({ name: 'q', weightBits: 8, activationBits: 8 })],
    activations: [
      activation('x', 'float32', 'a'),
      activation('a_out', 'float32', 'a'),
      activation('b_out', 'float32', 'b'),
      activation('idx', 'int64', 'c'),
      activation('q_out', 'int8', 'q'),
    ],
  });
  assert.deepEqual(
    fit.diagnostics.map((d) => [d.node, d.rule, d.message]),
    [
      [
        'a',
        'unsupported-weight-precision',
        '32-bit weights are not supported by coral-edge-tpu (supports 8 bits), here and in 2 more layers: b, c; quick fix "quantize" to 8 bits',
      ],
      [
        'a',
        'unsupported-activation-precision',
        '3 float32 tensors are not supported by coral-edge-tpu (supports 8 bits): x, a_out, b_out; quick fix "quantize" activations to 8 bits',
      ],
      [
        'c',
        'unsupported-activation-precision',
        "int64 tensor 'idx' is not supported by coral-edge-tpu (supports 8 bits); store it as int8 (a Cast where it is made, or the exporter's index type)",
      ],
    ],
  );
});

test('a long list of tensors names the first twelve and counts the rest', () => {
  const activations = Array.from({ length: 15 }, (_, i) => activation(`t${i}`, 'int64', 'n'));
  const fit = checkFit(stm32h743, {
    weightBytes: 0,
    peakActivationBytes: 0,
    layers: [],
    activations,
  });
  assert.equal(fit.diagnostics.length, 1);
  assert.equal(
    fit.diagnostics[0].message,
    "15 int64 tensors are not supported by stm32h743 (supports 8/32 bits): t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11 and 3 more; store them as int32 (a Cast where they are made, or the exporter's index type)",
  );
});

test('a folded layer (a shape computation) gets no layer diagnostic', () => {
  const shape = layer({
    name: 'gather',
    op: 'Gather',
    weightBits: 64,
    activationBits: 64,
    weightBytes: 500,
    activationBytes: 500,
    inputChannels: 3,
    folded: true,
  });
  const fit = checkFit(tiny, { weightBytes: 0, peakActivationBytes: 0, layers: [shape] });
  assert.deepEqual(fit.diagnostics, []);
});

test('a layer without weights gets no on-chip diagnostic, however big its feature maps', () => {
  const relu = layer({ name: 'relu', op: 'Relu', weightBits: undefined, weightBytes: 0 });
  const fit = checkFit(tiny, {
    weightBytes: 0,
    peakActivationBytes: 0,
    layers: [{ ...relu, activationBytes: 10_000 }],
  });
  assert.deepEqual(fit.diagnostics, []);
});

test('a layer without weights gets no weight-precision warning', () => {
  const relu = layer({ op: 'Relu', weightBits: undefined, weightBytes: 0 });
  const fit = checkFit(tiny, { weightBytes: 0, peakActivationBytes: 0, layers: [relu] });
  assert.deepEqual(fit.diagnostics, []);
});

test('channel counts that are not a multiple of the vector width are information', () => {
  const stem = layer({ name: 'stem', inputChannels: 3, outputChannels: 64 });
  const odd = layer({ name: 'odd', inputChannels: 6, outputChannels: 10 });
  const even = layer({ name: 'even', inputChannels: 64, outputChannels: 128 });
  const fit = checkFit(tiny, { weightBytes: 0, peakActivationBytes: 0, layers: [stem, odd, even] });
  assert.deepEqual(
    fit.diagnostics.map((d) => [d.severity, d.node, d.message]),
    [
      [
        'info',
        'stem',
        '3 input channels are not a multiple of 4, the vector width of tiny, so the last vector of each pass is partly empty',
      ],
      [
        'info',
        'odd',
        '6 input channels and 10 output channels are not a multiple of 4, the vector width of tiny, so the last vector of each pass is partly empty',
      ],
    ],
  );
});
