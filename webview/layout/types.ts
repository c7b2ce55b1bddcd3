/** What the layout engines take and give; plain data, so it crosses the worker boundary as is. */

export interface LayoutNode {
  readonly id: string;
  readonly width: number;
  readonly height: number;
}

export interface LayoutEdge {
  readonly from: string;
  readonly to: string;
}

export interface LayoutInput {
  /** In execution order (topological), which the fast layout relies on. */
  readonly nodes: readonly LayoutNode[];
  readonly edges: readonly LayoutEdge[];
}

/** 'elk' falls back to 'fast' when ELK fails (it overflows its stack on very long graphs). */
export type LayoutEngine = 'elk' | 'fast';

export interface LayoutResult {
  /** Top-left corner of each node, in input order. */
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** Each edge's polyline, in input order: x0, y0, x1, y1, … */
  readonly edgePoints: number[][];
  readonly width: number;
  readonly height: number;
  readonly engine: 'elk-layered' | 'fast-layered';
  readonly ms: number;
}

/** Above this many nodes ELK layered is too slow (≈1.5 s at 2,000 nodes on 2 cores) and overflows
 * its stack near 5,000 (bench/README.md, "Graph view"), so the fast layered layout takes over. */
export const ELK_NODE_LIMIT = 1500;

export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 54;
export const LAYER_GAP = 36;
export const NODE_GAP = 24;
