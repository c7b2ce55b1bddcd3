/**
 * The multiple-choice knapsack every per-layer plan solves: one option per group (a layer's
 * width, a layer's sparsity), each with a cost (bytes, weights kept) and an error (a measured
 * effect), the total cost within a budget and the total error least.
 *
 * Solved by a Pareto dynamic programme: after each group, keep only the (cost, error) points
 * that no other point beats on both, dropping those that cannot fit even with the cheapest
 * options of the remaining groups. This is exact. Should the frontier exceed `maxFrontier`
 * points (many groups with incomparable options), it is thinned to the least-error point per
 * cost bucket, which can miss the optimum by at most one bucket's worth of slack.
 */

export interface KnapsackOption {
  readonly cost: number;
  readonly error: number;
}

/** Cap on the Pareto frontier's size (see the header). */
export const MAX_FRONTIER = 20000;

interface Point {
  readonly cost: number;
  readonly error: number;
  /** Option index in its group, as a linked list (newest first). */
  readonly choice: number;
  readonly parent: Point | undefined;
}

/**
 * The least-error choice (an option index per group) whose costs sum to ≤ budget, or undefined
 * when even the cheapest options exceed it. Among equal errors the cheaper plan wins.
 */
export function leastErrorWithin(
  groups: readonly (readonly KnapsackOption[])[],
  budget: number,
  maxFrontier = MAX_FRONTIER,
): number[] | undefined {
  const cheapest = (g: readonly KnapsackOption[]): number => Math.min(...g.map((o) => o.cost));
  // Smallest cost the groups after i can take, to drop points that cannot fit.
  const rest = new Array<number>(groups.length + 1).fill(0);
  for (let i = groups.length - 1; i >= 0; i--) rest[i] = rest[i + 1] + cheapest(groups[i]);
  if (rest[0] > budget) return undefined;

  let frontier: Point[] = [{ cost: 0, error: 0, choice: -1, parent: undefined }];
  groups.forEach((g, gi) => {
    const next: Point[] = [];
    for (const p of frontier) {
      g.forEach((o, oi) => {
        const cost = p.cost + o.cost;
        if (cost + rest[gi + 1] > budget) return;
        next.push({ cost, error: p.error + o.error, choice: oi, parent: p });
      });
    }
    next.sort((a, b) => a.cost - b.cost || a.error - b.error);
    const kept: Point[] = [];
    for (const p of next)
      if (kept.length === 0 || p.error < kept[kept.length - 1].error) kept.push(p);
    frontier = kept.length > maxFrontier ? thin(kept, maxFrontier) : kept;
  });

  // The frontier is sorted by cost with falling error: its last point is the least-error fit.
  const choice: number[] = [];
  for (let p: Point | undefined = frontier[frontier.length - 1]; p?.parent; p = p.parent) {
    choice.unshift(p.choice);
  }
  return choice;
}

/** The least-error point per cost bucket (`buckets` buckets over the frontier's range). */
function thin(points: readonly Point[], buckets: number): Point[] {
  const lo = points[0].cost;
  const width = (points[points.length - 1].cost - lo) / buckets || 1;
  const out: Point[] = [];
  let bucket = -1;
  for (const p of points) {
    const b = Math.floor((p.cost - lo) / width);
    // Within a bucket error falls with cost, so the bucket's last point is its least error.
    if (b === bucket) out[out.length - 1] = p;
    else out.push(p);
    bucket = b;
  }
  return out;
}
