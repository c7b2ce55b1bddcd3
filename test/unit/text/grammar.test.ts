import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as oniguruma from 'vscode-oniguruma';
import { INITIAL, Registry, parseRawGrammar, type IGrammar } from 'vscode-textmate';
import { printModel } from '../../../src/core/text/printer';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, float } from '../../helpers/modelBuilder';

const root = path.resolve(__dirname, '../../..');
let grammar: IGrammar;

before(async () => {
  const wasm = fs.readFileSync(path.join(root, 'node_modules/vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => {
      const file = path.join(root, 'syntaxes/onnx.tmLanguage.json');
      return parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  const loaded = await registry.loadGrammar('source.onnx');
  assert.ok(loaded, 'grammar loads');
  grammar = loaded;
});

/** Scopes of every token of the printed text, as [text, innermost scope] per line. */
function tokens(text: string): [string, string][][] {
  let state = INITIAL;
  return text.split('\n').map((line) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    return result.tokens.map((t) => [
      line.slice(t.startIndex, t.endIndex),
      t.scopes[t.scopes.length - 1],
    ]);
  });
}

function scopeOf(all: [string, string][][], lineMatch: string, token: string): string {
  const line = all.find((l) =>
    l
      .map(([t]) => t)
      .join('')
      .includes(lineMatch),
  );
  assert.ok(line, `a line containing ${lineMatch}`);
  const found = line.find(([t]) => t.trim() === token);
  assert.ok(found, `token ${token} in ${JSON.stringify(line)}`);
  return found[1];
}

test('a printed model is highlighted: ops, labels, attributes, types, names, comments', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('input', DataType.FLOAT, ['batch', 3, 8, 8]);
  const [y] = b.node(
    'Conv',
    [x, b.weight('conv.weight', [4, 3, 3, 3])],
    { pads: [1, 1, 1, 1], auto_pad: 'NOTSET' },
    { name: '/conv/Conv', outputs: ['/conv/Conv_output_0'] },
  );
  const [z] = b.node('LeakyRelu', [y], { alpha: float(0.1) }, { name: 'act', outputs: ['z'] });
  const [g] = b.node(
    'FastGelu',
    [z],
    {},
    { name: 'gelu', domain: 'com.microsoft', outputs: ['g'] },
  );
  b.output(g, DataType.FLOAT, ['batch', 4, 8, 8]);
  const { text } = printModel(b.build(), () => '108 values · min -1');
  const all = tokens(text);

  assert.equal(scopeOf(all, 'ir_version', 'ir_version'), 'support.type.property-name.header.onnx');
  assert.equal(scopeOf(all, '=> (', 'main'), 'entity.name.type.graph.onnx');
  assert.equal(scopeOf(all, '=> (', 'float'), 'storage.type.onnx');
  assert.equal(scopeOf(all, '=> (', '=>'), 'keyword.operator.arrow.onnx');
  assert.equal(
    scopeOf(all, '"conv.weight"', '# 108 values · min -1'),
    'comment.line.number-sign.onnx',
  );
  assert.equal(scopeOf(all, '= Conv', 'Conv'), 'entity.name.function.operator.onnx');
  assert.equal(scopeOf(all, '= Conv', '"/conv/Conv"'), 'entity.name.tag.node-label.onnx');
  assert.equal(scopeOf(all, '= Conv', 'pads'), 'variable.parameter.attribute.onnx');
  assert.equal(scopeOf(all, '= Conv', '"NOTSET"'), 'string.quoted.double.onnx');
  assert.equal(scopeOf(all, '= Conv', '"conv.weight"'), 'variable.other.tensor.onnx');
  assert.equal(scopeOf(all, '= Conv', '1'), 'constant.numeric.onnx');
  assert.equal(scopeOf(all, '= LeakyRelu', '0.1'), 'constant.numeric.onnx');
  assert.equal(
    scopeOf(all, '= com.microsoft.FastGelu', 'com.microsoft.FastGelu'),
    'entity.name.function.operator.onnx',
  );
});

test('module scope lines and elided names are highlighted', () => {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 8, 8]);
  const block = '/features/features.1/features.1.0/block';
  const [y] = b.node(
    'Conv',
    [x, b.weight('onnx::Conv_7', [4, 3, 3, 3])],
    {},
    {
      name: `${block}/block.0/block.0.0/Conv`,
      outputs: [`${block}/block.0/block.0.0/Conv_output_0`],
    },
  );
  const [z] = b.node(
    'Sigmoid',
    [y],
    {},
    {
      name: `${block}/block.0/block.0.2/Sigmoid`,
      outputs: [`${block}/block.0/block.0.2/Sigmoid_output_0`],
    },
  );
  b.output(z);
  const { text } = printModel(b.build());
  const all = tokens(text);
  // Both nodes fit in their deepest common module: the scope is `${block}/block.0`.
  const scope = `…/ = "${block}/block.0"`;
  assert.equal(scopeOf(all, scope, '…/'), 'keyword.other.scope.onnx');
  assert.equal(scopeOf(all, scope, `"${block}/block.0"`), 'entity.name.namespace.scope.onnx');
  assert.equal(scopeOf(all, '= Conv', '…/block.0.0/Conv'), 'entity.name.tag.node-label.onnx');
  assert.equal(scopeOf(all, '= Conv', 'Conv'), 'entity.name.function.operator.onnx');
  assert.equal(scopeOf(all, '= Sigmoid', 'Sigmoid'), 'entity.name.function.operator.onnx');
  assert.equal(
    scopeOf(all, '= Sigmoid', '…/block.0.0/Conv_output_0'),
    'variable.other.tensor.elided.onnx',
  );
  const sigmoid = all.find((l) =>
    l
      .map(([t]) => t)
      .join('')
      .includes('= Sigmoid'),
  )!;
  const own = sigmoid.find(([t]) => t.includes('…_output_0'));
  assert.ok(own && own[1] === 'variable.other.tensor.definition.onnx', JSON.stringify(sigmoid));
});
