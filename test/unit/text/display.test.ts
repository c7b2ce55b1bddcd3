/**
 * The text view's display forms for real exports: module scopes shorten exporter names so the op
 * and its figures sit near the left, and the clutter before the first layer folds on open. The
 * text still parses back to the full names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModelFile } from '../../../src/core/onnx/load';
import { DataType, type Graph } from '../../../src/core/onnx/types';
import { nameAtColumn } from '../../../src/core/text/names';
import { TextSyntaxError, parseModelText, type TextGraph } from '../../../src/core/text/parser';
import { definitionAt, id, printModel, type PrintedModel } from '../../../src/core/text/printer';
import { ModelBuilder, subgraph } from '../../helpers/modelBuilder';

/**
 * The shape of torchvision's EfficientNet-B0 export: a run of weight Identity nodes first, then
 * MBConv blocks named by their full module paths.
 */
function efficientNetLike(): ModelBuilder {
  const b = new ModelBuilder({ opset: 13 });
  let x = b.input('input', DataType.FLOAT, [1, 3, 32, 32]);
  const shared = b.weight('onnx::Conv_900', [8]);
  const biases: string[] = [];
  for (let i = 0; i < 12; i++) {
    const [alias] = b.node(
      'Identity',
      [shared],
      {},
      { name: `Identity_${i}`, outputs: [`onnx::Conv_${950 + i}`] },
    );
    biases.push(alias);
  }
  const stem = '/features/features.0/features.0.0';
  [x] = b.node(
    'Conv',
    [x, b.weight('onnx::Conv_800', [8, 3, 3, 3]), biases[0]],
    { pads: [1, 1, 1, 1] },
    { name: `${stem}/Conv`, outputs: [`${stem}/Conv_output_0`] },
  );
  for (let stage = 1; stage <= 3; stage++) {
    for (let k = 0; k < 2; k++) {
      const block = `/features/features.${stage}/features.${stage}.${k}/block`;
      const input = x;
      const conv = `${block}/block.0/block.0.0`;
      [x] = b.node(
        'Conv',
        [x, b.weight(`onnx::Conv_${stage}${k}0`, [8, 8, 3, 3]), biases[stage]],
        { pads: [1, 1, 1, 1], group: 8 },
        { name: `${conv}/Conv`, outputs: [`${conv}/Conv_output_0`] },
      );
      const act = `${block}/block.0/block.0.2`;
      const [s] = b.node(
        'Sigmoid',
        [x],
        {},
        { name: `${act}/Sigmoid`, outputs: [`${act}/Sigmoid_output_0`] },
      );
      [x] = b.node('Mul', [x, s], {}, { name: `${act}/Mul`, outputs: [`${act}/Mul_output_0`] });
      const se = `${block}/block.1`;
      const [p] = b.node(
        'GlobalAveragePool',
        [x],
        {},
        {
          name: `${se}/avgpool/GlobalAveragePool`,
          outputs: [`${se}/avgpool/GlobalAveragePool_output_0`],
        },
      );
      const [f] = b.node(
        'Conv',
        [p, b.weight(`onnx::Conv_${stage}${k}1`, [8, 8, 1, 1])],
        {},
        { name: `${se}/fc1/Conv`, outputs: [`${se}/fc1/Conv_output_0`] },
      );
      const [g] = b.node(
        'Sigmoid',
        [f],
        {},
        {
          name: `${se}/scale_activation/Sigmoid`,
          outputs: [`${se}/scale_activation/Sigmoid_output_0`],
        },
      );
      [x] = b.node('Mul', [g, x], {}, { name: `${se}/Mul`, outputs: [`${se}/Mul_output_0`] });
      const proj = `${block}/block.2/block.2.0`;
      [x] = b.node(
        'Conv',
        [x, b.weight(`onnx::Conv_${stage}${k}2`, [8, 8, 1, 1])],
        {},
        { name: `${proj}/Conv`, outputs: [`${proj}/Conv_output_0`] },
      );
      const add = `/features/features.${stage}/features.${stage}.${k}`;
      [x] = b.node('Add', [x, input], {}, { name: `${add}/Add`, outputs: [`${add}/Add_output_0`] });
    }
  }
  // A constant shape sub-graph before the classifier's Reshape.
  const [shape] = b.node('Shape', [x], {}, { name: '/Shape', outputs: ['/Shape_output_0'] });
  const [dim] = b.node(
    'Gather',
    [shape, b.ints('/Constant_output_0', [0], [])],
    { axis: 0 },
    { name: '/Gather', outputs: ['/Gather_output_0'] },
  );
  const [u] = b.node(
    'Unsqueeze',
    [dim, b.ints('/axes', [0])],
    {},
    { name: '/Unsqueeze', outputs: ['/Unsqueeze_output_0'] },
  );
  const [cat] = b.node(
    'Concat',
    [u, b.ints('/minus_one', [-1])],
    { axis: 0 },
    { name: '/Concat', outputs: ['/Concat_output_0'] },
  );
  const [flat] = b.node(
    'Reshape',
    [x, cat],
    {},
    { name: '/classifier/Reshape', outputs: ['/classifier/Reshape_output_0'] },
  );
  b.output(flat);
  return b;
}

