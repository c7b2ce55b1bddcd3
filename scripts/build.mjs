// Bundles the CLI, the extension (vscode stays external: the editor provides it) and the
// analyzer server with esbuild. The webview will get its own browser bundle.
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
]);
