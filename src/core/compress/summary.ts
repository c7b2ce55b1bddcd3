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
 */
export function compressionResult(
  operation: string,
  original: Model,
  compressed: Model,
  external: ExternalData | undefined,
  layersTouched: string[],
  notes: string[],
): CompressionResult {
  const figures = (model: Model) =>
    analyzeLoaded(
      { model, external: external ?? new ExternalData(undefined), fileBytes: 0 },
      { skipBitHints: true },
    ).totals;
  const before = figures(original);
  const after = figures(compressed);
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
