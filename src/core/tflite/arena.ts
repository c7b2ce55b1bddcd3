/**
 * The tensor arena of a TFLite model as TensorFlow Lite Micro plans it: the non-persistent part
 * (activation tensors packed by TFLM's greedy planner, or placed by the model's offline plan),
 * which is exact, and the persistent part, which depends on the kernels and is estimated.
 *
 *   arenaLifetimes.ts   which tensors are planned, their sizes and lifetimes (TFLM's rules)
 *   arenaPlanner.ts     where each goes (TFLM's GreedyMemoryPlanner)
 *   arenaPersistent.ts  the persistent estimate
 *
 * Kernel scratch buffers (RequestScratchBufferInArena) also live in the non-persistent part; they
 * depend on the kernels and are not counted, so `nonPersistentBytes` is what the model's tensors
 * need. TFLM plans every subgraph into one arena, walking into IF/WHILE/CALL_ONCE bodies from
 * subgraph 0, and so does this.
 */
import { allocationInfo } from './arenaLifetimes';
import type { AllocationScope, TensorAllocation } from './arenaLifetimes';
import { estimatePersistent } from './arenaPersistent';
import type { PersistentItem, PersistentOptions } from './arenaPersistent';
import { alignSizeUp, planGreedyArena, TFLM_ARENA_ALIGNMENT } from './arenaPlanner';
import type { TfliteModel } from './types';

export interface TensorPlacement {
  readonly subgraph: number;
  readonly tensor: number;
  readonly name: string;
  /** Bytes the tensor holds, and the bytes it takes in the arena (padded to 16). */
  readonly bytes: number;
  readonly alignedBytes: number;
  readonly offset: number;
  /** Allocation scopes, inclusive (see `scopes`); -1 when nothing marks the tensor. */
  readonly firstScope: number;
  readonly lastScope: number;
  /**
   * The same lifetime in subgraph 0's operators, for a per-operator view: the operator whose run
   * contains the scope (a called subgraph's scopes belong to the IF/WHILE calling it; the start,
   * and "never marked", count as operator 0).
   */
  readonly firstOp: number;
  readonly lastOp: number;
  /** Placed by the model's OfflineMemoryAllocation plan rather than by the planner. */
  readonly offline: boolean;
}

export interface VariableTensor {
  readonly subgraph: number;
  readonly tensor: number;
  readonly name: string;
  readonly bytes: number;
}

export interface TfliteArena {
  /** Bytes of the non-persistent part for the model's tensors: exact for TFLM's planner. */
  readonly nonPersistentBytes: number;
  /** Estimated persistent part, variable tensors included; depends on the kernels. */
  readonly persistentEstimateBytes: number;
  readonly persistentItems: readonly PersistentItem[];
  /** Says the persistent figure is an estimate, and for which kernels. */
  readonly persistentNote: string;
  /** State tensors kept in the persistent part, not in the planned arena; padded to 16 each. */
  readonly variableBytes: number;
  readonly variables: readonly VariableTensor[];
  /** True when the model's OfflineMemoryAllocation plan placed its tensors. */
  readonly offlinePlanned: boolean;
  /** Planned tensors, in TFLM's order (subgraph, then tensor index). */
  readonly placements: readonly TensorPlacement[];
  /** What each allocation scope is; scope 0 is the start of subgraph 0. */
  readonly scopes: readonly AllocationScope[];
  /** Arena bytes in use in each scope (padded tensors alive then, overlaps counted once). */
  readonly liveBytesPerScope: readonly number[];
  /** The most bytes in use in one scope: for an online plan, no plan can use less. */
  readonly lowerBoundBytes: number;
  /**
   * The first scope with `lowerBoundBytes` in use, and the first subgraph 0 operator whose run
   * reaches it (-1: no operators).
   */
  readonly peakScope: number;
  readonly peakOpIndex: number;
  /** Tensors in use at `peakScope`, largest first: why the arena is what it is. */
  readonly liveAtPeak: readonly { name: string; bytes: number }[];
  /** Per subgraph 0 operator: the most arena bytes in use in any scope of its run. */
  readonly liveBytesPerOp: readonly number[];
  /** Every planned tensor at once, padded: what an arena without reuse would need. */
  readonly naiveBytes: number;
  readonly alignment: number;
  /** Where TFLM would refuse the model, or where this plan may differ from it. */
  readonly warnings: readonly string[];
}

