/**
 * `model-lens compress IN -o OUT …`: folds BatchNorm, prunes filters, prunes weights, quantizes
 * weights and then activations, in that order (each step sees the previous one's model; the
 * activations are calibrated on the model with its weights already quantized, so their ranges
 * are the ones the final model produces), then writes OUT atomically. Every figure in the
 * summary comes from the engine's change summaries.
 */
import * as path from 'node:path';
import { foldBatchNorm } from '../core/compress/foldBatchNorm';
import { pruneFilters } from '../core/compress/pruneStructured';
import { pruneUnstructured } from '../core/compress/pruneUnstructured';
import { quantizeWeights, type QuantizeOptions } from '../core/compress/quantize';
import { calibrateActivations } from '../core/compress/calibrate';
import { quantizeActivations } from '../core/compress/quantizeActivations';
import type { ChangeSummary } from '../core/compress/summary';
import { VerifyError } from '../core/verify';
import { formatBytes, formatCount } from '../core/format';
import { loadModelFile, saveModelFile } from '../core/onnx/load';
import type { Model } from '../core/onnx/types';
import { UsageError, type CompressRequest } from './args';

/** int8 | uint8 | int4 | uint4 | <k>bit (k from 2 to 8, signed). */
export function quantizeSpec(text: string): Pick<QuantizeOptions, 'bits' | 'signed'> {
  const named: Record<string, Pick<QuantizeOptions, 'bits' | 'signed'>> = {
    int8: { bits: 8, signed: true },
    uint8: { bits: 8, signed: false },
    int4: { bits: 4, signed: true },
    uint4: { bits: 4, signed: false },
  };
  const k = /^(\d)bit$/.exec(text);
  const spec = named[text] ?? (k ? { bits: Number(k[1]), signed: true } : undefined);
  if (!spec || spec.bits < 2 || spec.bits > 8) {
    throw new UsageError(
      `--quantize expects int8, uint8, int4, uint4 or 2bit … 8bit, got '${text}'`,
    );
  }
  return spec;
}

export async function compressCommand(
  input: string,
  request: CompressRequest,
  json: boolean,
): Promise<number> {
  const loaded = loadModelFile(input);
  const hasExternal = loaded.model.graph.initializers.some((t) => t.external);
  if (
    hasExternal &&
    path.dirname(path.resolve(request.output)) !== path.dirname(path.resolve(input))
  ) {
    throw new UsageError(
      'a model with external data must be written next to the original (its side files stay where they are)',
    );
  }
  const ext = loaded.external;
  const layers = request.layers;
  type Step = (m: Model) => { model: Model; summary: ChangeSummary };
  const steps: (Step | ((m: Model) => Promise<ReturnType<Step>>))[] = [];
  if (request.foldBn) steps.push((m) => foldBatchNorm(m, { layers }, ext));
  if (request.structured !== undefined)
    steps.push((m) => pruneFilters(m, { fraction: request.structured!, layers }, ext));
  if (request.prune !== undefined)
    steps.push((m) =>
      pruneUnstructured(m, { sparsity: request.prune!, scope: 'layer', layers }, ext),
    );
  if (request.quantize) {
    const spec = quantizeSpec(request.quantize);
    steps.push((m) => quantizeWeights(m, { ...spec, perChannel: request.perChannel, layers }, ext));
  }
  if (request.activations) {
    const mode = request.activations;
    steps.push(async (m) => {
      const calibration = await calibrateActivations(
        { model: m, external: ext, fileBytes: 0 },
        {
          layers,
          inputsDir: request.calibrationDir,
          samples: request.calibrationSamples,
          inputShapes: request.inputShapes,
        },
      ).catch((e: unknown) => {
        // The verifier's messages ("x.npy: …", "ONNX Runtime failed …") say what, not when.
        if (e instanceof VerifyError) throw new VerifyError(`calibration: ${e.message}`);
        throw e;
      });
      return quantizeActivations(m, calibration, { mode, layers }, ext);
    });
  }
  let model = loaded.model;
  const summaries: ChangeSummary[] = [];
  for (const step of steps) {
    const result = await step(model);
    model = result.model;
    summaries.push(result.summary);
  }
  saveModelFile(model, request.output);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ output: path.resolve(request.output), steps: summaries })}\n`,
    );
    return 0;
  }
  for (const s of summaries) {
    process.stdout.write(
      `${s.operation}: weights ${formatBytes(s.bytesBefore)} → ${formatBytes(s.bytesAfter)}, MACs ${formatCount(s.macsBefore)} → ${formatCount(s.macsAfter)}, ${s.layersTouched.length} layers\n`,
    );
    for (const note of s.notes) process.stdout.write(`  · ${note}\n`);
  }
  process.stdout.write(`wrote ${request.output}\n`);
  return 0;
}
