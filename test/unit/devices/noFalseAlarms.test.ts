/**
 * Issue 14, "no false alarms": int64 shape computations (Shape → Slice/Split/Gather → Concat →
 * Reshape) are folded at analysis time, so they are no run-time activations: they count in no RAM
 * figure and get no precision warning. Real int64 activations still get one warning per model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded, type AnalysisReport } from '../../../src/core/analyze';
import { BUILTIN_DEVICES, findDevice, type DeviceProfile } from '../../../src/core/devices';
import { DataType } from '../../../src/core/onnx/types';
import { formatReport } from '../../../src/cli/report';
import { ModelBuilder } from '../../helpers/modelBuilder';

const stm32h743 = findDevice('stm32h743', BUILTIN_DEVICES);
const coral = findDevice('coral-edge-tpu', BUILTIN_DEVICES);

/**
 * Conv → Relu → Reshape to [1, 8, 1024], the target shape computed as M-LSD's exporter does:
 * Shape(r) → Split → Slice/Gather → Mul → Unsqueeze → Concat. With `constantShape` the target is an
 * initializer instead, the same model with nothing to fold.
 */
function reshapeModel(constantShape: boolean) {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 3, 32, 32]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('w', [8, 3, 3, 3])],
    { pads: [1, 1, 1, 1] },
    { name: 'conv' },
  );
  const [r] = b.node('Relu', [c], {}, { name: 'relu' });
  let target: string;
  if (constantShape) {
    target = b.ints('target', [1, 8, -1]);
  } else {
    const [s] = b.node('Shape', [r], {}, { name: 'shape' });
    const [head, tail] = b.node(
      'Split',
      [s, b.ints('halves', [2, 2])],
      { axis: 0 },
      { name: 'split', outputs: 2 },
    );
    const [n] = b.node(
      'Slice',
      [head, b.ints('s0', [0]), b.ints('e1', [1])],
      {},
      { name: 'slice' },
    );
    const [ch] = b.node('Gather', [head, b.ints('one', [1], [])], { axis: 0 }, { name: 'gather' });
    const [chs] = b.node('Unsqueeze', [ch, b.ints('axis0', [0])], {}, { name: 'unsqueeze' });
    const [h] = b.node(
      'Gather',
      [tail, b.ints('zero', [0], [])],
      { axis: 0 },
      { name: 'gather_h' },
    );
    const [w] = b.node('Gather', [tail, 'one'], { axis: 0 }, { name: 'gather_w' });
    const [area] = b.node('Mul', [h, w], {}, { name: 'mul' });
    const [hw] = b.node('Unsqueeze', [area, 'axis0'], {}, { name: 'unsqueeze_hw' });
    [target] = b.node('Concat', [n, chs, hw], { axis: 0 }, { name: 'concat' });
  }
  const [y] = b.node('Reshape', [r, target], {}, { name: 'reshape' });
  b.output(y);
  return b.load();
}

const deviceMessages = (r: AnalysisReport): string[] =>
  (r.device?.diagnostics ?? []).map((d) => `${d.node ?? ''}: ${d.message}`);

test('a folded Shape → Split/Slice/Gather → Concat → Reshape chain counts in no RAM figure', () => {
  const folded = analyzeLoaded(reshapeModel(false), { device: stm32h743, skipBitHints: true });
  const constant = analyzeLoaded(reshapeModel(true), { device: stm32h743, skipBitHints: true });
  // x 3·32·32·4 = 12,288 B; conv, relu and reshape outputs 8·32·32·4 = 32,768 B each.
  assert.equal(folded.totals.naiveActivationBytes, 12_288 + 3 * 32_768);
  // Live at relu: x (graph input), conv out, relu out, y (graph output).
  assert.equal(folded.totals.activationLowerBoundBytes, 12_288 + 3 * 32_768);
  for (const key of [
    'peakActivationBytes',
    'naiveActivationBytes',
    'activationLowerBoundBytes',
  ] as const) {
    assert.equal(folded.totals[key], constant.totals[key], key);
  }
  // While the folded chain "runs", x, relu's output and y are live: 12,288 + 2 × 32,768.
  for (const name of ['shape', 'split', 'slice', 'gather', 'unsqueeze', 'mul', 'concat']) {
    const step = folded.nodes.findIndex((n) => n.name === name);
    assert.equal(folded.memory.liveBytesPerStep[step], 12_288 + 2 * 32_768, name);
  }
  assert.equal(Math.max(...folded.memory.liveBytesPerStep), 12_288 + 3 * 32_768);
  const int64 = new Set(
    folded.nodes
      .flatMap((n) => n.outputs)
      .filter((o) => o.dtype === 'int64')
      .map((o) => o.name),
  );
  assert.ok(int64.size >= 7, 'the shape chain makes int64 tensors');
  assert.ok(folded.memory.liveAtPeak.every((t) => !int64.has(t.name)));
});

