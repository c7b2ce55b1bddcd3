/**
 * The graph drawing: nodes and edges in one SVG, zoomed and panned with d3-zoom (mouse, wheel,
 * keyboard). Every model string is set with `.text()`, never as markup.
 *
 * Big graphs stay smooth by drawing less:
 *   - up to FULL_SVG_LIMIT nodes everything is SVG, drawn once; zooming only moves a transform;
 *   - above it, only the nodes in view (found through a grid index) are SVG elements, re-joined
 *     after each zoom frame, and when too many are in view (zoomed far out) the SVG is emptied
 *     and a canvas draws plain boxes and lines instead, which costs a few milliseconds a frame.
 */
import * as d3 from 'd3';
import type { GraphData, GraphEdge, GraphNode, MetricId } from '../../src/shared/graphProtocol';
import { NODE_HEIGHT, NODE_WIDTH, type LayoutResult } from '../layout/types';
import { textOn, type ColorScale } from './colors';
import { GridIndex, type Box } from './gridIndex';

export const FULL_SVG_LIMIT = 2000;
/** In culled mode, more visible nodes than this switch to the canvas. */
const SVG_VISIBLE_LIMIT = 600;
/** Below this zoom node text is under ~5 px high: not drawn. */
const LOD_TEXT_ZOOM = 0.45;

export interface PlacedNode extends Box {
  readonly node: GraphNode;
  readonly index: number;
}

interface PlacedEdge {
  readonly edge: GraphEdge;
  readonly points: number[];
  readonly from: number;
  readonly to: number;
}

export interface GraphViewEvents {
  select(node: GraphNode): void;
  transformChanged(t: d3.ZoomTransform): void;
}

/** Below this zoom node labels are too small to read. */
const READABLE_ZOOM = 0.5;
/**
 * Up to this many drawn nodes an unreadable fit opens at READABLE_ZOOM instead (a ResNet in a
 * side panel). A mid-size graph, all in SVG with its text shown, would pan at 50 ms frames
 * (bench: ~800 nodes), so it opens fitted, text hidden, like an overview.
 */
const READABLE_OPEN_LIMIT = 300;

export class GraphView {
  readonly svg: d3.Selection<SVGSVGElement, unknown, null, undefined>;
  private readonly canvas: HTMLCanvasElement;
  private readonly viewport: d3.Selection<SVGGElement, unknown, null, undefined>;
  private readonly edgeLayer: d3.Selection<SVGGElement, unknown, null, undefined>;
  private readonly nodeLayer: d3.Selection<SVGGElement, unknown, null, undefined>;
  private readonly zoom: d3.ZoomBehavior<SVGSVGElement, unknown>;
  private transform = d3.zoomIdentity;
  private placed: PlacedNode[] = [];
  private placedEdges: PlacedEdge[] = [];
  private byId = new Map<string, PlacedNode>();
  private grid = new GridIndex<PlacedNode>([]);
  private edgesOf: number[][] = [];
  private culled = false;
  private frame = 0;
  private metric: MetricId = 'macs';
  private colors: ColorScale | undefined;
  private selectedId: string | null = null;
  private size = { width: 1, height: 1 };
  private theme: { key: string; edge: string; node: string; selection: string } | undefined;
  /** Whether the user zoomed or panned (then a refined layout does not refit the view). */
  movedByUser = false;
  /** Last frame's mode, for tests and benchmarks: 'svg', 'svg-culled' or 'canvas'. */
  mode = 'svg';

  constructor(
    private readonly host: HTMLElement,
    private readonly events: GraphViewEvents,
  ) {
    this.canvas = d3.select(host).append('canvas').attr('class', 'graph-canvas').node()!;
    this.svg = d3
      .select(host)
      .append('svg')
      .attr('class', 'graph')
      .attr('role', 'img')
      .attr('tabindex', 0)
      .attr('aria-label', 'Model graph');
    this.viewport = this.svg.append('g').attr('class', 'viewport');
    this.edgeLayer = this.viewport.append('g').attr('class', 'edges');
    this.nodeLayer = this.viewport.append('g').attr('class', 'nodes');
    this.zoom = d3
      .zoom<SVGSVGElement, unknown>()
      .scaleExtent([0.0005, 4])
      .on('zoom', (e: d3.D3ZoomEvent<SVGSVGElement, unknown>) =>
        this.onZoom(e.transform, e.sourceEvent != null),
      );
    this.svg.call(this.zoom).on('dblclick.zoom', null);
    new ResizeObserver(() => this.resize()).observe(host);
    this.resize();
  }

