// `npm run package`: builds the extension and packs it, with @vscode/vsce, as a platform-specific
// VSIX in the repo root (model-lens-VERSION-TARGET.vsix), then checks what it carries and that it
// runs: the CLI from the unpacked VSIX analyzes a model, compresses it and verifies the result in
// ONNX Runtime (the native binding shipped inside).
//   node scripts/package.mjs [--target linux-x64] [--no-build] [--if-stale] [--no-check]
//
// What goes in is the allow-list in .vscodeignore. vsce runs `npm list --production` to find the
// dependency folders it may take files from (with --no-dependencies it skips node_modules
// entirely), and .vscodeignore keeps only onnxruntime-node (JS + this target's binaries) and
// onnxruntime-common: everything else the bundles need is inside dist/*.js.
//
// --if-stale (after the build): leave the VSIX alone when it already carries exactly the files
// here (compared by CRC-32; see staleReason). `npm run test:e2e` and `npm start` call it that way.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as zlib from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** vsce target → ONNX Runtime's binary folder (bin/napi-vN/PLATFORM/ARCH): those it ships. */
const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};
const HOST_TARGET = `${process.platform}-${process.arch}`;

/** The VSIX `npm run package` makes for `target` (default: this machine's platform). */
function vsixPath(target = HOST_TARGET) {
  return path.join(root, `${manifest.name}-${manifest.version}-${target}.vsix`);
}

/**
 * Why the VSIX must be (re)made, or undefined when it carries exactly what is here now: every
 * file in it has the CRC of its source here, no bundle or asset is new since, and .vscodeignore
 * (what goes in) is older than it. By content, not by date: `npm run build` rewrites dist/
 * each time, and an unchanged build should not cost a new VSIX.
 */
function staleReason(vsix) {
  if (!fs.existsSync(vsix)) return 'no VSIX yet';
  if (fs.statSync(path.join(root, '.vscodeignore')).mtimeMs > fs.statSync(vsix).mtimeMs) {
    return '.vscodeignore is newer';
  }
  let entries;
  try {
    entries = zipEntries(vsix).entries;
  } catch (e) {
    return `unreadable (${e.message})`;
  }
  const renamed = { 'readme.md': 'README.md', 'LICENSE.txt': 'LICENSE' };
  for (const e of entries) {
    if (!e.name.startsWith('extension/')) continue;
    const relative = e.name.slice('extension/'.length);
    const source = path.join(root, renamed[relative] ?? relative);
    if (!fs.existsSync(source)) return `${relative} is gone`;
    // Each build makes the CLI's code cache anew, with other bytes for the same bundle; the
    // VSIX's own is checked against the VSIX's bundle when the CLI starts (src/cli/loader.ts).
    if (relative.endsWith('.v8cache')) continue;
    if (zlib.crc32(fs.readFileSync(source)) !== e.crc32) return `${relative} changed`;
  }
  const carried = new Set(entries.map((e) => e.name));
  const assets = [
    ...['dist', 'dist/webview'].flatMap((dir) =>
      listFiles(dir, false).filter((f) => f.endsWith('.js')),
    ),
    ...listFiles('media', true),
    ...listFiles('syntaxes', true),
  ];
  const added = assets.find((f) => !carried.has(`extension/${f}`));
  return added ? `${added} is new` : undefined;
}

