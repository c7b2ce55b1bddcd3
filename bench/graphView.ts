/**
 * Graph view benchmark: for ResNet-18 (../shared, else a generated CNN), a ViT-size graph
 * (~1,000 nodes) and 10,000 nodes, times the server's graph data, then loads the built webview
 * bundle (dist/webview/graph.js) in chromium and times layout (in the worker), time to
 * interactive (data received → first frame drawn, with the fast layout for a graph ELK then
 * refines) and time to the final layout, then pans and zooms with the mouse while sampling
 * frame intervals with requestAnimationFrame.
 *
 *   npm run build && node --import tsx bench/graphView.ts      prints a markdown table
 *
 * Needs the e2e runtime (chromium, playwright-core: bash test/e2e/setup.sh); skips without it.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../src/core/analyze';
import { buildGraphData } from '../src/server/graphData';
import { writeTransformerLike } from './graphModels';

const REPO = path.resolve(__dirname, '..');
const E2E = path.join(REPO, 'test/e2e');
const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
/** Targets from the issue: time to interactive per graph size. */
const TARGET_MS: Record<string, number> = { resnet18: 1000, 'vit-size': 2000, '10k': 8000 };

interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<T>(fn: string): Promise<T>;
  mouse: {
    move(x: number, y: number, options?: { steps?: number }): Promise<void>;
    down(): Promise<void>;
    up(): Promise<void>;
    wheel(dx: number, dy: number): Promise<void>;
  };
  waitForTimeout(ms: number): Promise<void>;
}

interface Chromium {
  launch(options: { executablePath: string; args: string[]; headless: boolean }): Promise<{
    newPage(options: { viewport: { width: number; height: number } }): Promise<Page>;
    close(): Promise<void>;
  }>;
}

function models(dir: string): { name: string; file: string }[] {
  const shared = path.resolve(REPO, '..', 'shared', 'models', 'resnet18.onnx');
  const list = [];
  if (fs.existsSync(shared)) list.push({ name: 'resnet18', file: shared });
  for (const [name, nodes] of [
    ['vit-size', 1000],
    ['10k', 10_000],
  ] as const) {
    const file = path.join(dir, `${name}.onnx`);
    writeTransformerLike(file, nodes);
    list.push({ name, file });
  }
  return list;
}

/** A page like the extension's: the same CSP, stylesheet and bundle; data by postMessage. */
function page(): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-bench'; style-src 'self' 'nonce-bench'; worker-src blob:; img-src blob: data:; connect-src 'self'">
<link rel="stylesheet" href="/media/graph.css" nonce="bench">
</head><body class="vscode-dark" data-model-uri="bench"><div id="app"></div>
<script nonce="bench">
window.benchMessages = [];
window.acquireVsCodeApi = () => ({ postMessage: (m) => window.benchMessages.push(m), getState: () => undefined, setState: () => {} });
</script>
<script nonce="bench" src="/dist/webview/graph.js"></script></body></html>`;
}

function serve(data: Map<string, string>): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') return res.end(page());
    if (url.startsWith('/data/')) return res.end(data.get(url.slice(6)) ?? 'null');
    const file = path.join(REPO, path.normalize(url).replace(/^[/\\]+/, ''));
    if (!file.startsWith(REPO) || !fs.existsSync(file)) return res.writeHead(404).end();
    const type = file.endsWith('.css') ? 'text/css' : 'text/javascript';
    res.writeHead(200, { 'content-type': type }).end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Frame intervals (ms) while the mouse zooms in, pans, zooms far out and pans again. */
async function panZoomFrames(p: Page): Promise<number[]> {
  await p.evaluate(`(() => {
    window.benchFrames = [];
    let last = performance.now();
    const tick = (now) => { window.benchFrames.push(now - last); last = now; if (!window.benchStop) requestAnimationFrame(tick); };
    window.benchStop = false;
    requestAnimationFrame(tick);
  })()`);
  await p.mouse.move(400, 300);
  for (let i = 0; i < 6; i++) await p.mouse.wheel(0, -240);
  await p.mouse.down();
  await p.mouse.move(200, 100, { steps: 30 });
  await p.mouse.up();
  for (let i = 0; i < 14; i++) await p.mouse.wheel(0, 400);
  await p.mouse.down();
  await p.mouse.move(500, 450, { steps: 30 });
  await p.mouse.up();
  await p.waitForTimeout(300);
  return p.evaluate<number[]>('(window.benchStop = true, window.benchFrames.slice(1))');
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const playwright = path.join(E2E, 'node_modules/playwright-core/package.json');
  if (!fs.existsSync(playwright) || !fs.existsSync(CHROMIUM)) {
    console.log('graph bench: skipped (run `bash test/e2e/setup.sh` for chromium and playwright)');
    return;
  }
  if (!fs.existsSync(path.join(REPO, 'dist/webview/graph.js')))
    throw new Error('run `npm run build` first');
  const { chromium } = createRequire(playwright)('playwright-core') as { chromium: Chromium };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-graph-bench-'));
  const data = new Map<string, string>();
  const rows: string[] = [];
  const server = await serve(data);
  const port = (server.address() as { port: number }).port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu'],
    headless: true,
  });
  try {
    for (const { name, file } of models(dir)) {
      const report = analyzeFile(file);
      let started = performance.now();
      const graph = buildGraphData('bench', { path: file, report, linesByNode: new Map() }, [], 1);
      const dataMs = performance.now() - started;
      started = performance.now();
      const json = JSON.stringify(graph);
      const serializeMs = performance.now() - started;
      data.set(name, json);
      const p = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      await p.goto(`http://127.0.0.1:${port}/`);
      await p.evaluate(
        `fetch('/data/${name}').then((r) => r.json()).then((data) => window.postMessage({ type: 'graph', data }, '*'))`,
      );
      // Polled: waitForFunction evaluates with eval, which the page's CSP (rightly) refuses.
      for (let waited = 0; waited < 60_000; waited += 100) {
        if (await p.evaluate<boolean>("document.body.dataset.layoutStage === 'final'")) break;
        await p.waitForTimeout(100);
      }
      const body = await p.evaluate<Record<string, string>>('({ ...document.body.dataset })');
      const frames = await panZoomFrames(p);
      const modes = await p.evaluate<string>('document.body.dataset.layoutEngine');
      const interactive = Number(body.interactiveMs);
      const target = TARGET_MS[name];
      rows.push(
        `| ${name} | ${report.nodes.length} | ${body.nodeCount} | ${dataMs.toFixed(0)} + ${serializeMs.toFixed(0)} ms (${(json.length / 1e6).toFixed(1)} MB) | ` +
          `${modes} ${body.layoutMs} ms${body.layoutInWorker === 'true' ? ' (worker)' : ''} | ${interactive} ms | ${body.finalMs} ms | ` +
          `${percentile(frames, 0.5).toFixed(1)} / ${percentile(frames, 0.95).toFixed(1)} / ${Math.max(...frames).toFixed(0)} ms (${frames.length}) | ` +
          `≤ ${target / 1000} s: ${interactive <= target ? 'pass' : '**FAIL**'} |`,
      );
    }
  } finally {
    await browser.close();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    [
      '',
      `Graph view (chromium headless, software rendering, ${os.cpus().length} cores).`,
      '',
      '| graph | model nodes | drawn nodes | server graph data + JSON | final layout (in worker) | time to interactive | time to final layout | pan/zoom frame p50 / p95 / max (frames) | target (interactive) |',
      '|---|---:|---:|---:|---|---:|---:|---:|---|',
      ...rows,
    ].join('\n'),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