  /** New data and its layout. Keeps the current transform (an update after a quick fix). */
  setGraph(data: GraphData, layout: LayoutResult): void {
    this.placed = data.nodes.map((node, index) => ({
      node,
      index,
      x: layout.x[index],
      y: layout.y[index],
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
    }));
    this.byId = new Map(this.placed.map((p) => [p.node.id, p]));
    this.placedEdges = data.edges.flatMap((edge, i) => {
      const from = this.byId.get(edge.from);
      const to = this.byId.get(edge.to);
      return from && to
        ? [{ edge, points: layout.edgePoints[i], from: from.index, to: to.index }]
        : [];
    });
    this.edgesOf = this.placed.map(() => []);
    this.placedEdges.forEach((e, i) => {
      this.edgesOf[e.from].push(i);
      this.edgesOf[e.to].push(i);
    });
    this.grid = new GridIndex(this.placed);
    this.culled = this.placed.length > FULL_SVG_LIMIT;
    this.edgeLayer.selectAll('*').remove();
    this.nodeLayer.selectAll('*').remove();
    if (!this.culled) this.drawAll();
    this.redraw();
  }

  setColors(metric: MetricId, colors: ColorScale): void {
    this.metric = metric;
    this.colors = colors;
    this.nodeLayer.selectAll<SVGGElement, PlacedNode>('g.node').call((g) => this.paint(g));
    this.redraw();
  }

  select(id: string | null, reveal: boolean): void {
    this.selectedId = id;
    this.nodeLayer
      .selectAll<SVGGElement, PlacedNode>('g.node')
      .classed('selected', (d) => d.node.id === id)
      .attr('aria-selected', (d) => String(d.node.id === id));
    const target = id === null ? undefined : this.byId.get(id);
    if (target && reveal && !this.inView(target)) this.centerOn(target);
    this.redraw();
  }

  node(id: string): GraphNode | undefined {
    return this.byId.get(id)?.node;
  }

  get currentTransform(): d3.ZoomTransform {
    return this.transform;
  }

  setTransform(t: { x: number; y: number; k: number }): void {
    this.svg.call(this.zoom.transform, d3.zoomIdentity.translate(t.x, t.y).scale(t.k));
  }

  fit(): void {
    const bounds = this.bounds();
    if (!bounds) return;
    const { width, height } = this.size;
    const k = Math.min(2, 0.95 * Math.min(width / bounds.width, height / bounds.height));
    const x = (width - bounds.width * k) / 2 - bounds.x * k;
    const y = (height - bounds.height * k) / 2 - bounds.y * k;
    this.svg
      .transition()
      .duration(0)
      .call(this.zoom.transform, d3.zoomIdentity.translate(x, y).scale(k));
  }

  /**
   * A graph that reads when fitted is fitted. A small but tall one fitted is a smear of pixels (a
   * ResNet in a side panel), and a culled big one too, so they open at the width that fits, but
   * no smaller than a readable zoom, on their first nodes; Fit still shows the whole.
   */
  initialView(): void {
    const bounds = this.bounds();
    if (!bounds) return;
    const { width, height } = this.size;
    const fitted = 0.95 * Math.min(width / bounds.width, height / bounds.height);
    if (!this.culled && (fitted >= READABLE_ZOOM || this.placed.length > READABLE_OPEN_LIMIT)) {
      return this.fit();
    }
    const k = Math.min(1, Math.max(READABLE_ZOOM, (0.95 * width) / bounds.width));
    const first = this.placed.reduce((a, b) => (b.y < a.y || (b.y === a.y && b.x < a.x) ? b : a));
    const x =
      bounds.width * k <= width
        ? (width - bounds.width * k) / 2 - bounds.x * k
        : width / 2 - (first.x + first.width / 2) * k;
    this.svg.call(this.zoom.transform, d3.zoomIdentity.translate(x, 48 - first.y * k).scale(k));
  }

  zoomBy(factor: number): void {
    this.svg.call(this.zoom.scaleBy, factor);
  }

  panBy(dx: number, dy: number): void {
    this.svg.call(this.zoom.translateBy, dx / this.transform.k, dy / this.transform.k);
  }

