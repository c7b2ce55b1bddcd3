/**
 * Opening and saving model files. Loading reads the file once into one buffer; every tensor is a
 * view of it. Saving is atomic: a temp file in the same folder, fsync, then rename.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeModel } from './decode';
import { encodeModelParts } from './encode';
import { ExternalData, ExternalDataError, readWholeFile } from './externalData';
import type { Model } from './types';
import { ProtoError } from './wire';
import { isTfliteBytes } from '../tflite/identify';
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

/** The whole file, with a one-line ModelLoadError for every reason it cannot be read. */
export function readModelBytes(file: string): Uint8Array {
  const full = path.resolve(file);
  try {
    const st = fs.statSync(full);
    if (st.isDirectory()) throw new ModelLoadError(`${file} is a folder, not a model file`);
    return readWholeFile(full);
  } catch (e) {
    if (e instanceof ModelLoadError) throw e;
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

/** Fails early, with the tensor's name, when a side file is missing or too short. */
function checkExternalData(model: Model, external: ExternalData, label: string): void {
  for (const t of model.graph.initializers) {
    if (!t.external) continue;
    try {
      external.check(t.external, t.name);
    } catch (e) {
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
  const parts = encodeModelParts(model);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'wx');
    for (const p of parts) {
      let done = 0;
      while (done < p.length) done += fs.writeSync(fd, p, done, p.length - done);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, full);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ModelLoadError(
        `${file}: cannot write here (${code === 'EROFS' ? 'read-only file system' : 'permission denied'})`,
      );
    }
    throw e;
  }
}
