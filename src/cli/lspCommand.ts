/**
 * `model-lens lsp --stdio`: the analyzer server VS Code starts over IPC (src/server/main.ts,
 * bundled as dist/server.js next to dist/cli.js), run in this process over stdin/stdout for
 * Neovim, Helix and any other LSP client.
 *
 * The server is loaded from its own bundle rather than bundled into the CLI: bundled, it made
 * every other command start ~20 ms slower (the CLI bundle grew from 0.36 to 0.92 MB). It picks its
 * transport from the command line: with `--stdio`, vscode-languageserver also sends console
 * output to the client's log, so that stdout carries the protocol only.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

export async function lspCommand(): Promise<void> {
  if (!process.argv.includes('--stdio')) process.argv.push('--stdio');
  // dist/cli.js → dist/server.js; run from source (tsx), src/cli → src/server/main.ts.
  const bundled = path.join(__dirname, 'server.js');
  const entry = fs.existsSync(bundled) ? bundled : path.join(__dirname, '../server/main.ts');
  // Not a literal: esbuild leaves it to Node instead of bundling the server into the CLI. A
  // require, not import(): the CLI bundle runs without dynamic import (src/cli/loader.ts).
  createRequire(__filename)(entry);
}
