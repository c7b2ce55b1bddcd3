/**
 * Node colors by metric. Costs span orders of magnitude, so sizes and MACs use a log scale;
 * bits and sensitivity are linear. Low sensitivity SQNR (fragile layers) and high costs are the
 * hot end. Values come from the core; this only maps them to colors.
 */
import * as d3 from 'd3';
import { formatBytes, formatCount } from '../../src/core/format';
import type { GraphNode, MetricId } from '../../src/shared/graphProtocol';

export interface ColorScale {
  color(value: number | null): string | null;
  /** Stops for the legend, low to high, with their labels. */
  readonly ticks: { value: number; label: string }[];
  readonly domain: [number, number] | null;
}

const HEAT = d3.interpolateYlOrRd;

export function colorScale(metric: MetricId, nodes: readonly GraphNode[]): ColorScale {
  const values = nodes
    .map((n) => n.metrics[metric])
    .filter((v): v is number => v !== null && Number.isFinite(v));
  if (metric === 'bits' || metric === 'sensitivity') {
    const [lo, hi] = values.length ? (d3.extent(values) as [number, number]) : [0, 0];
    if (!values.length) return { color: () => null, ticks: [], domain: null };
    // Fewer bits = cooler (cheaper); lower SQNR = hotter (more fragile).
    const scale =
      metric === 'bits'
        ? d3.scaleSequential(d3.interpolateBlues).domain([lo - 1, hi + 1])
        : d3.scaleSequential((t) => HEAT(1 - t)).domain([lo, hi === lo ? lo + 1 : hi]);
    return {
      color: (v) => (v === null ? null : scale(v)),
      ticks: uniqueTicks(lo, hi).map((value) => ({
        value,
        label: metric === 'bits' ? `${value} b` : `${value.toFixed(0)} dB`,
      })),
      domain: [lo, hi],
    };
  }
  const positive = values.filter((v) => v > 0);
  if (!positive.length)
    return { color: (v) => (v === null ? null : HEAT(0)), ticks: [], domain: null };
  const [lo, hi] = d3.extent(positive) as [number, number];
  const log = d3
    .scaleLog()
    .domain([lo, Math.max(hi, lo * 1.0001)])
    .range([0.08, 1])
    .clamp(true);
  const format = metric === 'macs' ? countLabel : bytesLabel;
  return {
    // Zero cost (a Relu's MACs, a weightless node's bytes) stays neutral, so costs stand out.
    color: (v) => (v === null || v <= 0 ? null : HEAT(log(v))),
    ticks: (lo === hi ? [lo] : log.ticks(5))
      .filter((_, i, all) => all.length <= 6 || i % Math.ceil(all.length / 6) === 0)
      .map((value) => ({ value, label: format(value) })),
    domain: [lo, hi],
  };
}

function uniqueTicks(lo: number, hi: number): number[] {
  return lo === hi ? [lo] : [lo, (lo + hi) / 2, hi];
}

function countLabel(v: number): string {
  return formatCount(v);
}

function bytesLabel(v: number): string {
  return formatBytes(v);
}

/** Black or white text, whichever reads better on `fill`. */
export function textOn(fill: string): string {
  const c = d3.rgb(fill);
  const luminance = (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255;
  return luminance > 0.55 ? '#1e1e1e' : '#ffffff';
}
