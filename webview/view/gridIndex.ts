/**
 * A uniform grid over node boxes: which nodes intersect a rectangle, in time proportional to the
 * cells it covers and the nodes found, so that culling 10,000 nodes each frame costs little.
 */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

const CELL = 512;

export class GridIndex<T extends Box> {
  private readonly cells = new Map<number, T[]>();

  constructor(items: readonly T[]) {
    for (const item of items) {
      for (const key of this.keys(item)) {
        let cell = this.cells.get(key);
        if (!cell) this.cells.set(key, (cell = []));
        cell.push(item);
      }
    }
  }

  query(box: Box): T[] {
    const found = new Set<T>();
    for (const key of this.keys(box)) {
      for (const item of this.cells.get(key) ?? []) if (intersects(item, box)) found.add(item);
    }
    return [...found];
  }

  private *keys(box: Box): Generator<number> {
    const x0 = Math.floor(box.x / CELL);
    const x1 = Math.floor((box.x + box.width) / CELL);
    const y0 = Math.floor(box.y / CELL);
    const y1 = Math.floor((box.y + box.height) / CELL);
    // Cells are keyed by (column, row) packed in one number; rows up to 2^20 columns wide.
    for (let cx = Math.max(x0, -1e5); cx <= Math.min(x1, x0 + 4096); cx++)
      for (let cy = Math.max(y0, -1e5); cy <= Math.min(y1, y0 + 4096); cy++)
        yield cy * 1_048_576 + cx;
  }
}

function intersects(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