/** The files under `dir` (relative to the repo root, '/'-separated). */
function listFiles(dir, recursive) {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) return [];
  return fs
    .readdirSync(full, { recursive, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

// --- A small reader of zip files (a VSIX is one): entries, and extraction ---------------------

/** The entries of a zip file: name, CRC-32, sizes, method and where its local header is. */
function zipEntries(file) {
  const zip = fs.readFileSync(file);
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error(`${file} is not a zip file (no end of central directory)`);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    entries.push({
      name: zip.toString('utf8', at + 46, at + 46 + nameLength),
      method: zip.readUInt16LE(at + 10),
      crc32: zip.readUInt32LE(at + 16),
      compressedSize: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      offset: zip.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return { zip, entries };
}

/** Unpacks a zip file into `dir` (stored and deflated entries, as vsce writes them). */
function unzip(file, dir) {
  const { zip, entries } = zipEntries(file);
  for (const e of entries) {
    if (e.name.endsWith('/')) continue;
    const target = path.resolve(dir, e.name);
    if (!target.startsWith(path.resolve(dir) + path.sep)) throw new Error(`bad entry ${e.name}`);
    const start = e.offset + 30 + zip.readUInt16LE(e.offset + 26) + zip.readUInt16LE(e.offset + 28);
    const data = zip.subarray(start, start + e.compressedSize);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, e.method === 8 ? zlib.inflateRawSync(data) : data);
  }
}

// --- The command ------------------------------------------------------------------------------

/** The VSIX being made: removed on a failure, so that --if-stale never takes it for done. */
let making;

function fail(message) {
  if (making) fs.rmSync(making, { force: true });
  console.error(`package: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    if (result.stderr) process.stderr.write(result.stderr);
    const why = result.error?.message ?? `exit ${result.status}`;
    fail(`${path.basename(command)} ${args.join(' ')} failed (${why})`);
  }
  return result;
}

/** What the VSIX must carry and must not: checked on its listing. */
function checkContents(names, binaries) {
  const required = [
    'extension/package.json',
    'extension/readme.md',
    'extension/LICENSE.txt',
    'extension/dist/extension.js',
    'extension/dist/server.js',
    'extension/dist/cli.js',
    'extension/dist/webview/graph.js',
    'extension/media/graph.css',
    'extension/syntaxes/onnx.tmLanguage.json',
    'extension/docs/editor.png',
    'extension/docs/graph.png',
    'extension/node_modules/onnxruntime-node/package.json',
    'extension/node_modules/onnxruntime-node/dist/index.js',
    'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
    'extension/node_modules/onnxruntime-common/dist/cjs/package.json',
  ];
  const missing = required.filter((n) => !names.includes(n));
  if (
    !names.some(
      (n) => n.includes(`/bin/napi-v`) && n.endsWith(`/${binaries}/onnxruntime_binding.node`),
    )
  ) {
    missing.push(
      `extension/node_modules/onnxruntime-node/bin/napi-v*/${binaries}/onnxruntime_binding.node`,
    );
  }
  const forbidden = names.filter(
    (n) =>
      /\.(map|ts|mts|cts)$/.test(n) ||
      /^extension\/(src|test|bench|scripts|webview|\.[^/]*)\//.test(n) ||
      (/^extension\/docs\//.test(n) && !/^extension\/docs\/[^/]+\.png$/.test(n)) ||
      (n.includes('/onnxruntime-node/bin/') && !n.includes(`/${binaries}/`)) ||
      (n.startsWith('extension/node_modules/') &&
        !/^extension\/node_modules\/onnxruntime-(node|common)\//.test(n)),
  );
  if (missing.length || forbidden.length) {
    fail(
      `the VSIX is not what it should be:` +
        (missing.length ? `\n  missing: ${missing.join(', ')}` : '') +
        (forbidden.length ? `\n  should not carry: ${forbidden.join(', ')}` : ''),
    );
  }
}

/** The unpacked VSIX works on its own: the CLI analyzes, compresses and verifies (ONNX Runtime). */
function checkRuns(vsix) {
  const model = path.join(root, 'test/fixtures/exported/transformer_op13.onnx');
  if (!fs.existsSync(model)) {
    console.log(`package: run check skipped (no ${path.relative(root, model)})`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-vsix-'));
  try {
    unzip(vsix, dir);
    const cli = path.join(dir, 'extension/dist/cli.js');
    const out = path.join(dir, 'int8.onnx');
    const quiet = { stdio: 'pipe', encoding: 'utf8' }; // output shown only on a failure
    run(process.execPath, [cli, 'analyze', model, '--json'], quiet);
    run(process.execPath, [cli, 'compress', model, '-o', out, '--quantize', 'int8'], quiet);
    const verified = JSON.parse(
      run(process.execPath, [cli, 'verify', model, out, '--json'], quiet).stdout,
    );
    if (!(verified.sqnrDb > 10)) fail(`verify from the unpacked VSIX: ${JSON.stringify(verified)}`);
    console.log(
      `package: the unpacked VSIX runs: analyze, compress --quantize int8, verify in ONNX Runtime ` +
        `(output SQNR ${verified.sqnrDb.toFixed(1)} dB)`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  const args = process.argv.slice(2);
  const flag = (name) => args.includes(name);
  const targetAt = args.indexOf('--target');
  const target = targetAt >= 0 ? args[targetAt + 1] : HOST_TARGET;
  const binaries = TARGETS[target];
  if (!binaries) {
    fail(
      `no ONNX Runtime binaries for target "${target}"; one of: ${Object.keys(TARGETS).join(', ')}`,
    );
  }
  const vsix = vsixPath(target);
  const name = path.relative(root, vsix);
  const start = performance.now();
  if (!flag('--no-build')) run('npm', ['run', 'build', '--silent']);
  if (!fs.existsSync(path.join(root, 'dist/extension.js'))) fail('no dist/: run `npm run build`');
  if (flag('--if-stale')) {
    const reason = staleReason(vsix);
    if (!reason) {
      console.log(`package: ${name} is up to date`);
      return;
    }
    console.log(`package: making ${name} (${reason})`);
  }

  // The allow-list, with this target's ONNX Runtime binaries, and the CLI's code cache only for
  // this machine's platform: it was made by this V8, and another platform's has no use for it.
  let ignore = fs
    .readFileSync(path.join(root, '.vscodeignore'), 'utf8')
    .replaceAll('/bin/napi-v*/linux/x64/', `/bin/napi-v*/${binaries}/`);
  if (target !== HOST_TARGET) ignore = ignore.replace(/^!dist\/cli-main\.v8cache\n/m, '');
  const ignoreFile = path.join(os.tmpdir(), `model-lens-${process.pid}.vscodeignore`);
  fs.writeFileSync(ignoreFile, ignore);
  const vsce = path.join(root, 'node_modules/@vscode/vsce/vsce');
  try {
    fs.rmSync(vsix, { force: true });
    making = vsix;
    run(process.execPath, [
      vsce,
      'package',
      '--target',
      target,
      '--out',
      vsix,
      '--ignoreFile',
      ignoreFile,
      // No public repository yet, so README.md's relative links (its screenshots in docs/,
      // which the VSIX carries) stay relative: the extension's page resolves them in the VSIX.
      '--allow-missing-repository',
      '--no-rewrite-relative-links',
    ]);
  } finally {
    fs.rmSync(ignoreFile, { force: true });
  }

  const names = zipEntries(vsix).entries.map((e) => e.name);
  checkContents(names, binaries);
  if (!flag('--no-check') && target === HOST_TARGET) checkRuns(vsix);
  making = undefined;
  const mb = (fs.statSync(vsix).size / 2 ** 20).toFixed(1);
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  console.log(`package: ${name}: ${mb} MiB, ${names.length} entries (${seconds} s)`);
}

main();