test('a folded shape chain gets no precision warning and its layers no estimate', () => {
  const r = analyzeLoaded(reshapeModel(false), { device: stm32h743, skipBitHints: true });
  assert.deepEqual(deviceMessages(r), []);
  for (const name of ['shape', 'split', 'slice', 'gather', 'unsqueeze', 'mul', 'concat']) {
    const n = r.nodes.find((x) => x.name === name);
    assert.equal(n?.energyJoules, 0, name);
    assert.equal(n?.latencySeconds, 0, name);
  }
  assert.ok((r.nodes.find((x) => x.name === 'conv')?.energyJoules ?? 0) > 0);
});

test('real int64 activations (ArgMax, a Cast of data) get one warning naming them', () => {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 10]);
  const [s] = b.node('Shape', [x], {}, { name: 'shape' });
  const [flat] = b.node('Concat', [s], { axis: 0 }, { name: 'concat' });
  const [y] = b.node('Reshape', [x, flat], {}, { name: 'reshape' });
  const [idx] = b.node(
    'ArgMax',
    [y],
    { axis: 1, keepdims: 0 },
    { name: 'argmax', outputs: ['idx'] },
  );
  const [ints] = b.node('Cast', [y], { to: DataType.INT64 }, { name: 'cast', outputs: ['ints'] });
  const [sum] = b.node('Add', [ints, b.ints('bias', [1])], {}, { name: 'add', outputs: ['sum'] });
  b.output(idx);
  b.output(sum);
  const r = analyzeLoaded(b.load(), { device: stm32h743, skipBitHints: true });
  assert.deepEqual(r.device?.diagnostics, [
    {
      severity: 'warning',
      node: 'argmax',
      message:
        "3 int64 tensors are not supported by stm32h743 (supports 8/32 bits): idx, ints, sum; store them as int32 (a Cast where they are made, or the exporter's index type)",
    },
  ]);
  // 10 floats in, reshape out; idx 8 B, ints 80 B, sum 80 B; nothing of the shape chain.
  assert.equal(r.totals.naiveActivationBytes, 40 + 40 + 8 + 80 + 80);
});

test('a Relu gets no on-chip filters message; a Conv still gets its case', () => {
  const chip: DeviceProfile = { ...stm32h743, id: 'chip', onChipBytes: 16 * 1024 };
  const r = analyzeLoaded(reshapeModel(true), { device: chip, skipBitHints: true });
  const onChip = (r.device?.diagnostics ?? []).filter((d) => /on chip/.test(d.message));
  assert.deepEqual(
    onChip.map((d) => [d.node, d.message]),
    [
      [
        'conv',
        'filters (864 B) fit in the 16 KiB on chip of chip but its feature maps (44 KiB) do not, so they stream through off-chip memory (acceptable; tiling the layer would keep them on chip)',
      ],
    ],
  );
});

test('no device message repeats its node name, in the report, its JSON or the CLI', () => {
  const chip: DeviceProfile = { ...coral, id: 'chip', onChipBytes: 1024 };
  for (const device of [stm32h743, coral, chip]) {
    const r = analyzeLoaded(reshapeModel(false), { device, skipBitHints: true });
    const diagnostics = r.device?.diagnostics ?? [];
    for (const d of diagnostics) {
      if (d.node) assert.ok(!d.message.includes(`${d.node}:`), `${d.node}: ${d.message}`);
    }
    const json = JSON.parse(JSON.stringify(r)) as AnalysisReport;
    assert.deepEqual(json.device?.diagnostics, diagnostics);
    const text = formatReport(r, 5);
    for (const d of diagnostics.filter((x) => x.node)) {
      assert.ok(text.includes(`${d.node}: ${d.message}`), d.message);
      assert.ok(!text.includes(`${d.node}: ${d.node}:`), text);
    }
  }
  // On the Coral, the float weights and activations are one warning each.
  const r = analyzeLoaded(reshapeModel(false), { device: chip, skipBitHints: true });
  const precision = (r.device?.diagnostics ?? []).filter((d) => /not supported/.test(d.message));
  assert.deepEqual(
    precision.map((d) => d.node),
    ['conv', 'conv'],
  );
  assert.match(
    precision[1].message,
    /^4 float32 tensors are not supported by chip .*: x, conv_out0, relu_out0, reshape_out0;/,
  );
});
