/**
 * The graph view's state and wiring: receives the graph data from the extension, lays it out in
 * the worker, draws it, and keeps the selection, metric, expanded groups and zoom (saved with
 * setState, so a reload or the panel serializer brings them back). The selected node's other
 * formats are asked of the server when it is selected, and an answer for a node or graph version
 * no longer shown is dropped.
 */
import * as d3 from 'd3';
import {
  METRICS,
  type FromWebview,
  type GraphData,
  type GraphNode,
  type GraphViewState,
  type MetricId,
  type ToWebview,
} from '../src/shared/graphProtocol';
import { LayoutClient } from './layout/layoutClient';
import { fastLayered } from './layout/fastLayered';
import { ELK_NODE_LIMIT, NODE_HEIGHT, NODE_WIDTH, type LayoutResult } from './layout/types';
import { LayerChart } from './panels/layerChart';
import { MemoryChart } from './panels/memoryChart';
import { SidePanel, type FormatsRow } from './panels/sidePanel';
import { colorScale } from './view/colors';
import { exportSvg, graphStyleRules, svgToPngBase64 } from './view/exportView';
import { GraphView } from './view/graphView';
import { Legend } from './view/legend';
import { Toolbar } from './view/toolbar';

type VsCodeApi = ReturnType<typeof acquireVsCodeApi>;

/** How long a node stays selected before its other formats are asked for (the cursor moving
 * through the text view selects node after node; only where it stops is measured). */
const FORMATS_DELAY_MS = 120;

export class GraphApp {
  private data: GraphData | undefined;
  private metric: MetricId;
  private selected: string | null;
  private expanded: string[];
  private savedTransform: GraphViewState['transform'];
  private readonly layouts = new LayoutClient();
  private readonly view: GraphView;
  private readonly side: SidePanel;
  private readonly legend: Legend;
  private readonly memory: MemoryChart;
  private readonly layers: LayerChart;
  private readonly toolbar: Toolbar;
  private readonly status: d3.Selection<HTMLDivElement, unknown, null, undefined>;
  private layoutSeq = 0;
  private saveTimer = 0;
  /** The other formats measured for graph version `formatsVersion`, by node id. */
  private readonly formats = new Map<string, string | null>();
  private readonly formatsAsked = new Set<string>();
  private formatsVersion = -1;
  private formatsTimer = 0;

  constructor(
    root: HTMLElement,
    private readonly vscode: VsCodeApi,
    private readonly uri: string,
  ) {
    const saved = vscode.getState() as GraphViewState | undefined;
    this.metric = saved?.metric ?? 'macs';
    this.selected = saved?.selected ?? null;
    this.expanded = saved?.expanded ?? [];
    this.savedTransform = saved?.transform;

    const app = d3.select(root);
    this.toolbar = new Toolbar(app.append('header').node()!, {
      metric: (m) => this.setMetric(m),
      search: (query, next) => this.search(query, next),
      fit: () => this.view.fit(),
      zoom: (f) => this.view.zoomBy(f),
      export: (format) => void this.export(format),
      collapseAll: () => this.setExpanded([]),
    });
    this.toolbar.setMetric(this.metric);
    const main = app.append('main');
    const stage = main.append('section').attr('class', 'stage').node()!;
    this.view = new GraphView(stage, {
      select: (node) => this.pickNode(node),
      transformChanged: () => this.saveSoon(),
    });
    this.legend = new Legend(stage);
    this.status = d3.select(stage).append('div').attr('class', 'status').attr('role', 'status');
    this.side = new SidePanel(main.node()!, (group) =>
      this.setExpanded([...new Set([...this.expanded, group])]),
    );
    const charts = app.append('footer').attr('class', 'charts');
    const tabs = charts.append('div').attr('class', 'chart-tabs').attr('role', 'tablist');
    const memoryHost = charts.append('div').attr('class', 'chart memory').node()!;
    const layersHost = charts
      .append('div')
      .attr('class', 'chart layers')
      .attr('hidden', '')
      .node()!;
    for (const [label, host] of [
      ['Activation memory', memoryHost],
      ['Per layer', layersHost],
    ] as const) {
      tabs
        .append('vscode-button')
        .attr('secondary', host === memoryHost ? null : '')
        .attr('role', 'tab')
        .text(label)
        .on('click', function () {
          d3.selectAll([memoryHost, layersHost]).attr('hidden', '');
          d3.select(host).attr('hidden', null);
          tabs.selectAll('vscode-button').attr('secondary', '');
          d3.select(this).attr('secondary', null);
        });
    }
    this.memory = new MemoryChart(memoryHost, {
      pick: (step) => this.pickStep(step),
      hover: (step) => this.post({ type: 'liveTensors', step }),
    });
    this.layers = new LayerChart(layersHost, (node) => this.pickNode(node));
    this.keyboard(stage);
  }

