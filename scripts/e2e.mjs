// `npm run test:e2e`: installs the e2e runtime (test/e2e/setup.sh: chromium, Node 24, code-server,
// playwright-core; each step skipped when done), builds the extension, then runs the end-to-end
// tests (test/e2e/*.test.ts, or the files given) with Node's test runner, and prints timings.
//   node scripts/e2e.mjs [--no-setup] [--no-build] [test/e2e/smoke.test.ts ...] [--test-name-pattern=...]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a === '--no-setup' || a === '--no-build'));
const passThrough = args.filter((a) => a.startsWith('--test-'));
const files = args.filter((a) => !a.startsWith('--'));
const tests = files.length
  ? files
  : fs
      .readdirSync(path.join(root, 'test/e2e'))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => `test/e2e/${f}`);

const timings = [];
function run(label, command, commandArgs) {
  const start = performance.now();
  console.log(`e2e: ${label}: ${command} ${commandArgs.join(' ')}`);
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  const seconds = (performance.now() - start) / 1000;
  timings.push(`${label} ${seconds.toFixed(1)} s`);
  if (result.error) console.error(`e2e: ${label} could not start: ${result.error.message}`);
  return result.status ?? 1;
}
function finish(status) {
  console.log(`e2e: timings: ${timings.join(', ')}`);
  process.exit(status);
}

if (!flags.has('--no-setup')) {
  const status = run('setup', 'bash', ['test/e2e/setup.sh']);
  if (status !== 0) {
    console.error('e2e: test/e2e/setup.sh failed (see above)');
    finish(status);
  }
}
if (!flags.has('--no-build')) {
  const status = run('build', 'npm', ['run', 'build', '--silent']);
  if (status !== 0) finish(status);
}
finish(
  run('tests', process.execPath, [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    '--test-timeout=600000',
    ...passThrough,
    ...tests,
  ]),
);
