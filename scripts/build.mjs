// Bundles the CLI, the extension (vscode stays external: the editor provides it) and the
// analyzer server with esbuild, and the graph webview as a browser bundle (webview/, below).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { build } from 'esbuild';

const node = {
  bundle: true,
  // A native addon: loaded from node_modules at run time, and only when something verifies.
  external: ['onnxruntime-node'],
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  outdir: 'dist',
};

await Promise.all([
  buildCli(),
  build({
    ...node,
    entryPoints: { extension: 'src/extension/main.ts' },
    external: [...node.external, 'vscode'],
  }),
  build({ ...node, entryPoints: { server: 'src/server/main.ts' } }),
  buildWebview(),
]);

/**
 * The CLI: dist/cli-main.js (src/cli/main.ts) and the executable dist/cli.js (src/cli/loader.ts),
 * which runs it from V8's code cache, dist/cli-main.v8cache, made here by running the CLI once;
 * compress and verify in dist/cli-commands.js (src/cli/commands.ts), loaded when they run.
 */
async function buildCli() {
  const cache = 'dist/cli-main.v8cache';
  fs.rmSync(cache, { force: true });
  await Promise.all([
    build({
      ...node,
      entryPoints: { 'cli-main': 'src/cli/main.ts' },
      // import() as require(): a script compiled with vm (the loader) has no dynamic import of
      // its own without an experimental option, which warns on each use and fails with a cache.
      supported: { 'dynamic-import': false },
      metafile: true,
    }).then(({ metafile }) => {
      const dynamic = Object.values(metafile.outputs)
        .flatMap((o) => o.imports)
        .filter((i) => i.kind === 'dynamic-import');
      if (dynamic.length)
        throw new Error(`dist/cli-main.js imports ${dynamic[0].path} with import()`);
    }),
    build({ ...node, entryPoints: { 'cli-commands': 'src/cli/commands.ts' } }),
    build({
      ...node,
      entryPoints: { cli: 'src/cli/loader.ts' },
      banner: { js: '#!/usr/bin/env node' },
    }),
  ]);
  // An analysis, so that the cache holds the functions it compiles, not only the top level.
  const model = 'test/fixtures/exported/detector.onnx';
  const args = fs.existsSync(model) ? ['analyze', model, '--json'] : ['--version'];
  // Without NODE_OPTIONS: V8 rejects a cache made under other flags.
  const { NODE_OPTIONS: _, ...env } = process.env;
  const run = spawnSync(process.execPath, ['dist/cli.js', ...args], {
    env: { ...env, MODEL_LENS_WRITE_CODE_CACHE: cache },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    throw new Error(`dist/cli.js ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  }
  if (!fs.existsSync(cache)) console.warn(`build: no ${cache} (the CLI starts without it)`);
}

/**
 * The graph webview: dist/webview/graph.js. The layout worker (ELK and the fast layout) is built
 * first and inlined into it as text, because a webview may only start a worker from a blob: URL.
 */
async function buildWebview() {
  const browser = {
    bundle: true,
    platform: 'browser',
    target: 'chrome120',
    format: 'iife',
    minify: true,
    logLevel: 'warning',
  };
  const worker = await build({
    ...browser,
    entryPoints: ['webview/layout/worker.ts'],
    write: false,
  });
  const workerSource = worker.outputFiles[0].text;
  await build({
    ...browser,
    entryPoints: { graph: 'webview/main.ts' },
    outdir: 'dist/webview',
    sourcemap: true,
    plugins: [
      {
        name: 'layout-worker-source',
        setup(b) {
          b.onResolve({ filter: /^layout-worker-source$/ }, () => ({
            path: 'layout-worker-source',
            namespace: 'inline',
          }));
          b.onLoad({ filter: /.*/, namespace: 'inline' }, () => ({
            contents: workerSource,
            loader: 'text',
          }));
        },
      },
    ],
  });
}