  receive(message: ToWebview): void {
    switch (message.type) {
      case 'graph':
        return void this.setData(message.data);
      case 'highlight':
        if (message.node !== null && message.node !== this.selected)
          this.select(message.node, true);
        return;
      case 'liveTensors':
        return this.memory.showLive(message.step, message.tensors);
      case 'formats':
        return this.receiveFormats(message.node, message.version, message.value);
    }
  }

  /**
   * The other formats' row of the node shown, from what was measured for this graph version, or
   * "measuring…" while the server is asked (after FORMATS_DELAY_MS, if still selected).
   */
  private formatsRow(node: GraphNode): FormatsRow {
    const version = this.data?.version;
    if (node.formatsAt === undefined || version === undefined) return { state: 'measuring' };
    if (version !== this.formatsVersion) {
      this.formats.clear();
      this.formatsAsked.clear();
      this.formatsVersion = version;
    }
    const value = this.formats.get(node.id);
    if (value !== undefined) return { state: 'measured', value };
    clearTimeout(this.formatsTimer);
    this.formatsTimer = window.setTimeout(() => {
      if (this.selected !== node.id || this.data?.version !== version) return;
      if (this.formatsAsked.has(node.id)) return; // its answer is on the way
      this.formatsAsked.add(node.id);
      this.post({ type: 'formats', node: node.id, version });
    }, FORMATS_DELAY_MS);
    return { state: 'measuring' };
  }

  /** A measurement arrived: shown if its graph version and node are still the ones shown. */
  private receiveFormats(node: string, version: number, value: string | null): void {
    if (version !== this.data?.version || version !== this.formatsVersion) return;
    this.formatsAsked.delete(node);
    // Another node selected meanwhile: dropped (selecting it again asks the server, whose cache
    // answers at once).
    if (node !== this.selected) return;
    this.formats.set(node, value);
    this.side.setFormats(node, { state: 'measured', value });
  }

  private post(message: FromWebview): void {
    this.vscode.postMessage(message);
  }

  /**
   * New graph data. The first time, a graph small enough for ELK is drawn at once with the fast
   * layered layout (a few ms on this thread), so it is interactive while ELK works in the worker;
   * ELK's layout then replaces it. An update (after a quick fix) keeps the old drawing until the
   * new layout is ready, then swaps it in place, keeping zoom and selection.
   */
  private async setData(data: GraphData): Promise<void> {
    const received = performance.now();
    const seq = ++this.layoutSeq;
    if (data.error) {
      this.status.text(`No graph: ${data.error}`);
      return;
    }
    document.body.dataset.layoutStage = 'pending';
    const input = {
      nodes: data.nodes.map((n) => ({ id: n.id, width: NODE_WIDTH, height: NODE_HEIGHT })),
      edges: data.edges.map((e) => ({ from: e.from, to: e.to })),
    };
    const useElk = input.nodes.length <= ELK_NODE_LIMIT;
    if (this.data === undefined && useElk) this.show(data, fastLayered(input), received, 'draft');
    else this.status.text(`Laying out ${data.nodes.length} nodes…`);
    const layout = await this.layouts.layout(input, useElk ? 'elk' : 'fast');
    if (seq !== this.layoutSeq) return; // a newer graph arrived meanwhile
    this.show(data, layout, received, 'final');
  }

  private show(
    data: GraphData,
    layout: LayoutResult,
    received: number,
    stage: 'draft' | 'final',
  ): void {
    const first = this.data === undefined;
    const refinement = this.data === data;
    this.data = data;
    this.expanded = [...data.expanded];
    this.view.setGraph(data, layout);
    this.applyColors();
    if (first && this.savedTransform) this.view.setTransform(this.savedTransform);
    else if (first || (refinement && !this.view.movedByUser)) this.view.initialView();
    if (this.selected && !this.view.node(this.selected)) this.selected = null;
    this.select(this.selected, false);
    if (!refinement) {
      this.memory.set(data.memory);
      this.layers.set(data.nodes);
      this.toolbar.setExpandedCount(this.expanded.length);
    }
    // Interactive once the browser has painted the first frame of the new data.
    requestAnimationFrame(() => {
      const body = document.body.dataset;
      if (!refinement) {
        const interactiveMs = performance.now() - received;
        body.interactiveMs = interactiveMs.toFixed(0);
        body.graphVersion = String(data.version);
        body.nodeCount = String(data.nodes.filter((n) => n.kind === 'node').length);
        this.post({ type: 'timing', layoutMs: layout.ms, interactiveMs });
      }
      // Data received → the final layout painted (ELK's, or the only one).
      if (stage === 'final') body.finalMs = (performance.now() - received).toFixed(0);
      body.layoutStage = stage;
      body.layoutMs = layout.ms.toFixed(0);
      body.layoutEngine = layout.engine;
      body.layoutInWorker = String(this.layouts.inWorker);
      this.status.text(
        `${data.nodes.length} drawn · ${data.counts.modelNodes} nodes, ${data.counts.collapsed} collapsed · ` +
          `${layout.engine} ${layout.ms.toFixed(0)} ms${stage === 'final' && this.layouts.inWorker ? ' (worker)' : ''}`,
      );
    });
    this.saveSoon();
  }