/** The column just after ` = Op` on a node line (where the annotation goes). */
function opEnd(line: string): number {
  const m = / = ([A-Za-z_][\w.]*)/.exec(line)!;
  return m.index + m[0].length;
}

/** Lines left visible when every `imports` block is folded (VS Code keeps a block's first line). */
function foldedView(printed: PrintedModel): number[] {
  const hidden = new Set<number>();
  for (const b of printed.layout.blocks) {
    if (b.kind !== 'imports') continue;
    for (let l = b.start + 1; l <= b.end; l++) hidden.add(l);
  }
  const count = printed.text.split('\n').length;
  return Array.from({ length: count }, (_, l) => l).filter((l) => !hidden.has(l));
}

test('module scopes bring the op of a deep export to the left, and the text parses back in full', () => {
  const model = efficientNetLike().build();
  const printed = printModel(model, () => '64 values · min -1 · max 1');
  const lines = printed.text.split('\n');
  const { nodeLines } = printed.layout;
  // Before: `["/features/…/block.0.0/Conv"] "/features/…/block.0.0/Conv_output_0" = Conv`.
  const before = model.graph.nodes.map(
    (n) => 2 + `[${id(n.name)}] ${id(n.outputs[0])} = ${n.opType}`.length,
  );
  const after = nodeLines.map((l) => opEnd(lines[l]));
  assert.ok(Math.max(...before) > 120, `long names before: ${Math.max(...before)}`);
  assert.ok(Math.max(...after) <= 72, `op by column 72 after: ${Math.max(...after)}`);
  const convs = nodeLines.filter((l) => lines[l].includes('= Conv'));
  assert.ok(Math.max(...convs.map((l) => opEnd(lines[l]))) <= 48, 'Convs by column 48');
  const conv = lines.find((l) => l.includes('= Conv') && l.includes('block.0.0'))!;
  assert.match(conv, /^ {2}\[…\/block\.0\/block\.0\.0\/Conv\] …_output_0 = Conv /);
  assert.ok(lines.includes('  …/ = "/features/features.1/features.1.0/block"'));
  // The stem's, then one per block and one for its residual Add: not one per node.
  assert.equal(lines.filter((l) => l.startsWith('  …/ = ')).length, 1 + 6 * 2);

  const parsed = parseModelText(printed.text);
  assert.deepEqual(
    parsed.graph.nodes.map((n) => [n.name, n.op, n.inputs, n.outputs]),
    model.graph.nodes.map((n) => [n.name, n.opType, n.inputs, n.outputs]),
  );
  parsed.graph.nodes.forEach((n, i) => assert.equal(n.line, nodeLines[i]));
});

