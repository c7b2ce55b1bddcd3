/**
 * dist/cli.js, the `model-lens` executable: it runs the CLI bundle (dist/cli-main.js, built from
 * main.ts) from V8's code cache, dist/cli-main.v8cache, made by `npm run build`.
 *
 * Why: compiling the bundle was the largest part of the CLI's start-up (28 ms of the 61 ms a
 * profile of `--version` took), paid by every run; with the cache V8 deserializes the functions
 * an analysis runs instead of parsing them. Node 20 has no module.enableCompileCache (Node 22), so
 * the bundle is compiled here as Node's own CommonJS loader would (same wrapper, `require`,
 * `module`, `__filename`, `__dirname`), with `cachedData`.
 *
 * The cache is used only when it is certainly this bundle's and intact: it carries a copy of the
 * bundle it was made from, compared byte for byte (V8 itself checks only the source's length, its
 * version and flags), and V8's data twice, compared too (V8 checksums a code cache only in debug
 * builds, and damaged data crashes it; a hash would cost more than the cache saves: node:crypto or
 * node:zlib take 3-5 ms to load). Anything else (no cache, another bundle, another Node or V8
 * flags: V8 rejects it) costs a plain compile, as before; never an error. With
 * --enable-source-maps the bundle is require()d as usual, so that Node maps its stack traces.
 *
 * The build makes the cache by running `model-lens analyze` on a test model with
 * MODEL_LENS_WRITE_CODE_CACHE=FILE: the cache then holds every function that run compiled, not
 * only the top level.
 */
import * as fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vm from 'node:vm';

const BUNDLE = path.join(__dirname, 'cli-main.js');
const CACHE = path.join(__dirname, 'cli-main.v8cache');

/** The cache file: this header, V8's data twice, then the bundle it was made from. */
const MAGIC = 0x3863_6c6d; // "mlc8", little-endian
const HEADER_BYTES = 12; // magic, data bytes, bundle bytes (uint32 LE each)

function run(): void {
  if (sourceMapsEnabled()) {
    createRequire(__filename)(BUNDLE);
    return;
  }
  const source = fs.readFileSync(BUNDLE);
  const writeTo = process.env.MODEL_LENS_WRITE_CODE_CACHE;
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) { ${source.toString('utf8')}\n});`,
    // No importModuleDynamically: the build turns the bundle's import() into require().
    { filename: BUNDLE, cachedData: writeTo ? undefined : cachedData(source) },
  );
  if (writeTo) process.once('exit', () => writeCache(writeTo, script.createCachedData(), source));
  const mod = new Module(BUNDLE, module);
  mod.filename = BUNDLE;
  mod.paths = module.paths;
  const compiled = script.runInThisContext() as (...args: unknown[]) => void;
  compiled.call(mod.exports, mod.exports, createRequire(BUNDLE), mod, BUNDLE, __dirname);
}

/** V8's data for this bundle, if the cache file was made from exactly these bytes, intact. */
function cachedData(source: Buffer): Buffer | undefined {
  let file: Buffer;
  try {
    file = fs.readFileSync(CACHE);
  } catch {
    return undefined;
  }
  if (file.length < HEADER_BYTES || file.readUInt32LE(0) !== MAGIC) return undefined;
  const dataBytes = file.readUInt32LE(4);
  const sourceBytes = file.readUInt32LE(8);
  const copy = HEADER_BYTES + dataBytes;
  const bundle = copy + dataBytes;
  if (sourceBytes !== source.length || bundle + sourceBytes !== file.length) return undefined;
  const data = file.subarray(HEADER_BYTES, copy);
  if (!file.subarray(bundle).equals(source) || !file.subarray(copy, bundle).equals(data)) {
    return undefined;
  }
  return data;
}

/** Written whole or not at all (temporary file, then rename). */
function writeCache(file: string, data: Buffer, source: Buffer): void {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(data.length, 4);
  header.writeUInt32LE(source.length, 8);
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, Buffer.concat([header, data, data, source]));
  fs.renameSync(temporary, file);
}

function sourceMapsEnabled(): boolean {
  return (
    process.sourceMapsEnabled ??
    /--enable-source-maps/.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`)
  );
}

run();
