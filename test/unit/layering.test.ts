/**
 * The layer order of src/core, read from the import statements: a folder (or a top-level file
 * such as analyze.ts) may import from the layers below it, never from one above. Only the order
 * that holds today is asserted: tflite/, memory/ and report.ts still import each other and cost/
 * both ways, so they are not placed yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const CORE = path.resolve(import.meta.dirname, '../../src/core');

/** Lowest first: bytes, graph, shapes, quantization maths, figures, compressor, advisor. */
const LAYERS = ['onnx', 'graph', 'shapes', 'numerics', 'cost', 'analyze.ts', 'compress', 'advisor'];

/** The folder (or top-level file) of src/core a path lies in. */
function layerOf(file: string): string {
  return path.relative(CORE, file).split(path.sep)[0];
}

/** Every relative import and re-export in src/core: "file -> specifier", keyed by layer edge. */
function layerEdges(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  const files = fs
    .readdirSync(CORE, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(CORE, f));
  for (const file of files) {
    const source = fs.readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gm)) {
      const target = path.resolve(path.dirname(file), m[1]);
      if (!target.startsWith(CORE + path.sep)) continue;
      const from = layerOf(file);
      const isFolder = fs.existsSync(target) && fs.statSync(target).isDirectory();
      const to = layerOf(isFolder ? path.join(target, 'index.ts') : `${target}.ts`);
      if (from === to) continue;
      const key = `${from} -> ${to}`;
      edges.set(key, [...(edges.get(key) ?? []), `${path.relative(CORE, file)} imports ${m[1]}`]);
    }
  }
  return edges;
}

const edges = layerEdges();

test('the import scan sees the edges the order is made of', () => {
  // Guards against a scan that finds nothing and so passes every rule below.
  assert.ok(edges.has('cost -> numerics'));
  assert.ok(edges.has('compress -> cost'));
  assert.ok(edges.has('advisor -> compress'));
});

test('no layer of src/core imports a layer above it (onnx < graph < shapes < … < advisor)', () => {
  const upward = [...edges].filter(([key]) => {
    const [from, to] = key.split(' -> ');
    const a = LAYERS.indexOf(from);
    const b = LAYERS.indexOf(to);
    return a >= 0 && b >= 0 && a < b;
  });
  assert.deepEqual(
    upward.flatMap(([, imports]) => imports),
    [],
  );
});

test('only the advisor imports the advisor within src/core', () => {
  const intoAdvisor = [...edges].filter(([key]) => key.endsWith(' -> advisor'));
  assert.deepEqual(
    intoAdvisor.flatMap(([, imports]) => imports),
    [],
  );
});
