/**
 * `node --import tsx test/e2e/install.ts DIR`: installs the VSIX (`vsixFile()`: `npm run
 * package`'s, or E2E_VSIX) into DIR with `code-server --install-extension`, as a user would.
 * scripts/e2e.mjs runs it once per test run and hands DIR to the tests as E2E_EXTENSIONS_DIR:
 * every workbench of the run starts with `--extensions-dir DIR`.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT, installVsix, vsixFile } from './harness';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node --import tsx test/e2e/install.ts EXTENSIONS_DIR');
  process.exit(2);
}
const vsix = vsixFile();
const start = performance.now();
try {
  const installed = installVsix(vsix, path.resolve(dir));
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  console.log(
    `e2e: code-server installed ${path.relative(REPO_ROOT, vsix)} as ${installed.id} ` +
      `${installed.manifest.version} in ${installed.dir} (${seconds} s)`,
  );
} catch (error) {
  console.error(`e2e: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