  centerOn(p: Box): void {
    const { width, height } = this.size;
    const k = Math.max(this.transform.k, 0.6);
    const x = width / 2 - (p.x + p.width / 2) * k;
    const y = height / 2 - (p.y + p.height / 2) * k;
    this.svg.call(this.zoom.transform, d3.zoomIdentity.translate(x, y).scale(k));
  }

  private bounds(): Box | undefined {
    if (!this.placed.length) return undefined;
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (const p of this.placed) {
      x0 = Math.min(x0, p.x);
      y0 = Math.min(y0, p.y);
      x1 = Math.max(x1, p.x + p.width);
      y1 = Math.max(y1, p.y + p.height);
    }
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  private inView(p: Box): boolean {
    const v = this.visibleBox(0);
    return (
      p.x >= v.x && p.y >= v.y && p.x + p.width <= v.x + v.width && p.y + p.height <= v.y + v.height
    );
  }

  private visibleBox(margin: number): Box {
    const t = this.transform;
    const [x0, y0] = t.invert([-margin, -margin]);
    const [x1, y1] = t.invert([this.size.width + margin, this.size.height + margin]);
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  private resize(): void {
    const r = this.host.getBoundingClientRect();
    this.size = { width: Math.max(1, r.width), height: Math.max(1, r.height) };
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.size.width * ratio);
    this.canvas.height = Math.round(this.size.height * ratio);
    this.redraw();
  }

  private onZoom(t: d3.ZoomTransform, byUser: boolean): void {
    this.transform = t;
    if (byUser) this.movedByUser = true;
    this.viewport.attr('transform', t.toString());
    // Level of detail: text too small to read is the costliest thing to paint; drop it.
    this.svg.classed('lod-low', t.k < LOD_TEXT_ZOOM);
    this.events.transformChanged(t);
    if (this.culled) this.redraw();
  }

  /** At most one culled redraw per animation frame. */
  private redraw(): void {
    if (!this.culled) {
      this.mode = 'svg';
      this.clearCanvas();
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.drawCulled();
    });
  }

  private drawAll(): void {
    this.joinEdges(this.placedEdges);
    this.joinNodes(this.placed);
  }

  private drawCulled(): void {
    const visible = this.grid.query(this.visibleBox(200));
    if (visible.length > SVG_VISIBLE_LIMIT) {
      this.mode = 'canvas';
      this.joinNodes([]);
      this.joinEdges([]);
      this.drawCanvas(visible);
      return;
    }
    this.mode = 'svg-culled';
    this.clearCanvas();
    const edgeIds = new Set<number>();
    for (const p of visible) for (const e of this.edgesOf[p.index]) edgeIds.add(e);
    this.joinEdges([...edgeIds].map((i) => this.placedEdges[i]));
    this.joinNodes(visible);
  }

  private joinEdges(edges: PlacedEdge[]): void {
    this.edgeLayer
      .selectAll<SVGGElement, PlacedEdge>('g.edge')
      .data(edges, (d) => `${d.edge.from}\u0000${d.edge.to}\u0000${d.edge.tensor}`)
      .join((enter) => {
        const g = enter.append('g').attr('class', 'edge');
        const d = (e: PlacedEdge) => pathOf(e.points);
        g.append('path').attr('class', 'edge-hit').attr('d', d);
        g.append('path').attr('class', 'edge-line').attr('d', d);
        // Native tooltip: tensor name and shape on hover.
        g.append('title').text((e) => `${e.edge.tensor}\n${e.edge.shape}`);
        return g;
      });
  }

  private joinNodes(nodes: PlacedNode[]): void {
    this.nodeLayer
      .selectAll<SVGGElement, PlacedNode>('g.node')
      .data(nodes, (d) => d.node.id)
      .join((enter) => {
        const g = enter
          .append('g')
          .attr('class', (d) => (d.node.kind === 'group' ? 'node group' : 'node'))
          .attr('data-id', (d) => d.node.id)
          .attr('data-op', (d) => d.node.op)
          .attr('transform', (d) => `translate(${d.x},${d.y})`)
          .on('click', (event: MouseEvent, d) => {
            event.stopPropagation();
            this.events.select(d.node);
          });
        g.append('rect')
          .attr('width', (d) => d.width)
          .attr('height', (d) => d.height)
          .attr('rx', 4);
        g.append('text')
          .attr('class', 'op')
          .attr('x', 8)
          .attr('y', 16)
          .text((d) => clip(d.node.op, 24));
        g.append('text')
          .attr('class', 'name')
          .attr('x', 8)
          .attr('y', 31)
          .text((d) => clip(d.node.name, 28));
        g.append('text').attr('class', 'meta').attr('x', 8).attr('y', 46);
        g.append('title').text((d) => `${d.node.op} ${d.node.name}\n${d.node.shape}`);
        g.filter((d) => d.node.weights.length + d.node.folded.length > 0)
          .append('text')
          .attr('class', 'badge')
          .attr('x', (d) => d.width - 6)
          .attr('y', 16)
          .attr('text-anchor', 'end')
          .text((d) => badge(d.node));
        return g;
      })
      .classed('selected', (d) => d.node.id === this.selectedId)
      .call((g) => this.paint(g));
  }

