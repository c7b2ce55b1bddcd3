/**
 * Opening and saving model files. Loading reads the file's structure into an image of the file
 * whose large payloads stay on disk (lazyFile.ts); every tensor is a view of it, and a payload is
 * read from the file when one is needed. Saving is atomic: a temp file in the same folder, fsync,
 * then rename; payloads left in the source file are streamed from it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeModel } from './decode';
import { encodeModelParts } from './encode';
import { ExternalData, ExternalDataError, readWholeFile } from './externalData';
import {
  PayloadUnavailableError,
  readFileRange,
  readStructureImage,
  resolveParts,
} from './lazyFile';
import type { Model } from './types';
import { ProtoError } from './wire';
import { hasTfliteExtension, isTfliteBytes } from '../tflite/identify';
import type { TfliteExtras } from '../tflite/translate';

/** Any reason a model cannot be opened. The message is one line, fit for a user. */
export class ModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

export interface LoadedModel {
  /** Absolute path, or undefined for a model decoded from bytes in memory. */
  readonly path?: string;
  readonly fileBytes: number;
  readonly model: Model;
  readonly external: ExternalData;
  /**
   * Set when the file is a TensorFlow Lite model (modelFile.ts): `model` is then its translation
   * into this graph (tflite/translate.ts), which every analysis stage reads as it reads ONNX, and
   * this keeps what only TFLite has (the decoded file, quantization tables, variable tensors),
   * for the TFLite arena planner. Code that writes or runs ONNX refuses such a model.
   */
  readonly tflite?: TfliteExtras;
}

/** An ONNX model file. TFLite files are read by modelFile.ts's loadAnyModel, which every analysis uses. */
export function loadModelFile(file: string): LoadedModel {
  const full = path.resolve(file);
  return parseModelBytes(readModelBytes(file), path.dirname(full), full);
}

/**
 * The file's bytes, with a one-line ModelLoadError for every reason it cannot be read: a TFLite
 * file whole (its buffers are views of it), an ONNX file as its structure image (lazyFile.ts:
 * large payloads are read from the file when needed).
 */
export function readModelBytes(file: string): Uint8Array {
  const full = path.resolve(file);
  try {
    const st = fs.statSync(full);
    if (st.isDirectory()) throw new ModelLoadError(`${file} is a folder, not a model file`);
    return isTfliteFile(full) ? readWholeFile(full) : readStructureImage(full);
  } catch (e) {
    if (e instanceof ModelLoadError) throw e;
    if (e instanceof PayloadUnavailableError) throw new ModelLoadError(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ModelLoadError(`${file}: no such file`);
    if (code === 'EACCES') throw new ModelLoadError(`${file}: permission denied`);
    if (code === 'ERR_FS_FILE_TOO_LARGE' || e instanceof RangeError) {
      throw new ModelLoadError(`${file}: too large to read in one piece`);
    }
    throw new ModelLoadError(`${file}: cannot read (${(e as Error).message})`);
  }
}

export function parseModelBytes(bytes: Uint8Array, baseDir?: string, file?: string): LoadedModel {
  const label = file ? path.basename(file) : 'model';
  if (isTfliteBytes(bytes)) {
    // Reached only by what writes or runs ONNX (compression, verification): analysis loads
    // through modelFile.ts, which translates TFLite.
    throw new ModelLoadError(`${label} is a TensorFlow Lite model: this needs an ONNX model`);
  }
  let model: Model;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    if (e instanceof ProtoError) {
      throw new ModelLoadError(`${label}: not a valid ONNX model (${e.message})`);
    }
    if (e instanceof RangeError) {
      throw new ModelLoadError(`${label}: not a valid ONNX model (nesting too deep)`);
    }
    throw e;
  }
  const external = new ExternalData(baseDir, undefined, file);
  checkExternalData(model, external, label);
  return { path: file, fileBytes: bytes.length, model, external };
}

