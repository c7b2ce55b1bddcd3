// Bundles the CLI, the extension (vscode stays external: the editor provides it) and the
// analyzer server with esbuild, and the graph webview as a browser bundle (webview/, below).
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
  build({
    ...node,
    entryPoints: { cli: 'src/cli/main.ts' },
    banner: { js: '#!/usr/bin/env node' },
  }),
  build({
    ...node,
    entryPoints: { extension: 'src/extension/main.ts' },
    external: [...node.external, 'vscode'],
  }),
  build({ ...node, entryPoints: { server: 'src/server/main.ts' } }),
  buildWebview(),
]);

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
