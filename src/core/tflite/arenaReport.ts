/**
 * The TFLite Micro arena (arena.ts) in the analysis report's terms, so that every surface shows
 * TFLM's figure where it shows peak activation RAM for ONNX, without knowing the format:
 *
 *   nonPersistentBytes → totals.peakActivationBytes (the arena TFLM's greedy planner, or the
 *                        model's offline plan, lays out: exact for the model's tensors)
 *   naiveBytes         → totals.naiveActivationBytes
 *   lowerBoundBytes    → totals.activationLowerBoundBytes
 *   per-operator view  → memory.peakNode/peakStep/liveAtPeak/liveBytesPerStep/lifetimes
 *
 * and what ONNX has no word for goes in `memory.runtime`: the persistent part (an estimate that
 * depends on the kernels), state (variable) tensors kept apart from the arena, and the planner.
 * The device RAM check keeps comparing the non-persistent part, as it does for ONNX, whose
 * headroom warning already says the runtime's persistent buffers need room too.
 */
import type { Diagnostic } from '../report';
import type { TensorLifetime } from '../memory/liveness';
import { tfliteArena } from './arena';
import type { TfliteExtras } from './translate';

export interface RuntimeMemory {
  /** Who laid the tensors out, in a user's words. */
  readonly planner: string;
  /** Estimated persistent bytes (runtime and kernel structures, state tensors included). */
  readonly persistentEstimateBytes: number;
  /** Says it is an estimate, and for which kernels. */
  readonly persistentNote: string;
  /** State tensors (RNN/SVDF/LSTM memory) the runtime keeps outside the planned arena. */
  readonly stateBytes: number;
  readonly stateTensors: readonly string[];
}

export interface ArenaFigures {
  readonly peakActivationBytes: number;
  readonly naiveActivationBytes: number;
  readonly activationLowerBoundBytes: number;
  readonly peakNode: string | null;
  readonly peakStep: number;
  readonly liveAtPeak: { name: string; bytes: number }[];
  readonly liveBytesPerStep: number[];
  readonly lifetimes: TensorLifetime[];
  readonly runtime: RuntimeMemory;
}

/**
 * `nodeNames` are the analysis's node labels in execution order: the translation keeps subgraph
 * 0's operators one to one, in file order.
 */
export function arenaFigures(
  extras: TfliteExtras,
  nodeNames: readonly string[],
  diagnostics: Diagnostic[],
): ArenaFigures {
  const arena = tfliteArena(extras.model);
  // Placements name TFLite tensors; the report names them as the translation did (unique).
  const nameOf = (p: { subgraph: number; tensor: number; name: string }): string =>
    (p.subgraph === extras.subgraph ? extras.tensorNames[p.tensor] : undefined) ?? p.name;
  for (const w of arena.warnings)
    diagnostics.push({ severity: 'info', source: 'analysis', message: w });
  const planner = arena.offlinePlanned
    ? "the model's offline plan (OfflineMemoryAllocation)"
    : `TFLite Micro's greedy planner, tensors padded to ${arena.alignment} bytes`;
  return {
    peakActivationBytes: arena.nonPersistentBytes,
    naiveActivationBytes: arena.naiveBytes,
    activationLowerBoundBytes: arena.lowerBoundBytes,
    peakNode: arena.peakOpIndex >= 0 ? (nodeNames[arena.peakOpIndex] ?? null) : null,
    peakStep: arena.peakOpIndex,
    // As arena.liveAtPeak, named as the report names tensors (TFLite tensors may have no name).
    liveAtPeak: arena.placements
      .filter((p) => Math.max(0, p.firstScope) <= arena.peakScope && arena.peakScope <= p.lastScope)
      .map((p) => ({ name: nameOf(p), bytes: p.alignedBytes }))
      .sort((a, b) => b.bytes - a.bytes),
    liveBytesPerStep: [...arena.liveBytesPerOp],
    lifetimes: arena.placements
      .filter((p) => p.subgraph === extras.subgraph)
      .map((p) => ({
        name: nameOf(p),
        bytes: p.alignedBytes,
        firstStep: p.firstOp,
        lastStep: p.lastOp,
      })),
    runtime: {
      planner,
      persistentEstimateBytes: arena.persistentEstimateBytes,
      persistentNote: arena.persistentNote,
      stateBytes: arena.variableBytes,
      stateTensors: arena.variables.map(nameOf),
    },
  };
}
