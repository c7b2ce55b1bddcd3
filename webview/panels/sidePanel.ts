/**
 * The selected node's figures, as the core formatted them, plus what is folded into it (weights,
 * collapsed constant nodes and Identity chains) with a button to expand each group.
 */
import * as d3 from 'd3';
import type { GraphNode } from '../../src/shared/graphProtocol';

const KIND_LABEL = {
  constants: 'constant node',
  shapeSubgraph: 'shape sub-graph node',
  identityChain: 'Identity node',
} as const;

const WEIGHTS_SHOWN = 12;

export class SidePanel {
  private readonly root: d3.Selection<HTMLElement, unknown, null, undefined>;

  constructor(
    host: HTMLElement,
    private readonly expand: (groupId: string) => void,
  ) {
    this.root = d3
      .select(host)
      .append('aside')
      .attr('class', 'side-panel')
      .attr('aria-live', 'polite');
    this.show(undefined);
  }

  show(node: GraphNode | undefined): void {
    const root = this.root;
    root.selectAll('*').remove();
    if (!node) {
      root
        .append('p')
        .attr('class', 'hint')
        .text('Click a node, or move the cursor in the text view.');
      return;
    }
    root.append('h2').attr('class', 'node-title').text(node.op);
    root.append('p').attr('class', 'node-name').text(node.name);
    const table = root.append('table').attr('class', 'figures');
    const rows = table.selectAll('tr').data(node.figures).join('tr');
    rows.append('th').text((d) => d[0]);
    rows.append('td').text((d) => d[1]);

    if (node.kind === 'group') {
      root
        .append('vscode-button')
        .attr('class', 'expand')
        .text(`Expand ${node.group?.members ?? ''} nodes`)
        .on('click', () => this.expand(node.id));
    }
    for (const g of node.folded) {
      const row = root.append('div').attr('class', 'folded');
      row
        .append('span')
        .text(`${g.members} ${KIND_LABEL[g.kind]}${g.members > 1 ? 's' : ''} folded in`);
      row
        .append('vscode-button')
        .attr('secondary', '')
        .attr('class', 'expand')
        .text('Expand')
        .on('click', () => this.expand(g.id));
    }
    if (node.weights.length) {
      root.append('h3').text(`Weights (${node.weights.length})`);
      const list = root.append('ul').attr('class', 'weights');
      list
        .selectAll('li')
        .data(node.weights.slice(0, WEIGHTS_SHOWN))
        .join('li')
        .text((d) => d);
      if (node.weights.length > WEIGHTS_SHOWN)
        list.append('li').text(`… ${node.weights.length - WEIGHTS_SHOWN} more`);
    }
  }
}