test('the first screen shows layers: initializers, weight Identity runs and shape sub-graphs fold', () => {
  const model = efficientNetLike().build();
  const printed = printModel(model);
  const lines = printed.text.split('\n');
  const imports = printed.layout.blocks.filter((b) => b.kind === 'imports');
  assert.deepEqual(
    imports.map((b) => lines[b.start].trim()),
    [
      `<  # ${model.graph.initializers.length} initializers`,
      '# 12 weight-only nodes: Identity ×12',
      '# 4 constant shape nodes: Shape ×1, Gather ×1, Unsqueeze ×1, Concat ×1',
    ],
  );
  for (const b of imports) assert.ok(b.end > b.start);
  const visible = foldedView(printed);
  const layerLines = new Set(
    printed.layout.nodeLines.filter((_, i) => !['Identity'].includes(model.graph.nodes[i].opType)),
  );
  // A 900-pixel window shows about 35 lines: most of them are layers.
  const firstScreen = visible.slice(0, 35).filter((l) => layerLines.has(l));
  assert.ok(firstScreen.length >= 15, `${firstScreen.length} layer lines on the first screen`);
  assert.ok(
    visible.slice(0, 12).some((l) => lines[l].includes('= Conv')),
    'a Conv in the first 12',
  );
});

test('full names stay findable: definitions, scopes and the name under the cursor', () => {
  const printed = printModel(efficientNetLike().build());
  const lines = printed.text.split('\n');
  const { definitions, scopes } = printed.layout;
  const full = '/features/features.2/features.2.1/block/block.1/fc1/Conv_output_0';
  const line = definitions.get(full)!;
  assert.equal(scopes.get(line), '/features/features.2/features.2.1/block');
  const text = lines[line];
  const column = text.indexOf('…_output_0') + 3;
  assert.deepEqual(nameAtColumn(text, column, scopes.get(line))?.name, full);
  // A reader of the next line finds it by the same name.
  const reader = printed.layout.nodeLines.find(
    (l) => l > line && lines[l].includes('(…/block.1/fc1/Conv_output_0)'),
  )!;
  const at = lines[reader].indexOf('(…/') + 2;
  assert.equal(nameAtColumn(lines[reader], at, scopes.get(reader))?.name, full);
  assert.equal(nameAtColumn('  x = Relu ("a b")', 13, undefined)?.name, 'a b');
});

test('names an elision cannot show stay quoted; a real "…/" name is not mistaken for one', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const [y] = b.node(
    'Relu',
    [x],
    {},
    { name: '/encoder/layer.0/act/Relu', outputs: ['/encoder/layer.0/act/out put'] },
  );
  const [z] = b.node('Relu', [y], {}, { name: '/encoder/layer.0/act2/Relu', outputs: ['…/z'] });
  b.output(z);
  const model = b.build();
  const printed = printModel(model);
  assert.match(printed.text, /\[…\/act\/Relu\] "\/encoder\/layer\.0\/act\/out put" = Relu/);
  assert.match(printed.text, /"…\/z" = Relu/);
  const parsed = parseModelText(printed.text);
  assert.deepEqual(
    parsed.graph.nodes.map((n) => n.outputs[0]),
    ['/encoder/layer.0/act/out put', '…/z'],
  );
});

test('an elided name outside any scope is a syntax error with its line', () => {
  const text = 'g (float[1] x) => (float[1] y) {\n  y = Relu (…/x)\n}\n';
  assert.throws(
    () => parseModelText(text),
    (e: unknown) => e instanceof TextSyntaxError && e.line === 1,
  );
  const scoped = 'g (float[1] x) => (float[1] "/m/a/y") {\n  …/ = "/m/a"\n  …/y = Relu (x)\n}\n';
  assert.deepEqual(parseModelText(scoped).graph.nodes[0].outputs, ['/m/a/y']);
});

test('go to definition from an elided name lands on its spelling where it is defined', () => {
  const printed = printModel(efficientNetLike().build());
  const lines = printed.text.split('\n');
  const full = '/features/features.2/features.2.1/block/block.1/fc1/Conv_output_0';
  const def = printed.layout.definitions.get(full)!;
  const reader = printed.layout.nodeLines.find(
    (l) => l > def && lines[l].includes('(…/block.1/fc1/Conv_output_0)'),
  )!;
  const at = lines[reader].indexOf('(…/') + 4;
  const found = definitionAt(printed.layout, (l) => lines[l], reader, at)!;
  assert.equal(found.name, full);
  assert.equal(found.line, def);
  assert.equal(lines[def].slice(found.start, found.end), '…_output_0');
  // From a full, quoted name in another scope to its elided spelling.
  const input = '/features/features.1/features.1.1/Add_output_0';
  const user = printed.layout.nodeLines.find((l) => lines[l].includes(`"${input}"`))!;
  const col = lines[user].indexOf(`"${input}"`) + 2;
  const back = definitionAt(printed.layout, (l) => lines[l], user, col)!;
  assert.equal(back.line, printed.layout.definitions.get(input));
  assert.equal(lines[back.line].slice(back.start, back.end), '…_output_0');
});