/**
 * Fails early, with the tensor's name, when a side file is missing or its location is refused. A
 * side file shorter than a tensor says is reported when that payload is needed instead (the
 * analysis gives a diagnostic; compression and saves stop with one line).
 */
function checkExternalData(model: Model, external: ExternalData, label: string): void {
  for (const t of model.graph.initializers) {
    if (!t.external) continue;
    try {
      external.check(t.external, t.name);
    } catch (e) {
      if (e instanceof ExternalDataError && e.short) continue;
      if (e instanceof ExternalDataError) throw new ModelLoadError(`${label}: ${e.message}`);
      throw e;
    }
  }
}

/**
 * Why a save over `file` would fail, or undefined when it can be written: a file without write
 * permission (its mode, even for root, as the editor shows it locked), a folder where the temp
 * file of an atomic save can't be created, or a read-only file system. Checked before a quick fix
 * edits a model, so that the user learns it before the work, not at save time.
 */
export function saveBlocker(file: string): string | undefined {
  const name = path.basename(file);
  const dir = path.dirname(path.resolve(file));
  const denied = (target: string): string | undefined => {
    try {
      fs.accessSync(target, fs.constants.W_OK);
      return undefined;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'EACCES';
    }
  };
  let mode: number;
  try {
    mode = fs.statSync(file).mode;
  } catch {
    return `${name} no longer exists on disk`;
  }
  const fileCode = denied(file);
  const dirCode = denied(dir);
  if (fileCode === 'EROFS' || dirCode === 'EROFS') {
    return `${name} is on a read-only file system: save a compressed copy elsewhere with \`model-lens compress\``;
  }
  if ((mode & 0o222) === 0 || fileCode) {
    return `${name} is read-only: make it writable, or save a compressed copy with \`model-lens compress\``;
  }
  if (dirCode) {
    return `the folder of ${name} is not writable, and a safe save writes a temporary file there first`;
  }
  return undefined;
}

/**
 * Writes the model atomically. Untouched messages are written from their original bytes, so an
 * unedited model re-saves byte-identical. Never leaves a half-written file at `file`.
 */
export function saveModelFile(model: Model, file: string): void {
  const full = path.resolve(file);
  const temp = path.join(
    path.dirname(full),
    `.${path.basename(full)}.${process.pid}.${Date.now()}.tmp`,
  );
  let fd: number | undefined;
  try {
    // Before the temp file exists: a payload the source no longer holds fails here, cleanly.
    const parts = resolveParts(encodeModelParts(model));
    fd = fs.openSync(temp, 'wx');
    let copyBuffer: Uint8Array | undefined;
    for (const p of parts) {
      if (p instanceof Uint8Array) {
        writeAll(fd, p);
        continue;
      }
      // A payload left in the source file: streamed from it in blocks.
      copyBuffer ??= new Uint8Array(Math.min(COPY_BLOCK_BYTES, p.length));
      for (let at = 0; at < p.length;) {
        const n = Math.min(COPY_BLOCK_BYTES, p.length - at);
        if (copyBuffer.length < n) copyBuffer = new Uint8Array(COPY_BLOCK_BYTES);
        const block = copyBuffer.subarray(0, n);
        readFileRange({ file: p.file, fd: p.fd, position: p.position + at, length: n }, block);
        writeAll(fd, block);
        at += n;
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, full);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    if (e instanceof PayloadUnavailableError) throw new ModelLoadError(`${file}: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ModelLoadError(
        `${file}: cannot write here (${code === 'EROFS' ? 'read-only file system' : 'permission denied'})`,
      );
    }
    throw e;
  }
}

const COPY_BLOCK_BYTES = 1 << 24;

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

/** TFLite by content (its `TFL3` identifier at byte 4) or by extension. */
function isTfliteFile(file: string): boolean {
  if (hasTfliteExtension(file)) return true;
  const head = new Uint8Array(8);
  const fd = fs.openSync(file, 'r');
  try {
    const n = fs.readSync(fd, head, 0, 8, 0);
    return isTfliteBytes(head.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}
