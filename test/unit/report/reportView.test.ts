import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeLoaded } from '../../../src/core/analyze';
import { BUILTIN_DEVICES } from '../../../src/core/devices';
import { DataType } from '../../../src/core/onnx/types';
import { layerTable, layerTableCsv } from '../../../src/core/text/layerTable';
import { markdownReport } from '../../../src/core/text/markdownReport';
import { parseCli, UsageError } from '../../../src/cli/args';
import { reportView } from '../../../src/server/reportView';
import { ModelBuilder } from '../../helpers/modelBuilder';

function report(withDevice: boolean) {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4, 8, 8]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('w', [8, 4, 3, 3])],
    { pads: [1, 1, 1, 1] },
    {
      name: '<b>conv</b>',
    },
  );
  const [y] = b.node('Relu', [c], {}, { name: 'relu' });
  b.output(y);
  const device = withDevice ? BUILTIN_DEVICES.find((d) => d.id === 'stm32h743') : undefined;
  return analyzeLoaded(b.load(), { device });
}

test('report view: one cell and one sort key per column, the CSV and markdown of the core', () => {
  for (const withDevice of [false, true]) {
    const r = report(withDevice);
    const view = reportView(r, '/models/m.onnx');
    assert.equal(view.title, 'm.onnx');
    assert.equal(view.rows.length, r.nodes.length);
    for (const row of view.rows) {
      assert.equal(row.cells.length, view.columns.length);
      assert.equal(row.keys.length, view.columns.length);
    }
    const macs = view.columns.findIndex((c) => c.key === 'macs');
    assert.deepEqual(
      view.rows.map((row) => row.keys[macs]),
      r.nodes.map((n) => n.macs),
    );
    assert.equal(
      view.rows[0].cells[view.columns.findIndex((c) => c.key === 'name')],
      '<b>conv</b>',
    );
    assert.equal(view.csv, layerTableCsv(layerTable(r)));
    assert.equal(view.markdown, markdownReport(r, '/models/m.onnx'));
    const latency = view.columns.find((c) => c.key === 'latencySeconds');
    assert.equal(latency?.title, withDevice ? 'latency (stm32h743)' : undefined);
    assert.equal(
      view.summary.some((l) => l.startsWith('Device stm32h743')),
      withDevice,
    );
  }
});

test('--csv: analyze only, not with --json', () => {
  assert.equal(parseCli(['analyze', 'm.onnx', '--csv']).csv, true);
  assert.equal(parseCli(['analyze', 'm.onnx']).csv, false);
  assert.throws(() => parseCli(['check', 'm.onnx', '--device', 'x', '--csv']), UsageError);
  assert.throws(() => parseCli(['analyze', 'm.onnx', '--csv', '--json']), UsageError);
});