  /** Fill by metric; text color by contrast; the meta line shows shape and the metric. */
  private paint(g: d3.Selection<SVGGElement, PlacedNode, SVGGElement, unknown>): void {
    const color = (d: PlacedNode) => this.colors?.color(d.node.metrics[this.metric]) ?? null;
    g.select('rect')
      .attr('fill', (d) => color(d) ?? null)
      .classed('no-value', (d) => color(d) === null);
    // A style, not an attribute: the stylesheet's theme color would win over an attribute.
    g.selectAll<SVGTextElement, PlacedNode>('text').style('fill', function () {
      const d = d3.select<SVGGElement, PlacedNode>(this.parentNode as SVGGElement).datum();
      const c = color(d);
      return c ? textOn(c) : null;
    });
    g.select('text.meta').text((d) => clip(`${d.node.shape} · ${d.node.labels[this.metric]}`, 30));
  }

  private clearCanvas(): void {
    const ctx = this.canvas.getContext('2d');
    ctx?.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.canvas.classList.toggle('active', false);
  }

  private drawCanvas(visible: PlacedNode[]): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const ratio = window.devicePixelRatio || 1;
    const t = this.transform;
    const theme = this.themeColors();
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, this.size.width, this.size.height);
    ctx.translate(t.x, t.y);
    ctx.scale(t.k, t.k);
    this.canvas.classList.toggle('active', true);
    ctx.strokeStyle = theme.edge;
    ctx.lineWidth = 1 / t.k;
    ctx.beginPath();
    const edgeIds = new Set<number>();
    for (const p of visible) for (const e of this.edgesOf[p.index]) edgeIds.add(e);
    for (const i of edgeIds) {
      const pts = this.placedEdges[i].points;
      if (pts.length < 4) continue;
      ctx.moveTo(pts[0], pts[1]);
      for (let j = 2; j < pts.length; j += 2) ctx.lineTo(pts[j], pts[j + 1]);
    }
    ctx.stroke();
    // One fill per color: switching fillStyle per node costs more than the rectangles.
    const byColor = new Map<string, PlacedNode[]>();
    for (const p of visible) {
      const color = this.colors?.color(p.node.metrics[this.metric]) ?? theme.node;
      let list = byColor.get(color);
      if (!list) byColor.set(color, (list = []));
      list.push(p);
    }
    for (const [color, list] of byColor) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (const p of list) ctx.rect(p.x, p.y, p.width, p.height);
      ctx.fill();
    }
    const selected = this.selectedId === null ? undefined : this.byId.get(this.selectedId);
    if (selected) {
      ctx.strokeStyle = theme.selection;
      ctx.lineWidth = 4 / t.k;
      ctx.strokeRect(selected.x, selected.y, selected.width, selected.height);
    }
  }

  /** Theme colors for the canvas, read once per theme (reading styles each frame forces a
   * style recalculation). VS Code changes the body class when the theme changes. */
  private themeColors(): { edge: string; node: string; selection: string } {
    const key = document.body.className;
    if (this.theme?.key !== key) {
      const style = getComputedStyle(this.host);
      const read = (name: string, fallback: string) =>
        style.getPropertyValue(name).trim() || fallback;
      this.theme = {
        key,
        edge: read('--edge-color', '#888'),
        node: read('--node-background', '#444'),
        selection: read('--selection-color', '#0af'),
      };
    }
    return this.theme;
  }
}

function pathOf(points: number[]): string {
  if (points.length < 4) return '';
  let d = `M${points[0]},${points[1]}`;
  for (let i = 2; i < points.length; i += 2) d += `L${points[i]},${points[i + 1]}`;
  return d;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function badge(n: GraphNode): string {
  const folded = n.folded.reduce((s, g) => s + g.members, 0);
  return folded > 0 ? `+${folded}` : `${n.weights.length}w`;
}
