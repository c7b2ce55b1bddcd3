/**
 * Output-level sensitivity (conventions.md "Suggested bit-widths"): for each layer and width, the
 * SQNR of the MODEL OUTPUT in ONNX Runtime with only that layer's weights quantized. This is the
 * measured curve the "fit to device" plan (fitPlan.ts) minimises over; the weight-only SQNR in
 * numerics/weightSqnr.ts is the cheap stand-in when no runtime is available.
 *
 * Grids (issue 15): where the caller asks (`grids`), the same measurement with the layer on a
 * multiplier-free grid instead of an integer width: ternary (2 bits), binary (1 bit), pow2-N. They
 * land in `gridOutputSqnrDb`, keyed by formatName ('ternary', 'binary', 'pow2-4'), so that
 * `outputSqnrDb` stays keyed by integer width only and its readers (hover table, graph) are
 * unchanged.
 *
 * Cost: one reference run per input set, then per layer × (width or grid) one quantizeWeights
 * (one layer only), one encode of the whole model and one ORT session over every input set. The
 * session load dominates for large models, so `samples` is kept small by default.
 */
import * as fs from 'node:fs';
import { analyzeLoaded } from '../analyze';
import { quantizeWeights } from '../compress/quantize';
import { CompressionRefusal } from '../compress/summary';
import {
  checkFormat,
  formatName,
  type GridFormat,
  type WeightFormat,
} from '../compress/weightFormat';
import { WEIGHT_LAYER_OPS } from '../cost/weights';
import { encodeModel } from '../onnx/encode';
import type { LoadedModel } from '../onnx/load';
import {
  ErrorAccumulator,
  inputSpecs,
  ModelRunner,
  randomInputsFor,
  type InputSet,
  type OutputTensor,
} from '../verify';

export interface SensitivityOptions {
  /** Widths to measure, default [8, 6, 4]; may be empty when only grids are asked for. */
  bits?: readonly number[];
  /** Grids to measure as well (default none), e.g. `[{grid: 'ternary'}, {grid: 'pow2', bits: 4}]`. */
  grids?: readonly GridFormat[];
  /** Node names (as analyze reports them); default every Conv/ConvTranspose/Gemm/MatMul with a float32 constant weight. */
  layers?: readonly string[];
  /** Random input sets, default 4. */
  samples?: number;
  /** Default 0, the verifier's default, so a plan verified with the same seed sees the same inputs. */
  seed?: number;
  /** Default true. */
  perChannel?: boolean;
  /** Whole shapes for inputs with symbolic dims (Set Input Shape); otherwise such a dim is 1. */
  inputShapes?: ReadonlyMap<string, readonly number[]>;
  /** Called after each layer × width or grid (a skipped layer counts all of them at once). */
  onProgress?: (done: number, total: number, layer: string) => void;
  /** Checked between runs; an aborted signal throws an error named 'AbortError'. */
  signal?: AbortSignal;
}

export interface LayerSensitivity {
  layer: string;
  /** bits → SQNR (dB) of the model output with only this layer quantized; empty when refused. */
  outputSqnrDb: Record<number, number>;
  /**
   * formatName ('ternary', 'binary', 'pow2-4') → SQNR (dB) of the model output with only this
   * layer on that grid; present when grids were asked for and the layer wasn't skipped.
   */
  gridOutputSqnrDb?: Record<string, number>;
  /**
   * Grids refused for this layer alone (formatName → CompressionRefusal message), e.g. an opset
   * the int4 container needs that the model can't be converted to; its widths still count.
   */
  gridRefused?: Record<string, string>;
  /** Why the layer could not be quantized (CompressionRefusal message), when it was skipped. */
  skipped?: string;
}

export const DEFAULT_SENSITIVITY_BITS: readonly number[] = [8, 6, 4];
const DEFAULT_SAMPLES = 4;

/** What identifies a file's contents cheaply, for the cache key. */
export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * A cache key for measureSensitivity's result: file path + size + mtime + the options that change
 * the numbers (callbacks and signals don't). `file` is a path (stat'ed here) or a stamp.
 */
export function sensitivityCacheKey(
  file: string | FileStamp,
  options: SensitivityOptions = {},
): string {
  const stamp =
    typeof file === 'string'
      ? (() => {
          const st = fs.statSync(file);
          return { path: file, size: st.size, mtimeMs: st.mtimeMs };
        })()
      : file;
  return JSON.stringify({
    path: stamp.path,
    size: stamp.size,
    mtimeMs: stamp.mtimeMs,
    bits: [...(options.bits ?? DEFAULT_SENSITIVITY_BITS)],
    // Added only when asked for, so keys made before grids existed stay the same.
    ...(options.grids?.length ? { grids: options.grids.map(formatName) } : {}),
    layers: options.layers ? [...options.layers] : null,
    samples: options.samples ?? DEFAULT_SAMPLES,
    seed: options.seed ?? 0,
    perChannel: options.perChannel ?? true,
    inputShapes: options.inputShapes ? [...options.inputShapes] : null,
  });
}

