import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded, type AnalysisReport } from '../../../src/core/analyze';
import { pruneSemiStructured } from '../../../src/core/compress/pruneSemiStructured';
import { pruneUnstructured } from '../../../src/core/compress/pruneUnstructured';
import {
  BUILTIN_DEVICES,
  findDevice,
  loadDeviceProfiles,
  readDeviceProfiles,
  type DeviceProfile,
} from '../../../src/core/devices';
import { deviceLayerMacs } from '../../../src/core/devices/sparsity';
import { markdownReport } from '../../../src/core/text/markdownReport';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { layerMarkdown } from '../../../src/server/presentation';
import { ModelBuilder } from '../../helpers/modelBuilder';

/** conv (72 inputs per output) → Flatten → fc Gemm transB [16, 128]. */
function model(): Model {
  const b = new ModelBuilder({ opset: 13, seed: 3 });
  const x = b.input('x', DataType.FLOAT, [1, 8, 4, 4]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('conv_w', [8, 8, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  const [f] = b.node('Flatten', [c], { axis: 1 });
  const [y] = b.node('Gemm', [f, b.weight('fc_w', [16, 128])], { transB: 1 }, { name: 'fc' });
  b.output(y, DataType.FLOAT, [1, 16]);
  return b.build();
}

const base = {
  ramBytes: '8GiB',
  flashBytes: '8GiB',
  macsPerSecond: { fp32: 1e9 },
  supportedWeightBits: [8, 16, 32],
  supportedActivationBits: [8, 16, 32],
};
const profiles = loadDeviceProfiles(
  JSON.stringify([
    { ...base, id: 'sparse-2-4', sparsity: { nm: ['2:4'], unstructured: false } },
    { ...base, id: 'skips-zeros', sparsity: { unstructured: true } },
    { ...base, id: 'dense-gpu' },
  ]),
  'devices.json',
);
const device = (id: string): DeviceProfile => findDevice(id, profiles);

const analyze = (m: Model, d?: DeviceProfile): AnalysisReport =>
  analyzeLoaded({ model: m, fileBytes: 0 } as Parameters<typeof analyzeLoaded>[0], { device: d });

test('a user profile declares sparsity as { nm: ["2:4"], unstructured }; bad values are problems', () => {
  assert.deepEqual(device('sparse-2-4').sparsity, { nm: ['2:4'], unstructured: false });
  assert.deepEqual(device('skips-zeros').sparsity, { unstructured: true });
  assert.equal(device('dense-gpu').sparsity, undefined);
  const { problems } = readDeviceProfiles(
    JSON.stringify([
      { ...base, id: 'a', sparsity: { nm: ['4:4', 2, '2:4'] } },
      { ...base, id: 'b', sparsity: { unstructured: 'yes', blocks: [1, 4] } },
      { ...base, id: 'c', sparsity: ['2:4'] },
    ]),
    'devices.json',
  );
  assert.deepEqual(problems, [
    "devices.json: profile 'a': sparsity.nm: 4:4: N must be from 1 to M − 1",
    'devices.json: profile \'a\': sparsity.nm: 2 is not a string such as "2:4"',
    'devices.json: profile \'b\': sparsity.blocks is unknown (sparsity must be an object such as { "nm": ["2:4"], "unstructured": false })',
    "devices.json: profile 'b': sparsity.unstructured must be true or false",
    'devices.json: profile \'c\': sparsity must be an object such as { "nm": ["2:4"], "unstructured": false }',
  ]);
});

test('no built-in profile claims a sparsity capability its datasheet does not document', () => {
  // Xavier (Volta) and Nano (Maxwell) predate the sparse tensor cores; the MCUs, Ethos-U55, the
  // Edge TPU and the Pis document no zero skipping. A new built-in that sets it must cite it.
  assert.deepEqual(
    BUILTIN_DEVICES.filter((d) => d.sparsity).map((d) => d.id),
    [],
  );
});

test('a 2:4 model: half the MACs on a 2:4 device, the same on a zero-skipping one, dense elsewhere', () => {
  const dense = model();
  const pruned = pruneSemiStructured(dense, { pattern: { n: 2, m: 4 } }).model;
  const macs = analyze(dense).totals.macs;

  const on24 = analyze(pruned, device('sparse-2-4')).device!;
  assert.equal(on24.sparsity?.macs, macs / 2);
  assert.deepEqual(
    on24.sparsity?.exploited.map((e) => [e.node, e.how]),
    [
      ['conv', '2:4'],
      ['fc', '2:4'],
    ],
  );
  assert.match(
    on24.sparsity?.note ?? '',
    /^sparse-2-4 skips 2:4 pattern: 2 layers of 2 with zeros \(2 at 2:4\)/,
  );
  // Latency counts the MACs the device executes: half of the dense model's.
  const denseLatency = analyze(dense, device('sparse-2-4')).device!.latencySeconds;
  assert.ok(Math.abs(on24.latencySeconds - denseLatency / 2) < 1e-12 * denseLatency + 1e-15);

  const onSkipper = analyze(pruned, device('skips-zeros')).device!;
  assert.equal(onSkipper.sparsity?.macs, macs / 2);
  assert.deepEqual(
    onSkipper.sparsity?.exploited.map((e) => e.how),
    ['unstructured', 'unstructured'],
  );

  const onDense = analyze(pruned, device('dense-gpu')).device!;
  assert.equal(onDense.sparsity?.macs, macs);
  assert.deepEqual(onDense.sparsity?.exploited, []);
  assert.match(
    onDense.sparsity?.note ?? '',
    /^dense-gpu does not skip zero weights \(its profile lists no sparsity support\): it executes the dense .* MACs/,
  );
  assert.equal(onDense.latencySeconds, analyze(dense, device('dense-gpu')).device!.latencySeconds);
  const mcu = analyze(pruned, findDevice('stm32h743', BUILTIN_DEVICES)).device!;
  assert.match(mcu.sparsity?.note ?? '', /stm32h743 does not skip zero weights/);
  // A dense model has no sparsity part in its device report.
  assert.equal(analyze(dense, device('sparse-2-4')).device!.sparsity, undefined);
});

test('unstructured zeros: only a zero-skipping device gains; a 2:4 device needs the pattern', () => {
  const pruned = pruneUnstructured(model(), { sparsity: 0.9, scope: 'layer' }).model;
  const r = analyze(pruned);
  const fc = r.nodes.find((n) => n.name === 'fc')!;
  assert.equal(deviceLayerMacs(fc, device('skips-zeros')).macs, fc.sparseMacs);
  const on24 = deviceLayerMacs(fc, device('sparse-2-4'));
  // 90% random zeros: some group of 4 still holds 3 nonzeros, unless the pattern happens to hold.
  const holds = (fc.nmGroupMaxima?.[4] ?? 4) <= 2;
  assert.equal(on24.macs, holds ? fc.macs / 2 : fc.macs);
  assert.equal(deviceLayerMacs(fc, device('dense-gpu')).macs, fc.macs);
});

test('the hover and the report name the devices that skip the zeros, or say none does', () => {
  const pruned = pruneSemiStructured(model(), { pattern: { n: 2, m: 4 } }).model;
  const r = analyze(pruned, device('dense-gpu'));
  const conv = r.nodes.find((n) => n.name === 'conv')!;
  const hover = layerMarkdown(conv, r, undefined, undefined, undefined, profiles);
  assert.match(
    hover,
    /\| zero weights \| 50% · 2:4 pattern · 4\.61 k MACs if every zero is skipped \|\n\| devices that skip its zeros \| sparse\\-2\\-4 \(2:4: 4\.61 k MACs\) · skips\\-zeros \(unstructured: 4\.61 k MACs\) \|/,
  );
  assert.match(hover, /on dense\\-gpu \| .* dense MACs \(it does not skip these zeros\)/);
  const builtinOnly = layerMarkdown(conv, r, undefined, undefined, undefined, BUILTIN_DEVICES);
  assert.match(builtinOnly, new RegExp(`none of the ${BUILTIN_DEVICES.length} device profiles`));
  const md = markdownReport(r, 'net.onnx', profiles);
  assert.match(md, /## Zero weights\n\n2 layers have zero weights \(2 follow 2:4\)/);
  assert.match(md, /Devices that skip them: `sparse-2-4` \(2 layers, .* MACs\), `skips-zeros`/);
  assert.match(md, /\| MACs if every zero weight is skipped \|/);
  assert.match(md, /Zero weights: dense-gpu does not skip zero weights/);
  assert.match(markdownReport(r, 'net.onnx'), /None of the \d+ device profiles skips them/);
  assert.doesNotMatch(markdownReport(analyze(model()), 'net.onnx'), /Zero weights/);
});
