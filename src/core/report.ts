/**
 * The analysis report: what every surface (CLI table and JSON, hovers, diagnostics, webview)
 * shows. Only types and the two tiny helpers that shape a tensor for display live here.
 */
import { dtypeName, storageBytes } from './onnx/dtype';
import { elementCount } from './onnx/tensorData';
import { concreteShape } from './shapes/infer';
import type { Dim, TensorType } from './shapes/types';
import type { TensorLifetime } from './memory/liveness';
import type { RuntimeMemory } from './tflite/arenaReport';
import type { Convention } from './cost/conventions';

export interface Diagnostic {
  readonly severity: 'error' | 'warning' | 'info';
  readonly node?: string;
  readonly message: string;
  /** Which stage raised it: shapes, analysis (figures), or device (fit rules). */
  readonly source: 'shapes' | 'analysis' | 'device';
}

export interface OutputReport {
  readonly name: string;
  readonly dtype: string;
  /** null when unknown; a string entry is a symbolic dimension. */
  readonly shape: Dim[] | null;
}

export interface NodeReport {
  readonly index: number;
  /** Position of the node in the file's node list (the text view's order). */
  readonly fileIndex: number;
  readonly name: string;
  readonly op: string;
  readonly domain: string;
  readonly inputs: string[];
  readonly outputs: OutputReport[];
  readonly macs: number;
  readonly flops: number;
  readonly bops: number;
  /**
   * Set when what the node computes is unknown (a TFLite custom operator such as `ethos-u`):
   * why. `macs`, `flops` and `bops` then hold 0 as a placeholder, to be shown as unknown, never
   * as a count; the model's totals leave the node out and list it in `totals.uncountedNodes`.
   */
  readonly macsUnknown?: string;
  readonly params: number;
  readonly weightBytes: number;
  /**
   * Weight bytes as the file stores them, where that differs from `weightBytes`: a weight stored
   * as an ONNX sparse_initializer counts its values and int64 indices here, while `weightBytes`
   * counts the dense tensor ONNX Runtime makes of it when it loads the model.
   */
  readonly storedWeightBytes?: number;
  /**
   * Sparse figures (cost/weightSparsity.ts), present when the main weight of a Conv, Gemm or
   * MatMul has zeros, measured with the bit-width hints (they read the weights): the fraction of
   * it that is zero, and `macs` less the MACs of those zeros, what a device skipping every zero
   * weight executes.
   */
  readonly weightSparsity?: number;
  readonly sparseMacs?: number;
  /** The N:M pattern of lowest N/M the main weight follows along its reduction axis: '2:4'. */
  readonly nmPattern?: string;
  /**
   * Group length M → the most nonzeros in any group of M along the reduction axis, for each M
   * the device rules may ask about (WeightSparsity.nmGroupMaxima). Not in the JSON.
   */
  readonly nmGroupMaxima?: Readonly<Record<number, number>>;
  readonly activationBytes: number;
  /** The layer's share (0–1) of each model total. */
  readonly share: { macs: number; flops: number; params: number; weightBytes: number };
  /** Stored precision of the main weight, when the layer has one. */
  readonly weightBits: number | null;
  readonly activationBits: number;
  readonly suggestedWeightBits: number | null;
  /** Weight bytes with the main weight at the suggested width (plus scales), bias as stored. */
  readonly suggestedWeightBytes: number | null;
  /** Weight SQNR in dB per candidate width (8, 6, 5, 4, 3, 2), the reason for the suggestion. */
  readonly weightSqnrDb: Record<string, number> | null;
  /**
   * Weight SQNR in dB of the other formats the compressor writes (fp16; pow2 at 8 bits, ternary,
   * binary per output channel), from the same sample as `weightSqnrDb`; null with it.
   */
  readonly weightFormatSqnrDb: Readonly<
    Record<'fp16' | 'pow2' | 'ternary' | 'binary', number>
  > | null;
  /** The main weight's multiplier-free grid (compress/lowBitGrids.ts), when it has one. */
  readonly weightGrid?: 'pow2' | 'ternary' | 'binary';
  readonly latencySeconds?: number;
  readonly energyJoules?: number;
}