function abortError(): Error {
  // DOMException is what fetch and AbortSignal.throwIfAborted() throw; callers test `name`.
  return new DOMException('sensitivity measurement cancelled', 'AbortError');
}

/** The default layers: quantizable ops whose main weight is a float32 constant. */
function defaultLayers(loaded: LoadedModel): string[] {
  const report = analyzeLoaded(loaded, { skipBitHints: true });
  return report.nodes
    .filter((n) => WEIGHT_LAYER_OPS.has(n.op) && n.weightBits === 32)
    .map((n) => n.name);
}

export async function measureSensitivity(
  loaded: LoadedModel,
  options: SensitivityOptions = {},
): Promise<LayerSensitivity[]> {
  const { signal } = options;
  const bits = [...(options.bits ?? DEFAULT_SENSITIVITY_BITS)];
  const grids = [...(options.grids ?? [])];
  // A bad grid is the caller's mistake, not the layer's: refuse before measuring anything.
  for (const g of grids) checkFormat(g, g.grid);
  const formats: WeightFormat[] = [...bits, ...grids];
  const samples = options.samples ?? DEFAULT_SAMPLES;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`samples must be a positive integer, not ${samples}`);
  }
  if (signal?.aborted) throw abortError();
  const layers = options.layers ? [...options.layers] : defaultLayers(loaded);
  const total = layers.length * formats.length;

  // The same input sets (the verifier's: seed, sample i) for the reference and every candidate.
  const specs = inputSpecs(loaded, options.inputShapes);
  const sets: InputSet[] = Array.from({ length: samples }, (_, sample) =>
    randomInputsFor(specs, { seed: options.seed ?? 0, sample }),
  );
  const reference = await runAll(loaded.path ?? encodeModel(loaded.model), sets, 'original model');

  const results: LayerSensitivity[] = [];
  let done = 0;
  for (const layer of layers) {
    const entry: LayerSensitivity = { layer, outputSqnrDb: {} };
    if (grids.length > 0) entry.gridOutputSqnrDb = {};
    results.push(entry);
    for (let i = 0; i < formats.length; i++) {
      if (signal?.aborted) throw abortError();
      const format = formats[i];
      let bytes: Uint8Array;
      try {
        const { model } = quantizeWeights(
          loaded.model,
          {
            bits: 8,
            formatPerLayer: new Map([[layer, format]]),
            layers: [layer],
            perChannel: options.perChannel ?? true,
          },
          loaded.external,
        );
        bytes = encodeModel(model);
      } catch (e) {
        if (!(e instanceof CompressionRefusal)) throw e;
        if (typeof format !== 'number' && i > 0) {
          // A grid refused after a width was measured: the layer quantizes, this grid doesn't
          // (its container's opset, say). Keep the widths, record why.
          (entry.gridRefused ??= {})[formatName(format)] = e.message;
          done++;
          options.onProgress?.(done, total, layer);
          continue;
        }
        // A refusal is about the layer (no float weight, shared weight, opset), not the width:
        // drop what was measured and skip its remaining widths.
        entry.outputSqnrDb = {};
        delete entry.gridOutputSqnrDb;
        entry.skipped = e.message;
        done += formats.length - i;
        options.onProgress?.(done, total, layer);
        break;
      }
      const what = typeof format === 'number' ? `${format} bits` : formatName(format);
      const db = outputSqnr(reference, await runAll(bytes, sets, `'${layer}' at ${what}`, signal));
      if (typeof format === 'number') entry.outputSqnrDb[format] = db;
      else entry.gridOutputSqnrDb![formatName(format)] = db;
      done++;
      options.onProgress?.(done, total, layer);
    }
  }
  return results;
}

/** Every input set through one session; outputs per set. */
async function runAll(
  model: string | Uint8Array,
  sets: readonly InputSet[],
  label: string,
  signal?: AbortSignal,
): Promise<Record<string, OutputTensor>[]> {
  const runner = await ModelRunner.create(model, label);
  try {
    const out: Record<string, OutputTensor>[] = [];
    for (const set of sets) {
      // Checked per set too: a large model's sample is the longest uninterrupted step.
      if (signal?.aborted) throw abortError();
      out.push(await runner.run(set));
    }
    return out;
  } finally {
    await runner.release();
  }
}

/** SQNR over all outputs and all sets together, as verifyModels reports it. */
function outputSqnr(
  reference: readonly Record<string, OutputTensor>[],
  test: readonly Record<string, OutputTensor>[],
): number {
  const acc = new ErrorAccumulator();
  reference.forEach((ref, i) => {
    for (const [name, r] of Object.entries(ref)) acc.add(r.data, test[i][name].data);
  });
  return acc.sqnrDb;
}
