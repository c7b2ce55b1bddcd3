/**
 * Live activation bytes over execution order: one bar per step (an area when there are more
 * steps than pixels), the device RAM as a line, the planner's peak (the arena size the CLI
 * reports as peakActivationBytes) as a dashed line with its step marked. Hovering names the
 * tensors alive at that step (asked from the server); clicking selects the step's node.
 */
import * as d3 from 'd3';
import { formatBytes } from '../../src/core/format';
import type { GraphMemory, LiveTensor } from '../../src/shared/graphProtocol';

const HEIGHT = 150;
const MARGIN = { top: 16, right: 12, bottom: 18, left: 64 };

export interface MemoryChartEvents {
  pick(step: number): void;
  hover(step: number): void;
}

export class MemoryChart {
  private readonly root: d3.Selection<HTMLDivElement, unknown, null, undefined>;
  private readonly tooltip: d3.Selection<HTMLDivElement, unknown, null, undefined>;
  private memory: GraphMemory | undefined;
  private hoveredStep = -1;

  constructor(
    host: HTMLElement,
    private readonly events: MemoryChartEvents,
  ) {
    this.root = d3.select(host).append('div').attr('class', 'memory-chart');
    this.tooltip = d3.select(host).append('div').attr('class', 'chart-tooltip').attr('hidden', '');
    new ResizeObserver(() => this.draw()).observe(host);
  }

  set(memory: GraphMemory): void {
    this.memory = memory;
    this.root
      .attr('data-peak-bytes', memory.peakActivationBytes)
      .attr('data-peak-step', memory.peakStep);
    this.draw();
  }

  /** Tensors alive at a step, once the server answered. */
  showLive(step: number, tensors: readonly LiveTensor[]): void {
    if (step !== this.hoveredStep || !this.memory) return;
    const s = this.memory.steps[step];
    this.tooltip.selectAll('*').remove();
    this.tooltip
      .append('div')
      .attr('class', 'tip-title')
      .text(`#${step} ${s?.node ?? ''}: ${s?.liveLabel ?? ''} live`);
    const list = this.tooltip.append('ul');
    list
      .selectAll('li')
      .data(tensors.slice(0, 12))
      .join('li')
      .text((t) => `${t.name} — ${t.bytes}`);
    if (tensors.length > 12) list.append('li').text(`… ${tensors.length - 12} more`);
  }

  private draw(): void {
    const memory = this.memory;
    this.root.selectAll('*').remove();
    if (!memory || !memory.steps.length) return;
    const width = Math.max(200, (this.root.node()?.clientWidth ?? 600) - 2);
    const svg = this.root.append('svg').attr('width', width).attr('height', HEIGHT);
    const n = memory.steps.length;
    const maxLive = d3.max(memory.steps, (s) => s.liveBytes) ?? 0;
    const top = Math.max(maxLive, memory.peakActivationBytes, memory.ramBytes ?? 0) || 1;
    const x = d3
      .scaleLinear()
      .domain([0, n])
      .range([MARGIN.left, width - MARGIN.right]);
    const y = d3
      .scaleLinear()
      .domain([0, top * 1.08])
      .range([HEIGHT - MARGIN.bottom, MARGIN.top]);
    const plot = svg.append('g');
    const barWidth = x(1) - x(0);
    if (barWidth >= 1.5) {
      plot
        .selectAll('rect')
        .data(memory.steps)
        .join('rect')
        .attr('class', (_, i) => (i === memory.peakStep ? 'bar peak-bar' : 'bar'))
        .attr('x', (_, i) => x(i))
        .attr('width', Math.max(1, barWidth - 0.5))
        .attr('y', (s) => y(s.liveBytes))
        .attr('height', (s) => y(0) - y(s.liveBytes));
    } else {
      const area = d3
        .area<{ liveBytes: number }>()
        .x((_, i) => x(i))
        .y0(y(0))
        .y1((s) => y(s.liveBytes))
        .curve(d3.curveStepAfter);
      plot
        .append('path')
        .attr('class', 'area')
        .attr('d', area([...memory.steps]));
    }
    const line = (cls: string, bytes: number, label: string) => {
      const g = svg.append('g').attr('class', cls);
      g.append('line').attr('x1', x(0)).attr('x2', x(n)).attr('y1', y(bytes)).attr('y2', y(bytes));
      g.append('text')
        .attr('x', x(n) - 4)
        .attr('y', y(bytes) - 4)
        .attr('text-anchor', 'end')
        .text(label);
    };
    if (memory.ramBytes !== null && memory.ramLabel !== null)
      line('ram-line', memory.ramBytes, `device RAM ${memory.ramLabel}`);
    line('peak-line', memory.peakActivationBytes, `peak ${memory.peakLabel}`);
    if (memory.peakStep >= 0) {
      svg
        .append('circle')
        .attr('class', 'peak-marker')
        .attr('cx', x(memory.peakStep + 0.5))
        .attr('cy', y(memory.steps[memory.peakStep]?.liveBytes ?? 0))
        .attr('r', 4)
        .append('title')
        .text(`peak at #${memory.peakStep} ${memory.steps[memory.peakStep]?.node ?? ''}`);
    }
    svg
      .append('g')
      .attr('class', 'axis')
      .attr('transform', `translate(${MARGIN.left},0)`)
      .call(
        d3
          .axisLeft(y)
          .ticks(4)
          .tickFormat((v) => bytesTick(Number(v))),
      );
    // One transparent overlay handles hover and click for every step.
    svg
      .append('rect')
      .attr('class', 'overlay')
      .attr('x', x(0))
      .attr('y', MARGIN.top)
      .attr('width', x(n) - x(0))
      .attr('height', HEIGHT - MARGIN.top - MARGIN.bottom)
      .on('mousemove', (event: MouseEvent) =>
        this.hover(Math.floor(x.invert(d3.pointer(event)[0])), event),
      )
      .on('mouseleave', () => {
        this.hoveredStep = -1;
        this.tooltip.attr('hidden', '');
      })
      .on('click', (event: MouseEvent) => {
        const step = Math.floor(x.invert(d3.pointer(event)[0]));
        if (step >= 0 && step < n) this.events.pick(step);
      });
  }

  private hover(step: number, event: MouseEvent): void {
    const memory = this.memory;
    if (!memory || step < 0 || step >= memory.steps.length) return;
    const box = (this.root.node() as HTMLElement).getBoundingClientRect();
    this.tooltip
      .attr('hidden', null)
      .style('left', `${Math.min(event.clientX - box.left + 12, box.width - 260)}px`)
      .style('top', `${event.clientY - box.top + 12}px`);
    if (step === this.hoveredStep) return;
    this.hoveredStep = step;
    const s = memory.steps[step];
    this.tooltip.selectAll('*').remove();
    this.tooltip
      .append('div')
      .attr('class', 'tip-title')
      .text(`#${step} ${s.node}: ${s.liveLabel} live`);
    this.events.hover(step);
  }
}

/** Axis ticks only (figures themselves come formatted from the core). */
function bytesTick(v: number): string {
  return formatBytes(v);
}