export interface DeviceReport {
  readonly id: string;
  readonly name: string;
  readonly fits: boolean;
  readonly weightBytesLimit: number;
  readonly ramBytesLimit: number;
  /** Fractions of the limits in use (1.4 = 140%). */
  readonly weightUse: number;
  readonly ramUse: number;
  readonly latencySeconds: number;
  readonly energyJoules: number;
  /**
   * Set when some nodes' MACs are unknown (NodeReport.macsUnknown): `latencySeconds` and
   * `energyJoules` leave their compute out, so they are lower bounds. Absent otherwise.
   */
  readonly latencyIsLowerBound?: true;
  /** The nodes of unknown cost the lower bounds leave out, with latencyIsLowerBound. */
  readonly uncountedNodes?: string[];
  /**
   * Present when some layer's weight has zeros (NodeReport.sparseMacs): the MACs this device
   * executes given its `sparsity` capability (dense where it skips none), and the layers whose
   * zeros it skips.
   */
  readonly sparsity?: DeviceSparsityReport;
  readonly diagnostics: {
    severity: 'error' | 'warning' | 'info';
    node?: string;
    message: string;
  }[];
}

export interface DeviceSparsityReport {
  /** MACs per inference on this device: dense MACs, less the zeros it skips. */
  readonly macs: number;
  /** The layers whose zeros it skips, and how: `2:4` or `unstructured`. */
  readonly exploited: { readonly node: string; readonly how: string; readonly macs: number }[];
  /** One line: what the device does with the model's zeros. */
  readonly note: string;
}

export interface AnalysisReport {
  readonly model: {
    path: string;
    /** The file format and its version, as a user names it: `ONNX IR 8, opset 17`, `TFLite schema 3`. */
    format: string;
    irVersion: number;
    opset: number;
    producer: string;
    fileBytes: number;
  };
  readonly totals: {
    macs: number;
    flops: number;
    bops: number;
    params: number;
    weightBytes: number;
    peakActivationBytes: number;
    naiveActivationBytes: number;
    activationLowerBoundBytes: number;
    /** Nodes whose MACs/FLOPs are unknown (NodeReport.macsUnknown): the sums above omit them. */
    uncountedNodes?: string[];
    /** Σ sparseMacs (macs where a layer has none), when some layer has them. */
    sparseMacs?: number;
    /** Weight bytes as stored, when some weight is stored sparse (NodeReport.storedWeightBytes). */
    storedWeightBytes?: number;
  };
  readonly memory: {
    /** The node running when the most activation bytes are alive, and what is alive then. */
    peakNode: string | null;
    peakStep: number;
    liveAtPeak: { name: string; bytes: number }[];
    liveBytesPerStep: number[];
    /** Every run-time tensor's bytes and the steps it is alive (the planner's, for hovers). */
    lifetimes: readonly TensorLifetime[];
    /**
     * What a microcontroller runtime adds around the activation arena, where the format's runtime
     * is known (TFLite Micro): its planner, the persistent part (an estimate) and state tensors.
     */
    runtime?: RuntimeMemory;
  };
  readonly nodes: NodeReport[];
  readonly inputs: OutputReport[];
  readonly outputs: OutputReport[];
  /** Symbolic input dimensions that were counted as 1. */
  readonly symbolicDims: string[];
  readonly errorTargetDb: number;
  /**
   * Whose counting the MACs, weight and feature-map bytes follow (cost/conventions.ts): ours
   * (`model-lens`, also when absent), ST Edge AI Core's or Arm Vela's.
   */
  readonly convention?: Convention;
  readonly diagnostics: Diagnostic[];
  readonly device?: DeviceReport;
}

export function outputReport(name: string, t: TensorType | undefined): OutputReport {
  return { name, dtype: t ? dtypeName(t.dtype) : 'unknown', shape: t?.shape ? [...t.shape] : null };
}

/** Bytes of a tensor at its dtype, symbolic dims counted as 1; undefined when unknown. */
export function tensorBytes(t: TensorType | undefined): number | undefined {
  if (!t?.shape || t.dtype === 0) return undefined;
  return storageBytes(t.dtype, elementCount(concreteShape(t.shape)));
}
