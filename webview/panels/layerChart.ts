/**
 * Per-layer bars of MACs and weight bytes, sortable by either or by execution order. Only layers
 * with a cost are listed, the costliest ROWS of them, so a 10,000-node model stays light.
 * Clicking a row selects the node.
 */
import * as d3 from 'd3';
import type { GraphNode } from '../../src/shared/graphProtocol';

type SortKey = 'macs' | 'weightBytes' | 'step';
const ROWS = 200;

export class LayerChart {
  private readonly root: d3.Selection<HTMLDivElement, unknown, null, undefined>;
  private nodes: readonly GraphNode[] = [];
  private sort: SortKey = 'macs';

  constructor(
    host: HTMLElement,
    private readonly pick: (node: GraphNode) => void,
  ) {
    this.root = d3.select(host).append('div').attr('class', 'layer-chart');
  }

  set(nodes: readonly GraphNode[]): void {
    this.nodes = nodes.filter((n) => (n.metrics.macs ?? 0) > 0 || (n.metrics.weightBytes ?? 0) > 0);
    this.draw();
  }

  private draw(): void {
    const root = this.root;
    root.selectAll('*').remove();
    const header = root.append('div').attr('class', 'layer-sort').attr('role', 'toolbar');
    header.append('span').text(`${this.nodes.length} layers with a cost · sort by `);
    for (const [key, label] of [
      ['macs', 'MACs'],
      ['weightBytes', 'weight bytes'],
      ['step', 'execution order'],
    ] as const) {
      header
        .append('vscode-button')
        .attr('secondary', this.sort === key ? null : '')
        .attr('data-sort', key)
        .text(label)
        .on('click', () => {
          this.sort = key;
          this.draw();
        });
    }
    const value = (n: GraphNode, k: SortKey) => (k === 'step' ? -n.step : (n.metrics[k] ?? 0));
    const rows = [...this.nodes]
      .sort((a, b) => value(b, this.sort) - value(a, this.sort))
      .slice(0, ROWS);
    const maxMacs = d3.max(this.nodes, (n) => n.metrics.macs ?? 0) || 1;
    const maxWeights = d3.max(this.nodes, (n) => n.metrics.weightBytes ?? 0) || 1;
    const table = root.append('table').attr('class', 'layers');
    const head = table.append('tr');
    for (const h of ['layer', 'MACs', 'weights']) head.append('th').text(h);
    const tr = table
      .selectAll('tr.layer')
      .data(rows)
      .join('tr')
      .attr('class', 'layer')
      .attr('data-id', (n) => n.id)
      .on('click', (_, n) => this.pick(n));
    tr.append('td')
      .attr('class', 'layer-name')
      .text((n) => `${n.op} ${n.name}`);
    const bar = (cls: string, key: 'macs' | 'weightBytes', max: number) => {
      const td = tr.append('td').attr('class', `bar-cell ${cls}`);
      td.append('span')
        .attr('class', 'bar-fill')
        .style('width', (n) => `${(100 * (n.metrics[key] ?? 0)) / max}%`);
      td.append('span')
        .attr('class', 'bar-label')
        .text((n) => n.labels[key]);
    };
    bar('macs', 'macs', maxMacs);
    bar('weights', 'weightBytes', maxWeights);
  }
}
