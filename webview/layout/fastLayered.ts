/**
 * A layered (Sugiyama-style) layout in linear time per sweep, for graphs too big for ELK:
 *
 *   1. layering by longest path: a node sits one layer below its deepest predecessor (nodes come
 *      in execution order, so one forward pass does it);
 *   2. ordering: barycenter sweeps, each layer sorted by the mean position of its predecessors,
 *      which removes most crossings of the mostly-chain graphs networks are;
 *   3. coordinates: each node wants the mean x of its predecessors; a left-to-right pass then
 *      pushes overlapping nodes apart, keeping the order.
 *
 * No dummy nodes for long edges (they would multiply the node count): a long edge is drawn
 * straight, which is acceptable at the zoom levels where 10,000 nodes are seen at once.
 */
import { LAYER_GAP, NODE_GAP, type LayoutInput, type LayoutResult } from './types';

const SWEEPS = 4;

export function fastLayered(input: LayoutInput): LayoutResult {
  const started = performance.now();
  const { nodes, edges } = input;
  const n = nodes.length;
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  const preds: number[][] = nodes.map(() => []);
  const succs: number[][] = nodes.map(() => []);
  for (const e of edges) {
    const a = index.get(e.from);
    const b = index.get(e.to);
    if (a === undefined || b === undefined || a === b) continue;
    preds[b].push(a);
    succs[a].push(b);
  }

  const layer = new Int32Array(n);
  const order = topologicalOrder(n, preds, succs);
  for (const v of order) for (const p of preds[v]) layer[v] = Math.max(layer[v], layer[p] + 1);
  const layers: number[][] = [];
  for (const v of order) (layers[layer[v]] ??= []).push(v);

  // Position of each node within its layer.
  const rank = new Float64Array(n);
  const renumber = (row: number[]) => row.forEach((v, i) => (rank[v] = i));
  layers.forEach(renumber);
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    const down = sweep % 2 === 0;
    const rows = down ? layers : [...layers].reverse();
    for (const row of rows) {
      const key = new Float64Array(row.length);
      row.forEach((v, i) => {
        const near = down ? preds[v] : succs[v];
        key[i] = near.length ? mean(near.map((u) => rank[u])) : rank[v];
      });
      const sorted = row
        .map((v, i) => [key[i], i, v] as const)
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      sorted.forEach(([, , v], i) => (row[i] = v));
      renumber(row);
    }
  }

  const x = new Float64Array(n);
  const y = new Float64Array(n);
  let top = 0;
  let width = 0;
  for (const row of layers) {
    let rowHeight = 0;
    let right = -Infinity;
    for (const v of row) {
      const w = nodes[v].width;
      const wanted = preds[v].length
        ? mean(preds[v].map((u) => x[u] + nodes[u].width / 2)) - w / 2
        : 0;
      x[v] = Math.max(wanted, right + NODE_GAP);
      right = x[v] + w;
      y[v] = top;
      rowHeight = Math.max(rowHeight, nodes[v].height);
    }
    top += rowHeight + LAYER_GAP;
  }
  // Shift everything right of 0.
  let left = Infinity;
  for (let v = 0; v < n; v++) left = Math.min(left, x[v]);
  if (!Number.isFinite(left)) left = 0;
  for (let v = 0; v < n; v++) {
    x[v] -= left;
    width = Math.max(width, x[v] + nodes[v].width);
  }

  const edgePoints = edges.map((e) => {
    const a = index.get(e.from);
    const b = index.get(e.to);
    if (a === undefined || b === undefined) return [];
    return [x[a] + nodes[a].width / 2, y[a] + nodes[a].height, x[b] + nodes[b].width / 2, y[b]];
  });
  return {
    x,
    y,
    edgePoints,
    width,
    height: Math.max(0, top - LAYER_GAP),
    engine: 'fast-layered',
    ms: performance.now() - started,
  };
}

function mean(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Kahn's order, so a back edge in odd input cannot loop forever (it is then ignored). */
function topologicalOrder(n: number, preds: number[][], succs: number[][]): number[] {
  const waiting = preds.map((p) => p.length);
  const ready: number[] = [];
  for (let v = 0; v < n; v++) if (waiting[v] === 0) ready.push(v);
  const order: number[] = [];
  const done = new Uint8Array(n);
  for (let head = 0; order.length < n;) {
    if (head === ready.length) {
      // A cycle: release the earliest node still waiting, dropping its unmet edges.
      const v = waiting.findIndex((w, i) => w > 0 && !done[i]);
      preds[v] = preds[v].filter((u) => done[u]);
      waiting[v] = 0;
      ready.push(v);
    }
    const v = ready[head++];
    done[v] = 1;
    order.push(v);
    for (const s of succs[v]) if (--waiting[s] === 0) ready.push(s);
  }
  return order;
}
