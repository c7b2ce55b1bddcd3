/**
 * `npm start`: VS Code in the browser with Model Lens installed and sample models open.
 * Installs the runtime (test/e2e/setup.sh: Node 24, code-server, chromium; cached after the
 * first run), builds the extension and its VSIX (`npm run package`, only when the build
 * changed), installs the VSIX with `code-server --install-extension` as a user would, lays out a
 * workspace of sample models, starts code-server on 127.0.0.1 only, and prints the URL. Ctrl+C
 * stops it.
 *
 * The workbench opens the most representative sample, resnet18 (../shared/models, else the small
 * CNN the e2e tests generate in its place), with its graph beside it, through tasks of the sample
 * workspace that run on folder open (`graphTasks`). VS Code web's `?payload=[["openFile", …]]`
 * URL was tried: it opens the file in the plain text editor (startup files skip the custom
 * editor). All of it lives in this script's workspace and user data (`.code-server/`): nothing
 * changes for anyone who installs the extension. The user settings keep the chat and the
 * secondary side bar closed.
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
import { placeResnet18 } from '../test/e2e/models';
import { sampleCnn } from './sampleModel';

const STATE = path.join(REPO_ROOT, '.code-server'); // git-ignored
const WORKSPACE = path.join(STATE, 'workspace');
/** The model the URL opens, with its graph beside it. */
const FIRST_MODEL = 'resnet18.onnx';

/**
 * This script's own user settings (merged under what is already in its settings.json, so your
 * changes there stay): a quiet first screen with the model and its graph, no chat.
 */
const START_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  // The text view shares the window with the graph: its figures need the width more.
  'editor.minimap.enabled': false,
  // The tasks that open the model and its graph run on folder open.
  'task.allowAutomaticTasks': 'on',
  'modelLens.device': 'stm32h743',
};

/**
 * The model and its graph on open, as two tasks run on folder open whose only work is resolving an
 * input of type command: `_workbench.openWith` (the workbench's own command behind
 * `vscode.openWith`, which takes the file's URI as JSON) opens the model with its default editor,
 * Model Lens; after a wait (a dependency, so the text view is the active editor by then)
 * `modelLens.showGraph` opens the graph beside it. The URI's authority is the page's host, as
 * code-server names the remote: the printed URL's.
 */
function graphTasks(port: number): unknown {
  const quiet = { reveal: 'never', close: true, echo: false };
  const noop = (input: string) => ({
    type: 'process',
    command: process.execPath,
    args: ['-e', '', `\${input:${input}}`],
    runOptions: { runOn: 'folderOpen' },
    presentation: quiet,
    problemMatcher: [],
  });
  return {
    version: '2.0.0',
    tasks: [
      { label: 'Model Lens: open the sample model', ...noop('modelLensOpen') },
      {
        label: 'Model Lens: wait for the model',
        type: 'process',
        command: process.execPath,
        args: ['-e', `setTimeout(() => {}, ${GRAPH_DELAY_MS})`],
        presentation: quiet,
        problemMatcher: [],
      },
      {
        label: 'Model Lens: graph beside the model',
        ...noop('modelLensGraph'),
        dependsOn: ['Model Lens: wait for the model'],
      },
    ],
    inputs: [
      {
        id: 'modelLensOpen',
        type: 'command',
        command: '_workbench.openWith',
        args: {
          scheme: 'vscode-remote',
          authority: `127.0.0.1:${port}`,
          path: path.join(WORKSPACE, FIRST_MODEL),
        },
      },
      { id: 'modelLensGraph', type: 'command', command: 'modelLens.showGraph' },
    ],
  };
}

/** How long after the folder opens the graph is asked for (the model loads and prints first). */
const GRAPH_DELAY_MS = 10_000;

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
  // resnet18 is what the URL opens: without ../shared, the small CNN the e2e tests use instead.
  if (!fs.existsSync(path.join(WORKSPACE, FIRST_MODEL))) placeResnet18(WORKSPACE);
  saveModelFile(sampleCnn(), path.join(WORKSPACE, 'sample-cnn.onnx'));
  fs.writeFileSync(
    path.join(WORKSPACE, 'corrupt.onnx'),
    'not an ONNX model: Model Lens says so and keeps working\n',
  );
}

/** Our settings under the ones already there (a JSON file with comments is left as it is). */
function writeSettings(file: string): void {
  let existing: Record<string, unknown> = {};
  if (fs.existsSync(file)) {
    try {
      existing = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
  }
  fs.writeFileSync(file, JSON.stringify({ ...START_SETTINGS, ...existing }, null, 2) + '\n');
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
  writeSettings(path.join(userData, 'User', 'settings.json'));
  const port = Number(process.env.PORT) || (await freePort());
  fs.mkdirSync(path.join(WORKSPACE, '.vscode'), { recursive: true });
  fs.writeFileSync(
    path.join(WORKSPACE, '.vscode', 'tasks.json'),
    JSON.stringify(graphTasks(port), null, 2) + '\n',
  );
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
    `\nModel Lens is running in VS Code: http://127.0.0.1:${port}/\n(${FIRST_MODEL} opens, then its graph beside it.) Sample models are in ${WORKSPACE}. Press Ctrl+C to stop.\n`,
  );
  server.on('exit', (code) => process.exit(code ?? 0));
}

main().catch((e: unknown) => {
  console.error(`model-lens: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
