/**
 * `npm start`: VS Code in the browser with Model Lens installed and sample models open.
 * Installs the runtime (test/e2e/setup.sh: Node 24, code-server, chromium; cached after the
 * first run), builds the extension and its VSIX (`npm run package`, only when the build
 * changed), installs the VSIX with `code-server --install-extension` as a user would, lays out a
 * workspace of sample models, starts code-server on 127.0.0.1 only, and prints the URL. Ctrl+C
 * stops it.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { saveModelFile } from '../src/core/onnx/load';
import {
  REPO_ROOT,
  codeServerLaunch,
  freePort,
  installVsix,
  runtimeMissing,
  vsixFile,
} from '../test/e2e/harness';
import { sampleCnn } from './sampleModel';

const STATE = path.join(REPO_ROOT, '.code-server'); // git-ignored
const WORKSPACE = path.join(STATE, 'workspace');

function step(label: string, command: string, args: string[]): void {
  console.log(`model-lens: ${label}…`);
  const r = spawnSync(command, args, { cwd: REPO_ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`model-lens: ${label} failed`);
    process.exit(r.status ?? 1);
  }
}

/** Sample models: ../shared/models when present, the real-exporter fixtures, a small CNN, a bad file. */
function layOutWorkspace(): void {
  fs.mkdirSync(WORKSPACE, { recursive: true });
  const sources = [
    path.resolve(REPO_ROOT, '../shared/models'),
    path.join(REPO_ROOT, 'test/fixtures/exported'),
  ];
  for (const dir of sources) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.onnx'))) {
      const target = path.join(WORKSPACE, f);
      fs.rmSync(target, { force: true });
      fs.copyFileSync(path.join(dir, f), target);
      // The copies are yours to compress in place (../shared's originals are read-only).
      fs.chmodSync(target, 0o644);
    }
  }
  saveModelFile(sampleCnn(), path.join(WORKSPACE, 'sample-cnn.onnx'));
  fs.writeFileSync(
    path.join(WORKSPACE, 'corrupt.onnx'),
    'not an ONNX model: Model Lens says so and keeps working\n',
  );
}

async function main(): Promise<void> {
  step('installing the VS Code runtime (first run only)', 'bash', ['test/e2e/setup.sh']);
  step('building the extension and its VSIX', process.execPath, [
    'scripts/package.mjs',
    '--if-stale',
  ]);
  const missing = runtimeMissing();
  if (missing) throw new Error(missing);
  layOutWorkspace();
  const extensions = path.join(STATE, 'extensions');
  fs.rmSync(extensions, { recursive: true, force: true });
  const vsix = vsixFile();
  console.log(`model-lens: installing ${path.basename(vsix)} into code-server…`);
  installVsix(vsix, extensions);
  const userData = path.join(STATE, 'user-data');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  const settingsFile = path.join(userData, 'User', 'settings.json');
  if (!fs.existsSync(settingsFile)) {
    fs.writeFileSync(
      settingsFile,
      JSON.stringify(
        {
          'workbench.startupEditor': 'none',
          'telemetry.telemetryLevel': 'off',
          'modelLens.device': 'stm32h743',
        },
        null,
        2,
      ),
    );
  }
  const port = Number(process.env.PORT) || (await freePort());
  const launch = codeServerLaunch({
    port,
    stateDir: STATE,
    userDataDir: userData,
    extensionsDir: extensions,
    workspaceDir: WORKSPACE,
  });
  const server = spawn(launch.command, launch.args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: launch.env,
  });
  const stop = (): void => {
    server.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.log(
    `\nModel Lens is running in VS Code: http://127.0.0.1:${port}/\nSample models are in ${WORKSPACE}. Press Ctrl+C to stop.\n`,
  );
  server.on('exit', (code) => process.exit(code ?? 0));
}

main().catch((e: unknown) => {
  console.error(`model-lens: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
