/**
 * Opening TFLite models. The file is read once into one buffer; buffers, custom options and
 * metadata are views of it. Every reason a file cannot be read becomes the same ModelLoadError
 * the ONNX loader throws, with one line for the user, so the editor and CLI handle both alike.
 */
import * as path from 'node:path';
import { ModelLoadError, readModelBytes } from '../onnx/load';
import { decodeTflite, TfliteFormatError } from './decode';
import { FlatBufferError } from './flatbuffer';
import type { TfliteModel } from './types';

/** Whether bytes look like a TFLite file (its `TFL3` identifier), to pick a reader by content. */
export { hasTfliteIdentifier } from './decode';

export function loadTfliteFile(file: string): TfliteModel {
  return parseTfliteBytes(readModelBytes(file), file);
}

/** Decodes a whole .tflite file held in memory; `file` only names it in messages. */
export function parseTfliteBytes(bytes: Uint8Array, file?: string): TfliteModel {
  const label = file ? path.basename(file) : 'model';
  try {
    return decodeTflite(bytes);
  } catch (e) {
    if (e instanceof FlatBufferError || e instanceof TfliteFormatError) {
      throw new ModelLoadError(`${label}: not a valid TFLite model (${e.message})`);
    }
    throw e;
  }
}
