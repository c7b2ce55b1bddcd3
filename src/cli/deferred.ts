/**
 * compressCommand and verifyCommand as main.ts calls them, loaded on first call from their own
 * bundle (commands.ts, dist/cli-commands.js beside dist/cli-main.js), or from source under tsx.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as Commands from './commands';

function commands(): typeof Commands {
  const bundled = path.join(__dirname, 'cli-commands.js');
  // Not a literal: esbuild leaves it to Node instead of bundling the commands into the CLI.
  return createRequire(__filename)(
    fs.existsSync(bundled) ? bundled : path.join(__dirname, 'commands.ts'),
  ) as typeof Commands;
}

export const compressCommand: typeof Commands.compressCommand = (...args) =>
  commands().compressCommand(...args);

export const verifyCommand: typeof Commands.verifyCommand = (...args) =>
  commands().verifyCommand(...args);
