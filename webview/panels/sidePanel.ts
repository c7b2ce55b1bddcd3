/**
 * The selected node's figures, as the core formatted them, plus what is folded into it (weights,
 * collapsed constant nodes and Identity chains) with a button to expand each group. The other
 * formats' row, which the analysis leaves out, reads "measuring…" until the server's measurement
 * arrives (app.ts asks for it). Every model string is set as text, never as HTML.
 */
import * as d3 from 'd3';
import { OTHER_FORMATS_LABEL, type GraphNode } from '../../src/shared/graphProtocol';

/** The other formats' row of a node that has one to measure (GraphNode.formatsAt). */
export type FormatsRow =
  | { readonly state: 'measuring' }
  /** value null: nothing measured (no row). */
  | { readonly state: 'measured'; readonly value: string | null };

const KIND_LABEL = {
  constants: 'constant node',
  shapeSubgraph: 'shape sub-graph node',
  identityChain: 'Identity node',
} as const;

const WEIGHTS_SHOWN = 12;

export class SidePanel {
  private readonly root: d3.Selection<HTMLElement, unknown, null, undefined>;
  private shown: GraphNode | undefined;
  private table: d3.Selection<HTMLTableElement, unknown, null, undefined> | undefined;

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

  show(node: GraphNode | undefined, formats: FormatsRow = { state: 'measuring' }): void {
    const root = this.root;
    root.selectAll('*').remove();
    this.shown = node;
    this.table = undefined;
    if (!node) {
      root
        .append('p')
        .attr('class', 'hint')
        .text('Click a node, or move the cursor in the text view.');
      return;
    }
    root.append('h2').attr('class', 'node-title').text(node.op);
    root.append('p').attr('class', 'node-name').text(node.name);
    this.table = root.append('table').attr('class', 'figures');
    this.fillFigures(node, formats);

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

  /** The measured other formats of node `id`, if it is still the one shown. */
  setFormats(id: string, formats: FormatsRow): void {
    if (this.shown?.id === id) this.fillFigures(this.shown, formats);
  }

  private fillFigures(node: GraphNode, formats: FormatsRow): void {
    const table = this.table!;
    table.selectAll('*').remove();
    const rows: { label: string; value: string; measuring?: boolean }[] = node.figures.map(
      ([label, value]) => ({ label, value }),
    );
    if (node.formatsAt !== undefined) {
      if (formats.state === 'measuring')
        rows.splice(node.formatsAt, 0, {
          label: OTHER_FORMATS_LABEL,
          value: 'measuring…',
          measuring: true,
        });
      else if (formats.value !== null)
        rows.splice(node.formatsAt, 0, { label: OTHER_FORMATS_LABEL, value: formats.value });
    }
    table.attr('aria-busy', formats.state === 'measuring' && node.formatsAt !== undefined);
    const tr = table
      .selectAll('tr')
      .data(rows)
      .join('tr')
      .classed('formats', (d) => d.label === OTHER_FORMATS_LABEL);
    tr.append('th').text((d) => d.label);
    tr.append('td')
      .classed('hint', (d) => d.measuring === true)
      .text((d) => d.value);
  }
}
