/**
 * Places activation tensors in one arena, so that tensors alive at the same time never share
 * bytes, and tensors alive at different times may.
 *
 * This is the greedy-by-size, first-fit planner of TensorFlow Lite Micro
 * (tensorflow/lite/micro/memory_planner/greedy_memory_planner.h). Take the tensors largest
 * first. Put each one at the lowest offset where it does not overlap any tensor already placed
 * whose lifetime intersects its own. Big tensors go in first because they are the hardest to fit;
 * the small ones then fill the gaps the big ones leave.
 *
 * Time runs left to right, arena offsets go down. Here A (steps 0-1) and C (steps 2-3) never live
 * at the same time, so C reuses A's bytes, while B (steps 1-2) overlaps both in time and sits
 * below them:
 *
 *   step:      0     1     2     3
 *            ┌───────────┬───────────┐  offset 0
 *            │     A     │     C     │
 *            └─────┬─────┴─────┬─────┘
 *                  │     B     │
 *                  └───────────┘        arena end
 *
 * For each tensor we need the placed tensors whose lifetimes intersect its own, [first, last].
 * They are of two kinds, and `PlacedIndex` finds each kind without looking at the others:
 *   - alive at step `first` already: a stabbing query on a segment tree over steps, where each
 *     lifetime is stored at the O(log steps) tree nodes that exactly cover it;
 *   - starting during (first, last]: a bucket of placed tensors per first step.
 * A query then costs O(log steps + lifetime length + neighbours found), so a long model with short
 * lifetimes plans in near-linear time instead of comparing every pair of tensors.
 */
import { computeLifetimes, liveBytesPerStep } from './liveness';
import type { PlanInput, TensorLifetime } from './liveness';

export interface ArenaPlan {
  arenaBytes: number;
  offsets: Map<string, number>;
}

/** `alignment` rounds every offset up to a multiple of it; 1 means no padding. */
export function planArena(lifetimes: readonly TensorLifetime[], alignment = 1): ArenaPlan {
  if (!Number.isInteger(alignment) || alignment < 1) {
    throw new RangeError(`alignment must be a whole number ≥ 1, got ${alignment}.`);
  }
  for (const t of lifetimes) {
    const steps = Number.isInteger(t.firstStep) && Number.isInteger(t.lastStep);
    if (!steps || t.firstStep < 0 || t.lastStep < t.firstStep) {
      throw new RangeError(`Tensor '${t.name}' has lifetime [${t.firstStep}, ${t.lastStep}].`);
    }
    if (!Number.isFinite(t.bytes) || t.bytes < 0) {
      throw new RangeError(
        `Tensor '${t.name}' has ${t.bytes} bytes; expected a finite number ≥ 0.`,
      );
    }
  }
  const order = lifetimes
    .map((_, index) => index)
    .sort((a, b) => compareForPlacing(lifetimes, a, b));
  const stepCount = lifetimes.reduce((n, t) => Math.max(n, t.lastStep + 1), 0);
  const placed = new PlacedIndex(stepCount);
  const offsetOf = new Float64Array(lifetimes.length);
  const offsets = new Map<string, number>();
  let arenaBytes = 0;

  for (const index of order) {
    const tensor = lifetimes[index];
    let offset = 0;
    // A zero-size tensor overlaps nothing, and nothing needs to avoid it.
    if (tensor.bytes > 0) {
      const neighbours = placed.overlapping(tensor.firstStep, tensor.lastStep);
      offset = firstFit(tensor.bytes, neighbours, lifetimes, offsetOf, alignment);
      placed.add(index, tensor.firstStep, tensor.lastStep);
    }
    offsetOf[index] = offset;
    offsets.set(tensor.name, offset);
    arenaBytes = Math.max(arenaBytes, offset + tensor.bytes);
  }
  return { arenaBytes, offsets };
}

/** Placed tensors by lifetime, to find those alive during a given span of steps. */
class PlacedIndex {
  /** Segment tree over steps, heap-ordered: node 1 is the root, leaves start at `leafBase`. */
  private readonly coveringNode: (number[] | undefined)[];
  private readonly leafBase: number;
  private readonly startingAt: number[][];

  constructor(stepCount: number) {
    let leafBase = 1;
    while (leafBase < stepCount) leafBase *= 2;
    this.leafBase = leafBase;
    this.coveringNode = new Array<number[] | undefined>(2 * leafBase);
    this.startingAt = Array.from({ length: stepCount }, () => []);
  }

  add(tensor: number, first: number, last: number): void {
    this.startingAt[first].push(tensor);
    // Standard bottom-up decomposition of [first, last] into disjoint tree nodes.
    let left = first + this.leafBase;
    let right = last + this.leafBase + 1;
    while (left < right) {
      if (left & 1) this.store(left++, tensor);
      if (right & 1) this.store(--right, tensor);
      left >>= 1;
      right >>= 1;
    }
  }