test('scopes inside sub-graphs are their own, and the outer scope resumes after them', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const outer = '/encoder/layers.0/attention';
  const [a] = b.node(
    'Relu',
    [x],
    {},
    { name: `${outer}/act/Relu`, outputs: [`${outer}/act/Relu_output_0`] },
  );
  const [cond] = b.node(
    'ReduceMax',
    [a],
    { keepdims: 0 },
    { name: `${outer}/gate/ReduceMax`, outputs: [`${outer}/gate/ReduceMax_output_0`] },
  );
  const inner = '/encoder/layers.0/attention/branch';
  const thenBranch = subgraph((g) => {
    const [o] = g.node(
      'Neg',
      [a],
      {},
      { name: `${inner}/then/neg/Neg`, outputs: [`${inner}/then/neg/Neg_output_0`] },
    );
    const [p] = g.node(
      'Abs',
      [o],
      {},
      { name: `${inner}/then/abs/Abs`, outputs: [`${inner}/then/abs/Abs_output_0`] },
    );
    g.output(p, DataType.FLOAT, [1, 4]);
  }, 'then_g');
  const elseBranch = subgraph((g) => {
    const [o] = g.node(
      'Identity',
      [a],
      {},
      { name: `${inner}/else/id/Identity`, outputs: [`${inner}/else/id/Identity_output_0`] },
    );
    g.output(o, DataType.FLOAT, [1, 4]);
  }, 'else_g');
  const [y] = b.node(
    'If',
    [cond],
    { then_branch: thenBranch, else_branch: elseBranch },
    { name: `${outer}/branch/If`, outputs: [`${outer}/branch/If_output_0`] },
  );
  const [z] = b.node(
    'Relu',
    [y],
    {},
    { name: `${outer}/out/Relu`, outputs: [`${outer}/out/Relu_output_0`] },
  );
  b.output(z);
  const model = b.build();
  const printed = printModel(model);
  assert.match(printed.text, /^ {2}…\/ = "\/encoder\/layers\.0\/attention"$/m);
  assert.match(printed.text, /^ {8}…\/ = "\/encoder\/layers\.0\/attention\/branch\/then"$/m);
  assert.match(printed.text, /\[…\/out\/Relu\] …_output_0 = Relu \(…\/branch\/If_output_0\)/);
  const parsed = parseModelText(printed.text);
  const names = (g: TextGraph): string[] =>
    g.nodes.flatMap((n) => [
      n.name,
      ...n.inputs,
      ...n.outputs,
      ...[...n.attributes.values()].flatMap((v) =>
        typeof v === 'object' && 'nodes' in v ? names(v) : [],
      ),
    ]);
  const expected = (g: Graph): string[] =>
    g.nodes.flatMap((n) => [
      n.name,
      ...n.inputs,
      ...n.outputs,
      ...n.attributes.flatMap((a) => (a.g ? expected(a.g) : [])),
    ]);
  assert.deepEqual(names(parsed.graph), expected(model.graph));
});

test("the repository's real exports parse back with their op within reach", () => {
  const dir = path.join(__dirname, '../../fixtures/exported');
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.onnx'))) {
    const model = loadModelFile(path.join(dir, file)).model;
    const printed = printModel(model);
    const parsed = parseModelText(printed.text);
    assert.deepEqual(
      parsed.graph.nodes.map((n) => [n.name, n.inputs, n.outputs]),
      model.graph.nodes.map((n) => [n.name, n.inputs, n.outputs]),
      file,
    );
    const lines = printed.text.split('\n');
    const columns = printed.layout.nodeLines.map((l) => opEnd(lines[l])).sort((p, q) => p - q);
    const p95 = columns[Math.floor(columns.length * 0.95)];
    assert.ok(p95 <= 70, `${file}: 95% of ops end by column ${p95}`);
  }
});
