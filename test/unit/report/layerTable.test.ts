import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeLoaded } from '../../../src/core/analyze';
import { BUILTIN_DEVICES } from '../../../src/core/devices';
import { DataType } from '../../../src/core/onnx/types';
import {
  csvField,
  layerTable,
  layerTableCsv,
  layerTableMarkdown,
} from '../../../src/core/text/layerTable';
import { markdownReport } from '../../../src/core/text/markdownReport';
import { ModelBuilder } from '../../helpers/modelBuilder';

/** Conv → Relu → Gemm, with awkward names: a comma, a quote, a newline, a pipe and HTML. */
function model(): ModelBuilder {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 4, 8, 8]);
  const [c] = b.node(
    'Conv',
    [x, b.weight('w', [8, 4, 3, 3]), b.weight('b', [8])],
    {
      pads: [1, 1, 1, 1],
    },
    { name: 'conv, "first"' },
  );
  const [r] = b.node('Relu', [c], {}, { name: 'relu\nnext|<b>x</b>' });
  const [f] = b.node('Flatten', [r], {}, { name: 'flat' });
  const [y] = b.node('Gemm', [f, b.weight('fc', [8 * 64, 10])], {}, { name: 'fc' });
  b.output(y);
  return b;
}

test('layerTable: one row per node with the report figures and shares', () => {
  const report = analyzeLoaded(model().load());
  const t = layerTable(report);
  assert.equal(t.rows.length, report.nodes.length);
  assert.ok(!t.columns.some((c) => c.key === 'latencySeconds'), 'no latency without a device');
  const conv = t.rows.find((r) => r.op === 'Conv')!;
  const node = report.nodes.find((n) => n.op === 'Conv')!;
  assert.equal(conv.macs, 8 * 64 * 36);
  assert.equal(conv.params, 8 * 36 + 8);
  assert.equal(conv.weightBytes, node.weightBytes);
  assert.equal(conv.outputShape, '1×8×8×8');
  assert.equal(conv.macsShare, node.share.macs);
  assert.equal(conv.weightShare, node.share.weightBytes);
  const sum = (k: 'macsShare' | 'weightShare' | 'activationShare') =>
    t.rows.reduce((s, r) => s + (r[k] ?? 0), 0);
  assert.ok(Math.abs(sum('macsShare') - 1) < 1e-9);
  assert.ok(Math.abs(sum('weightShare') - 1) < 1e-9);
  assert.ok(Math.abs(sum('activationShare') - 1) < 1e-9);
});

test('layerTable: latency column from the device estimates', () => {
  const device = BUILTIN_DEVICES.find((d) => d.id === 'stm32h743')!;
  const report = analyzeLoaded(model().load(), { device });
  const t = layerTable(report);
  assert.equal(t.device, 'stm32h743');
  assert.ok(t.columns.some((c) => c.key === 'latencySeconds'));
  const fc = t.rows.find((r) => r.op === 'Gemm')!;
  assert.equal(fc.latencySeconds, report.nodes.find((n) => n.op === 'Gemm')!.latencySeconds);
  assert.ok(fc.latencySeconds! > 0);
  assert.match(layerTableCsv(t).split('\r\n')[0], /,suggested bits,latency s,MACs %,/);
});

test('CSV: RFC 4180 quoting and CRLF records', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  const csv = layerTableCsv(layerTable(analyzeLoaded(model().load())));
  assert.ok(csv.endsWith('\r\n'));
  assert.equal(
    csv.split('\r\n')[0],
    'index,layer,op,output shape,MACs,params,weight bytes,activation bytes,weight bits,suggested bits,MACs %,weights %,activations %',
  );
  assert.ok(csv.includes('\r\n0,"conv, ""first""",Conv,1×8×8×8,18432,296,1184,'));
  assert.ok(csv.includes('\r\n1,"relu\nnext|<b>x</b>",Relu,1×8×8×8,0,0,0,'));
  // Parsed back by a minimal RFC 4180 reader: 5 records of 13 fields.
  const records = parseCsv(csv);
  assert.equal(records.length, 5);
  assert.ok(records.every((r) => r.length === 13));
  assert.equal(records[1][1], 'conv, "first"');
  assert.equal(records[2][1], 'relu\nnext|<b>x</b>');
});

test('markdown table and report: pipes escaped, newlines flattened, one row per layer', () => {
  const report = analyzeLoaded(model().load());
  const md = layerTableMarkdown(layerTable(report));
  const lines = md.trimEnd().split('\n');
  assert.equal(lines.length, 2 + report.nodes.length);
  assert.ok(lines.every((l) => l.startsWith('| ') || l.startsWith('|-')));
  assert.ok(md.includes('`relu next\\|<b>x</b>`'));
  const full = markdownReport(report, 'model.onnx');
  assert.ok(full.includes(md), 'the report embeds the same table');
});

test('model-lens analyze --csv prints the same CSV', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layer-table-'));
  try {
    const file = path.join(dir, 'm.onnx');
    const b = model();
    fs.writeFileSync(file, b.bytes());
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'analyze', file, '--csv', '--device', 'stm32h743'],
      { encoding: 'utf8' },
    );
    const device = BUILTIN_DEVICES.find((d) => d.id === 'stm32h743')!;
    const expected = layerTableCsv(layerTable(analyzeLoaded(b.load(), { device })));
    assert.equal(out, expected);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  return records;
}