  /** Each placed tensor alive at some step of [first, last], once. */
  overlapping(first: number, last: number): number[] {
    const found: number[] = [];
    // Lifetimes containing `first`: stored on the leaf-to-root path, each exactly once, because
    // the nodes a lifetime is stored at cover disjoint steps.
    for (let node = first + this.leafBase; node >= 1; node >>= 1) {
      const stored = this.coveringNode[node];
      if (stored !== undefined) for (const tensor of stored) found.push(tensor);
    }
    for (let step = first + 1; step <= last; step++) {
      for (const tensor of this.startingAt[step]) found.push(tensor);
    }
    return found;
  }

  private store(node: number, tensor: number): void {
    const stored = this.coveringNode[node];
    if (stored === undefined) this.coveringNode[node] = [tensor];
    else stored.push(tensor);
  }
}

/** Largest first; ties by earlier first step, then by name, so the plan is deterministic. */
function compareForPlacing(lifetimes: readonly TensorLifetime[], a: number, b: number): number {
  const x = lifetimes[a];
  const y = lifetimes[b];
  if (x.bytes !== y.bytes) return y.bytes - x.bytes;
  if (x.firstStep !== y.firstStep) return x.firstStep - y.firstStep;
  return x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
}

/**
 * The lowest aligned offset where `bytes` fit among the neighbours. Only the union of their byte
 * ranges matters, and the union's blocks can be read off their starts and ends sorted apart (a
 * depth count returns to 0 at the end of each block), which is cheaper than sorting the ranges.
 */
function firstFit(
  bytes: number,
  neighbours: readonly number[],
  lifetimes: readonly TensorLifetime[],
  offsetOf: Float64Array,
  alignment: number,
): number {
  const count = neighbours.length;
  const starts: number[] = [];
  const ends: number[] = [];
  for (const other of neighbours) {
    starts.push(offsetOf[other]);
    ends.push(offsetOf[other] + lifetimes[other].bytes);
  }
  const sortedStarts = sortAscending(starts);
  const sortedEnds = sortAscending(ends);

  let candidate = 0;
  let started = 0;
  let ended = 0;
  while (started < count) {
    if (candidate + bytes <= sortedStarts[started]) return candidate;
    let depth = 0;
    do {
      // On a tie take the start first, so that touching ranges form one block.
      if (started < count && sortedStarts[started] <= sortedEnds[ended]) {
        depth++;
        started++;
      } else {
        depth--;
        ended++;
      }
    } while (depth > 0);
    candidate = Math.max(candidate, alignUp(sortedEnds[ended - 1], alignment));
  }
  return candidate;
}

/**
 * Insertion sort in place for the usual handful of neighbours, where it beats the built-in sorts;
 * a sorted typed-array copy for many.
 */
function sortAscending(values: number[]): ArrayLike<number> {
  if (values.length > 32) return Float64Array.from(values).sort();
  for (let i = 1; i < values.length; i++) {
    const value = values[i];
    let j = i - 1;
    while (j >= 0 && values[j] > value) {
      values[j + 1] = values[j];
      j--;
    }
    values[j + 1] = value;
  }
  return values;
}

function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

export interface MemoryPlan {
  /** Arena size from the greedy-by-size first-fit planner: what the runtime must allocate. */
  peakActivationBytes: number;
  /** Every activation tensor at once, as if nothing were ever freed. */
  naiveActivationBytes: number;
  /** The most bytes alive at one step; no arena can be smaller. */
  lowerBoundBytes: number;
  /** The earliest step where the live bytes reach `lowerBoundBytes`; -1 when nothing is live. */
  peakStep: number;
  /** `steps[peakStep].node`, or '' when there is no such step. */
  peakNode: string;
  /** Tensors with bytes alive at `peakStep`, largest first: why the peak is what it is. */
  liveAtPeak: { name: string; bytes: number }[];
  offsets: Map<string, number>;
  lifetimes: TensorLifetime[];
  /** Live activation bytes at each step, for the memory chart. */
  liveBytesPerStep: number[];
}

export function planMemory(input: PlanInput, alignment = 1): MemoryPlan {
  const lifetimes = computeLifetimes(input);
  const live = liveBytesPerStep(lifetimes, input.steps.length);
  const { arenaBytes, offsets } = planArena(lifetimes, alignment);

  let peakStep = -1;
  let lowerBoundBytes = 0;
  live.forEach((bytes, step) => {
    if (bytes > lowerBoundBytes) {
      lowerBoundBytes = bytes;
      peakStep = step;
    }
  });
  const liveAtPeak = lifetimes
    .filter((t) => t.bytes > 0 && t.firstStep <= peakStep && peakStep <= t.lastStep)
    .map((t) => ({ name: t.name, bytes: t.bytes }))
    .sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  return {
    peakActivationBytes: arenaBytes,
    naiveActivationBytes: lifetimes.reduce((sum, t) => sum + t.bytes, 0),
    lowerBoundBytes,
    peakStep,
    peakNode: input.steps[peakStep]?.node ?? '',
    liveAtPeak,
    offsets,
    lifetimes,
    liveBytesPerStep: live,
  };
}
