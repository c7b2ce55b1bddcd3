/**
 * The toolbar, from @vscode-elements/elements (the maintained successor of the archived webview
 * UI toolkit): search, metric, fit, zoom, export, collapse.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import * as d3 from 'd3';
import { METRICS, type MetricId } from '../../src/shared/graphProtocol';

export interface ToolbarActions {
  metric(metric: MetricId): void;
  /** `next`: Enter pressed, go to the next match. */
  search(query: string, next: boolean): void;
  fit(): void;
  zoom(factor: number): void;
  export(format: 'svg' | 'png'): void;
  collapseAll(): void;
}

export class Toolbar {
  private readonly select: d3.Selection<HTMLElement, unknown, null, undefined>;
  private readonly result: d3.Selection<HTMLSpanElement, unknown, null, undefined>;
  private readonly collapse: d3.Selection<HTMLElement, unknown, null, undefined>;

  constructor(host: HTMLElement, actions: ToolbarActions) {
    const bar = d3.select(host).attr('class', 'toolbar');
    const search = bar
      .append('vscode-textfield')
      .attr('class', 'search')
      .attr('placeholder', 'Find node by name or op')
      .attr('aria-label', 'Find node by name or op');
    const value = () => (search.node() as unknown as { value: string }).value ?? '';
    search.on('input', () => actions.search(value(), false));
    search.on('keydown', (e: KeyboardEvent) => {
      if (e.key === 'Enter') actions.search(value(), true);
    });
    this.result = bar.append('span').attr('class', 'search-result');
    this.select = bar
      .append<HTMLElement>('vscode-single-select')
      .attr('class', 'metric')
      .attr('aria-label', 'Color by');
    this.select
      .selectAll('vscode-option')
      .data(METRICS)
      .join('vscode-option')
      .attr('value', (m) => m.id)
      .text((m) => m.label);
    this.select.on('change', () =>
      actions.metric((this.select.node() as unknown as { value: MetricId }).value),
    );
    const button = (label: string, title: string, run: () => void) =>
      bar
        .append<HTMLElement>('vscode-button')
        .attr('secondary', '')
        .attr('title', title)
        .text(label)
        .on('click', run);
    button('Fit', 'Fit to view (0 or F)', actions.fit);
    button('+', 'Zoom in (+)', () => actions.zoom(1.25));
    button('−', 'Zoom out (-)', () => actions.zoom(0.8));
    button('SVG', 'Export the view as SVG', () => actions.export('svg'));
    button('PNG', 'Export the view as PNG', () => actions.export('png'));
    this.collapse = button(
      'Collapse all',
      'Collapse the expanded groups again',
      actions.collapseAll,
    ).attr('hidden', '');
  }

  setMetric(metric: MetricId): void {
    this.select.attr('value', metric);
    (this.select.node() as unknown as { value: string }).value = metric;
  }

  setSearchResult(text: string): void {
    this.result.text(text);
  }

  setExpandedCount(count: number): void {
    this.collapse.attr('hidden', count > 0 ? null : '');
  }
}
