/**
 * dist/cli.js runs the CLI bundle from the V8 code cache the build makes (src/cli/loader.ts):
 * the cache is taken when it is this bundle's, and otherwise never passed to V8: another bundle
 * of the same length (V8 would take the cache: it checks only the length), a damaged or missing
 * cache all run the bundle as it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const dist = path.resolve(__dirname, '../../../dist');
const files = ['cli.js', 'cli-main.js', 'cli-main.v8cache'];
const skip = files.every((f) => fs.existsSync(path.join(dist, f)))
  ? false
  : 'dist/cli.js, cli-main.js or cli-main.v8cache not built (npm run build)';

/** Preloaded: reports on stderr what the loader's vm.Script got and whether V8 took it. */
const SPY = `
const vm = require('node:vm');
const Script = vm.Script;
vm.Script = class extends Script {
  constructor(code, options) {
    super(code, options);
    const bytes = options && options.cachedData ? options.cachedData.length : 0;
    process.stderr.write('cache ' + bytes + ' ' + this.cachedDataRejected + '\\n');
  }
};
`;

function withCopy(body: (dir: string, run: (...args: string[]) => Run) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-cache-'));
  try {
    for (const f of files) fs.copyFileSync(path.join(dist, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'spy.js'), SPY);
    body(dir, (...args) => {
      const r = spawnSync(
        process.execPath,
        ['-r', path.join(dir, 'spy.js'), path.join(dir, 'cli.js'), ...args],
        { encoding: 'utf8' },
      );
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

test('the build makes a code cache that V8 takes, from any folder', { skip }, () => {
  withCopy((_dir, run) => {
    const r = run('--version');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'dev\n');
    assert.match(r.stderr, /^cache [1-9]\d* false$/m);
  });
});

test('a bundle of the same length with other bytes runs without the cache', { skip }, () => {
  withCopy((dir, run) => {
    const bundle = path.join(dir, 'cli-main.js');
    const text = fs.readFileSync(bundle, 'utf8');
    const edited = text.replace(': "dev"', ': "DEV"');
    assert.notEqual(edited, text);
    fs.writeFileSync(bundle, edited);
    const r = run('--version');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'DEV\n');
    assert.match(r.stderr, /^cache 0 /m);
  });
});

test('a damaged, truncated or missing cache costs a compile, never an error', { skip }, () => {
  withCopy((dir, run) => {
    const cache = path.join(dir, 'cli-main.v8cache');
    const good = fs.readFileSync(cache);
    // V8's data damaged (in one of its two copies): V8 would crash on it, it must not get it.
    const damaged = Buffer.from(good);
    for (let i = 64; i < 4096; i++) damaged[i] ^= 0x5a;
    for (const bytes of [damaged, good.subarray(0, good.length >> 1), Buffer.alloc(0)]) {
      fs.writeFileSync(cache, bytes);
      const r = run('--version');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'dev\n');
      assert.match(r.stderr, /^cache 0 /m);
    }
    fs.rmSync(cache);
    const r = run('devices', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).length > 0);
  });
});

test('with --enable-source-maps the bundle is required as usual', { skip }, () => {
  const r = spawnSync(process.execPath, ['--enable-source-maps', path.join(dist, 'cli.js'), 'x'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^model-lens: /);
});
