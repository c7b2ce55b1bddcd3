/** The color legend: a gradient of the current metric's scale with its tick labels. */
import * as d3 from 'd3';
import { METRICS, type MetricId } from '../../src/shared/graphProtocol';
import type { ColorScale } from './colors';

export class Legend {
  private readonly root: d3.Selection<HTMLDivElement, unknown, null, undefined>;

  constructor(host: HTMLElement) {
    this.root = d3.select(host).append('div').attr('class', 'legend');
  }

  show(metric: MetricId, scale: ColorScale): void {
    const root = this.root;
    root.selectAll('*').remove();
    root
      .append('div')
      .attr('class', 'legend-title')
      .text(METRICS.find((m) => m.id === metric)?.label ?? metric);
    if (!scale.ticks.length) {
      root
        .append('div')
        .attr('class', 'legend-empty')
        .text(metric === 'sensitivity' ? 'not measured' : 'no values');
      return;
    }
    const row = root.append('div').attr('class', 'legend-row');
    row
      .selectAll('span')
      .data(scale.ticks)
      .join('span')
      .attr('class', 'legend-stop')
      .each(function (t) {
        const color = scale.color(t.value) ?? 'transparent';
        d3.select(this).append('span').attr('class', 'swatch').style('background', color);
        d3.select(this).append('span').attr('class', 'legend-label').text(t.label);
      });
    root.append('div').attr('class', 'legend-note').text('plain: zero or not applicable');
  }
}
