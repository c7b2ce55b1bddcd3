/**
 * Opening a model of any format the analysis reads: ONNX, or TensorFlow Lite translated into the
 * same graph (tflite/translate.ts). The format is told by content (TFLite's `TFL3` identifier),
 * then by the `.tflite` extension; everything else is read as ONNX. Every analysis surface (CLI,
 * language server, benchmarks) opens files here, so none of them learns which format it shows.
 * What writes or runs ONNX (compression, verification) keeps onnx/load.ts, which refuses TFLite
 * with one line.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExternalData } from './onnx/externalData';
import { parseModelBytes, readModelBytes, type LoadedModel } from './onnx/load';
import { hasTfliteExtension, isTfliteBytes } from './tflite/identify';
import { parseTfliteBytes } from './tflite/load';
import { translateTflite } from './tflite/translate';

export function loadAnyModel(file: string): LoadedModel {
  const full = path.resolve(file);
  return parseAnyModelBytes(readModelBytes(file), path.dirname(full), full);
}

/** A model's bytes in memory; `file` (its path, when it has one) names it and its side files. */
export function parseAnyModelBytes(
  bytes: Uint8Array,
  baseDir?: string,
  file?: string,
): LoadedModel {
  if (!isTfliteBytes(bytes) && !hasTfliteExtension(file)) {
    return parseModelBytes(bytes, baseDir, file);
  }
  const label = file ? path.basename(file) : 'model';
  const { model, tflite } = translateTflite(parseTfliteBytes(bytes, file), label);
  // Schema-3d external buffers are read as ONNX external data is, relative to the model.
  const external = new ExternalData(baseDir, undefined, file);
  return { path: file, fileBytes: bytes.length, model, external, tflite };
}

/**
 * Why a model can't be compressed or written, when its format is one the engine only reads (the
 * editor says so once instead of offering fixes); undefined for ONNX.
 */
export function compressionBlocker(loaded: LoadedModel): string | undefined {
  if (!isTfliteModel(loaded)) return undefined;
  return 'Model Lens analyses TensorFlow Lite models but compresses and writes only ONNX for now. Quantize or prune before converting to .tflite, or convert the model to ONNX (e.g. tf2onnx) to use the quick fixes.';
}

/** True when `loaded` came from a TFLite file: for the entry points that only handle ONNX. */
export function isTfliteModel(loaded: LoadedModel): boolean {
  return loaded.tflite !== undefined;
}

/** Whether the file at `file` is a TFLite model, from its first bytes or its extension. */
export function isTfliteFile(file: string): boolean {
  if (hasTfliteExtension(file)) return true;
  const head = new Uint8Array(8);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    return fs.readSync(fd, head, 0, 8, 0) === 8 && isTfliteBytes(head);
  } catch {
    // Unreadable: the loader that follows says why, in its own words.
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