  private applyColors(): void {
    const scale = colorScale(this.metric, this.data?.nodes ?? []);
    this.view.setColors(this.metric, scale);
    this.legend.show(this.metric, scale);
  }

  private setMetric(metric: MetricId): void {
    if (!METRICS.some((m) => m.id === metric)) return;
    this.metric = metric;
    this.applyColors();
    this.saveSoon();
  }

  private setExpanded(expanded: string[]): void {
    this.expanded = expanded;
    this.post({ type: 'expand', expanded });
    this.saveSoon();
  }

  /** A click in the graph or a chart: select, and reveal the line in the text view. */
  private pickNode(node: GraphNode, preserveFocus = false): void {
    this.select(node.id, true);
    this.post({ type: 'reveal', node: node.id, line: node.line, preserveFocus });
  }

  private pickStep(step: number): void {
    const node = this.data?.nodes.find((n) => n.kind === 'node' && n.step === step);
    // A step inside a collapsed group selects the group.
    const owner =
      node ??
      [...(this.data?.nodes ?? [])]
        .filter((n) => n.step <= step)
        .sort((a, b) => b.step - a.step)[0];
    if (owner) this.pickNode(owner);
  }

  private select(id: string | null, reveal: boolean): void {
    this.selected = id;
    this.view.select(id, reveal);
    const node = id === null ? undefined : this.view.node(id);
    this.side.show(node, node && this.formatsRow(node));
    this.saveSoon();
  }

  private search(query: string, next: boolean): void {
    const q = query.trim().toLowerCase();
    const nodes = this.data?.nodes ?? [];
    if (!q) return this.toolbar.setSearchResult('');
    const matches = nodes.filter(
      (n) => n.name.toLowerCase().includes(q) || n.op.toLowerCase().includes(q),
    );
    if (!matches.length) return this.toolbar.setSearchResult('no match');
    const current = matches.findIndex((n) => n.id === this.selected);
    const index = next ? (current + 1) % matches.length : Math.max(0, current);
    this.pickNode(matches[index], true);
    this.toolbar.setSearchResult(`${index + 1}/${matches.length}`);
  }

  private keyboard(stage: HTMLElement): void {
    const svg = this.view.svg.node()!;
    stage.addEventListener('keydown', (e) => {
      if (e.target !== svg) return;
      const step = 80;
      const actions: Record<string, () => void> = {
        '+': () => this.view.zoomBy(1.25),
        '=': () => this.view.zoomBy(1.25),
        '-': () => this.view.zoomBy(0.8),
        '0': () => this.view.fit(),
        f: () => this.view.fit(),
        ArrowLeft: () => this.view.panBy(step, 0),
        ArrowRight: () => this.view.panBy(-step, 0),
        ArrowUp: () => this.view.panBy(0, step),
        ArrowDown: () => this.view.panBy(0, -step),
      };
      const action = actions[e.key];
      if (!action) return;
      e.preventDefault();
      action();
    });
  }

  private async export(format: 'svg' | 'png'): Promise<void> {
    const svg = this.view.svg.node()!;
    const text = exportSvg(svg, graphStyleRules());
    if (format === 'svg') return this.post({ type: 'export', format, data: text });
    const box = (svg.querySelector('g.viewport') as SVGGElement).getBBox();
    const png = await svgToPngBase64(text, box.width + 20, box.height + 20);
    this.post({ type: 'export', format, data: png });
  }

  private saveSoon(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => {
      const t = this.view.currentTransform;
      const state: GraphViewState = {
        uri: this.uri,
        metric: this.metric,
        selected: this.selected,
        expanded: this.expanded,
        transform: { x: t.x, y: t.y, k: t.k },
      };
      this.vscode.setState(state);
    }, 200);
  }
}
