/**
 * Where TensorFlow Lite Micro puts each buffer in the non-persistent ("head") part of its tensor
 * arena: the rule of its GreedyMemoryPlanner
 * (tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc), reproduced exactly so that the
 * arena size we report is the one the device will need.
 *
 * Input is the list of buffers in the order TFLM adds them (every tensor of every subgraph in
 * index order, then scratch buffers), each with its size and the first and last allocation scope
 * it is alive in, both inclusive. A scope is one step of TFLM's lifetime walk (see
 * arenaLifetimes.ts); it may be -1 for a buffer the walk never marked.
 *
 * 1. Sizes are rounded up to MicroArenaBufferAlignment (16 bytes) before planning
 *    (micro_allocator.cc, CreatePlan).
 * 2. Buffers with an offline offset go first, in the order they were added, at that offset, even
 *    where it overlaps another: the offline plan is trusted as given.
 * 3. The others follow largest first. Among equal sizes the buffer added LAST goes first: TFLM
 *    fills its sort array from the tail (so in reverse order of addition) and then runs a stable
 *    sort by descending size.
 * 4. Each is placed at the lowest offset that fits: walk the placed buffers in order of offset,
 *    skipping those whose lifetime does not intersect its own; keep a candidate offset (the end
 *    of the furthest such buffer seen so far) and stop at the first one that starts at least
 *    `size` bytes after the candidate; failing that, go after the last one.
 *
 *   offset:  0        48       96      144
 *   scope 0  [ t0 ..... ]
 *   scope 1  [ t0 ..... ][ t2 .. ][ t1 .. ]
 *   scope 2  [ t0 ..... ][ t2 .. ][ t1 .. ]      t3 [3, 3] goes first (ties: last added first),
 *   scope 3  [ t3 ..... ][ t2 .. ][ t1 .. ]      then t2, then t1; t0 reuses t3's bytes.
 *
 * 5. The arena's non-persistent size is the highest end offset of any buffer
 *    (GetMaximumMemorySize).
 */

/** MicroArenaBufferAlignment() in tensorflow/lite/micro/micro_arena_constants.h. */
export const TFLM_ARENA_ALIGNMENT = 16;

/** One buffer as TFLM's AllocationInfo gives it to the planner. */
export interface ArenaBuffer {
  /** Bytes the buffer holds, before padding to the alignment. */
  readonly bytes: number;
  /** First allocation scope the buffer is alive in (TFLM's first_created); -1 = never marked. */
  readonly firstScope: number;
  /** Last allocation scope the buffer is alive in, inclusive (TFLM's last_used). */
  readonly lastScope: number;
  /** Byte offset fixed by an offline plan; absent = planned online (-1 in the metadata). */
  readonly offlineOffset?: number;
}

export interface ArenaPlacement {
  /** Byte offset from the start of the non-persistent arena. */
  readonly offset: number;
  /** Bytes it occupies: `bytes` rounded up to the alignment. */
  readonly alignedBytes: number;
  /** 0 for the first buffer placed, and so on: offline ones first, then largest first. */
  readonly placedAs: number;
  readonly offline: boolean;
}

export interface ArenaPlan {
  /** The arena's non-persistent size: highest `offset + alignedBytes` (0 with no buffers). */
  readonly arenaBytes: number;
  /** One per input buffer, same index. */
  readonly placements: readonly ArenaPlacement[];
}

/** AlignSizeUp in tensorflow/lite/micro/memory_helpers.cc. */
export function alignSizeUp(bytes: number, alignment: number): number {
  return Math.ceil(bytes / alignment) * alignment;
}

export function planGreedyArena(
  buffers: readonly ArenaBuffer[],
  alignment = TFLM_ARENA_ALIGNMENT,
): ArenaPlan {
  if (!Number.isInteger(alignment) || alignment < 1) {
    throw new RangeError(`alignment must be a whole number ≥ 1, got ${alignment}.`);
  }
  buffers.forEach(checkBuffer);
  const sizes = buffers.map((b) => alignSizeUp(b.bytes, alignment));
  const order = placingOrder(buffers, sizes);

  const offsets = new Array<number>(buffers.length).fill(0);
  const placedAs = new Array<number>(buffers.length).fill(0);
  /** Placed buffer ids, ascending by offset; a new one goes after those at the same offset. */
  const byOffset: number[] = [];
  let arenaBytes = 0;

  order.forEach((id, rank) => {
    const wanted = buffers[id];
    const offset =
      wanted.offlineOffset ?? firstFit(wanted, sizes[id], byOffset, buffers, sizes, offsets);
    offsets[id] = offset;
    placedAs[id] = rank;
    byOffset.splice(insertionPoint(byOffset, offsets, offset), 0, id);
    arenaBytes = Math.max(arenaBytes, offset + sizes[id]);
  });

  return {
    arenaBytes,
    placements: buffers.map((b, id) => ({
      offset: offsets[id],
      alignedBytes: sizes[id],
      placedAs: placedAs[id],
      offline: b.offlineOffset !== undefined,
    })),
  };
}

function checkBuffer(b: ArenaBuffer, id: number): void {
  if (!Number.isInteger(b.bytes) || b.bytes < 0) {
    throw new RangeError(`Buffer ${id} has ${b.bytes} bytes; expected a whole number ≥ 0.`);
  }
  if (!Number.isInteger(b.firstScope) || !Number.isInteger(b.lastScope) || b.firstScope < -1) {
    throw new RangeError(`Buffer ${id} has lifetime [${b.firstScope}, ${b.lastScope}].`);
  }
  if (
    b.offlineOffset !== undefined &&
    !(Number.isInteger(b.offlineOffset) && b.offlineOffset >= 0)
  ) {
    throw new RangeError(`Buffer ${id} has offline offset ${b.offlineOffset}.`);
  }
}

/** Offline buffers in the order added, then online ones by descending size, last added first. */
function placingOrder(buffers: readonly ArenaBuffer[], sizes: readonly number[]): number[] {
  const offline: number[] = [];
  const online: number[] = [];
  buffers.forEach((b, id) => (b.offlineOffset === undefined ? online : offline).push(id));
  online.sort((a, b) => sizes[b] - sizes[a] || b - a);
  return [...offline, ...online];
}

function overlapInTime(a: ArenaBuffer, b: ArenaBuffer): boolean {
  return a.firstScope <= b.lastScope && b.firstScope <= a.lastScope;
}

/** Step 4 of the module comment: the first gap of `size` bytes among buffers alive meanwhile. */
function firstFit(
  wanted: ArenaBuffer,
  size: number,
  byOffset: readonly number[],
  buffers: readonly ArenaBuffer[],
  sizes: readonly number[],
  offsets: readonly number[],
): number {
  let candidate = 0;
  for (const other of byOffset) {
    if (!overlapInTime(wanted, buffers[other])) continue;
    if (offsets[other] - candidate >= size) return candidate;
    candidate = Math.max(candidate, offsets[other] + sizes[other]);
  }
  return candidate;
}

/** Index after the last placed buffer whose offset is ≤ `offset` (TFLM's list insertion). */
function insertionPoint(byOffset: readonly number[], offsets: readonly number[], offset: number) {
  let low = 0;
  let high = byOffset.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (offsets[byOffset[mid]] <= offset) low = mid + 1;
    else high = mid;
  }
  return low;
}
