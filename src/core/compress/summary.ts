/**
 * What every compression operation returns: the new model and a summary of what changed. The
 * byte and MAC figures come from analyze totals of both models (never recomputed here), so the
 * summary always agrees with what the analyzer shows.
 */
import { analyzeLoaded } from '../analyze';
import { ExternalData } from '../onnx/externalData';
import type { Model } from '../onnx/types';

export interface CompressionResult {
  model: Model;
  summary: ChangeSummary;
}

export interface ChangeSummary {
  /** e.g. 'quantize int8 per-channel'. */
  operation: string;
  /** Names of the nodes whose weights (or structure) changed. */
  layersTouched: string[];
  /** Weight bytes, from analyze totals of the original and the compressed model. */
  bytesBefore: number;
  bytesAfter: number;
  macsBefore: number;
  macsAfter: number;
  /** e.g. 'bias kept as float32 (its scale is s_w·s_x)', 'opset raised 13 → 21 for int4'. */
  notes: string[];
}

/** An operation that can't be applied; the message is the exact reason, one line. */
export class CompressionRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompressionRefusal';
  }
}

/**
 * The result of an operation, with its summary's figures from analyze totals of both models
 * (bit hints skipped: a summary needs bytes and MACs, not SQNR passes over every weight).
 * `original` may be the original's figures, taken before the operation (modelFigures).
 */
export function compressionResult(
  operation: string,
  original: Model | ModelFigures,
  compressed: Model,
  external: ExternalData | undefined,
  layersTouched: string[],
  notes: string[],
): CompressionResult {
  const before = 'graph' in original ? modelFigures(original, external) : original;
  const after = modelFigures(compressed, external);
  return {
    model: compressed,
    summary: {
      operation,
      layersTouched,
      bytesBefore: before.weightBytes,
      bytesAfter: after.weightBytes,
      macsBefore: before.macs,
      macsAfter: after.macs,
      notes,
    },
  };
}

export interface ModelFigures {
  readonly weightBytes: number;
  readonly macs: number;
}

/**
 * A model's weight bytes and MACs from analyze totals (bit hints skipped). An operation that
 * builds large tensors takes the original's figures first, so that analysis is done and
 * collectable before the new weights exist (it keeps peak memory down).
 */
export function modelFigures(model: Model, external: ExternalData | undefined): ModelFigures {
  const ext = external ?? new ExternalData(undefined);
  const { weightBytes, macs } = analyzeLoaded(
    { model, external: ext, fileBytes: 0 },
    { skipBitHints: true },
  ).totals;
  return { weightBytes, macs };
}
