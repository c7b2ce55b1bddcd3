// Runs the unit tests with Node's built-in test runner. Node 20's runner does not expand globs,
// so we list test/unit/**/*.test.ts ourselves (or the folders and files given) and pass the files (TypeScript via tsx).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dirs = process.argv.slice(2).length ? process.argv.slice(2) : ['test/unit'];
const files = dirs.flatMap((d) =>
  fs.statSync(path.join(root, d)).isDirectory()
    ? fs.readdirSync(path.join(root, d), { recursive: true }).map((f) => path.join(d, f))
    : [d],
);
const tests = files.filter((f) => f.endsWith('.test.ts')).sort();
const result = spawnSync(
  process.execPath,
  // --test-force-exit: a test file whose tests have all finished exits even if a handle lingers
  // (seen once in CI: the quick-fix server tests passed, then their process idled forever).
  ['--import', 'tsx', '--test', '--test-force-exit', '--test-reporter=spec', ...tests],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