export function tfliteArena(model: TfliteModel, options: PersistentOptions = {}): TfliteArena {
  const info = allocationInfo(model);
  const planned = info.tensors.filter((t) => t.role === 'arena');
  const plan = planGreedyArena(planned, TFLM_ARENA_ALIGNMENT);
  const opOf = operatorOfScope(info.scopes);
  const placements = planned.map((t, i) => placementOf(t, plan.placements[i], opOf));
  const persistent = estimatePersistent(model, info, options);
  const variables = info.tensors
    .filter((t) => t.role === 'variable')
    .map(({ subgraph, tensor, name, bytes }) => ({ subgraph, tensor, name, bytes }));
  const variableBytes = variables.reduce(
    (sum, v) => sum + alignSizeUp(v.bytes, TFLM_ARENA_ALIGNMENT),
    0,
  );
  const warnings = [...info.warnings, ...unwrittenWarnings(planned)];

  const live = liveBytes(placements, info.scopes.length);
  const lowerBoundBytes = Math.max(0, ...live);
  const peakScope = lowerBoundBytes > 0 ? live.indexOf(lowerBoundBytes) : -1;
  const perOp = perOperator(live, opOf, model.subgraphs[0]?.operators.length ?? 0);

  return {
    nonPersistentBytes: plan.arenaBytes,
    persistentEstimateBytes: persistent.bytes,
    persistentItems: persistent.items,
    persistentNote: persistent.note,
    variableBytes,
    variables,
    offlinePlanned: info.offlinePlanned,
    placements,
    scopes: info.scopes,
    liveBytesPerScope: live,
    lowerBoundBytes,
    peakScope,
    peakOpIndex: perOp.length > 0 ? perOp.indexOf(Math.max(...perOp)) : -1,
    liveAtPeak: placements
      .filter((p) => Math.max(0, p.firstScope) <= peakScope && peakScope <= p.lastScope)
      .map((p) => ({ name: p.name, bytes: p.alignedBytes }))
      .sort((a, b) => b.bytes - a.bytes),
    liveBytesPerOp: perOp,
    naiveBytes: placements.reduce((sum, p) => sum + p.alignedBytes, 0),
    alignment: TFLM_ARENA_ALIGNMENT,
    warnings,
  };
}

function placementOf(
  t: TensorAllocation,
  p: { offset: number; alignedBytes: number; offline: boolean },
  opOf: readonly number[],
): TensorPlacement {
  return {
    subgraph: t.subgraph,
    tensor: t.tensor,
    name: t.name,
    bytes: t.bytes,
    alignedBytes: p.alignedBytes,
    offset: p.offset,
    firstScope: t.firstScope,
    lastScope: t.lastScope,
    firstOp: opOf[Math.max(0, t.firstScope)] ?? 0,
    lastOp: opOf[Math.max(0, t.lastScope)] ?? 0,
    offline: p.offline,
  };
}

/** For each scope, the subgraph 0 operator running then (0 before the first). */
function operatorOfScope(scopes: readonly AllocationScope[]): number[] {
  let current = 0;
  return scopes.map((s) => {
    if (s.subgraph === 0 && s.operator >= 0) current = s.operator;
    return current;
  });
}

function perOperator(live: readonly number[], opOf: readonly number[], opCount: number): number[] {
  const perOp = new Array<number>(opCount).fill(0);
  live.forEach((bytes, scope) => {
    if (opOf[scope] < opCount) perOp[opOf[scope]] = Math.max(perOp[opOf[scope]], bytes);
  });
  return perOp;
}

/**
 * Arena bytes in use in each scope: the union of the byte ranges of the tensors alive then. For an
 * online plan that is their sum (they never overlap); an offline plan may overlap them on purpose.
 * A tensor alive from "before everything" (-1) counts from scope 0.
 */
function liveBytes(placements: readonly TensorPlacement[], scopeCount: number): number[] {
  const ranges: [number, number][][] = Array.from({ length: scopeCount }, () => []);
  for (const p of placements) {
    for (let s = Math.max(0, p.firstScope); s <= p.lastScope && s < scopeCount; s++) {
      ranges[s].push([p.offset, p.offset + p.alignedBytes]);
    }
  }
  return ranges.map((list) => {
    list.sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let end = 0;
    for (const [start, stop] of list) {
      covered += Math.max(0, stop - Math.max(start, end));
      end = Math.max(end, stop);
    }
    return covered;
  });
}

/**
 * A tensor planned in the arena that nothing writes: its buffer is empty, so TFLM gives it arena
 * bytes, but it is no subgraph input and no operator's output, so it holds whatever was there.
 */
function unwrittenWarnings(planned: readonly TensorAllocation[]): string[] {
  return planned
    .filter((t) => t.firstScope === -1 && t.offlineOffset === undefined)
    .map(
      (t) =>
        `Tensor ${t.name || `#${t.tensor}`} (subgraph ${t.subgraph}) has an empty buffer but nothing writes it: TFLM still gives it ${t.bytes} bytes of arena.`,
    );
}
