/**
 * What a device does with a model's zero weights (docs/sparse-figures.md). A layer's
 * sparse figures (NodeReport.sparseMacs, nmGroupMaxima) say what could be skipped; the device's
 * `sparsity` capability (profiles.ts) says what it skips:
 * - N:M support (`"2:4"`): a layer whose weight follows n:m along its reduction axis runs at
 *   n/m of its MACs, whatever its actual density (the hardware multiplies the n kept slots of
 *   every group, zero or not);
 * - unstructured support: MACs × the weight's density (its sparseMacs);
 * - neither, or no `sparsity` in the profile: dense MACs, every zero multiplied.
 * The lowest that applies wins. Every surface (device report, hover, markdown report) takes the
 * figures from here.
 */
import { formatCount } from '../format';
import { formatNm, parseNmPattern, type NmPattern } from '../numerics/nmSparsity';
import type { DeviceSparsityReport, NodeReport } from '../report';
import type { DeviceProfile } from './profiles';

type SparseLayer = Pick<
  NodeReport,
  'name' | 'macs' | 'sparseMacs' | 'nmGroupMaxima' | 'nmPattern' | 'macsUnknown'
>;

/** The device's N:M patterns, parsed (a built-in or validated user profile has valid ones). */
function patternsOf(device: DeviceProfile): NmPattern[] {
  return (device.sparsity?.nm ?? []).flatMap((text) => {
    const p = parseNmPattern(text);
    return 'error' in p ? [] : [p];
  });
}

/** The MACs `device` executes for a layer, and how it skips zeros when it does. */
export function deviceLayerMacs(
  n: SparseLayer,
  device: DeviceProfile,
): { macs: number; how?: string } {
  let best: { macs: number; how?: string } = { macs: n.macs };
  if (n.macsUnknown || n.sparseMacs === undefined) return best;
  for (const p of patternsOf(device)) {
    const most = n.nmGroupMaxima?.[p.m];
    const macs = Math.round((n.macs * p.n) / p.m);
    if (most !== undefined && most <= p.n && macs < best.macs) best = { macs, how: formatNm(p) };
  }
  if (device.sparsity?.unstructured && n.sparseMacs < best.macs) {
    best = { macs: n.sparseMacs, how: 'unstructured' };
  }
  return best;
}

/** "2:4 and 4:8 patterns, and unstructured zeros", or undefined for a device that skips none. */
export function sparsitySupportText(device: DeviceProfile): string | undefined {
  const nm = patternsOf(device).map(formatNm);
  const parts = [
    ...(nm.length > 0 ? [`${nm.join(' and ')} pattern${nm.length > 1 ? 's' : ''}`] : []),
    ...(device.sparsity?.unstructured ? ['unstructured zeros'] : []),
  ];
  return parts.length > 0 ? parts.join(', and ') : undefined;
}

/**
 * The device part of the sparse figures, when some layer has zeros: the MACs the device
 * executes, the layers whose zeros it skips, and one line saying which case applies.
 */
export function deviceSparsity(
  device: DeviceProfile,
  nodes: readonly SparseLayer[],
): DeviceSparsityReport | undefined {
  if (!nodes.some((n) => n.sparseMacs !== undefined)) return undefined;
  let macs = 0;
  let dense = 0;
  let ideal = 0;
  let sparseLayers = 0;
  const exploited: DeviceSparsityReport['exploited'] = [];
  for (const n of nodes) {
    if (n.macsUnknown) continue;
    const on = deviceLayerMacs(n, device);
    macs += on.macs;
    dense += n.macs;
    ideal += n.sparseMacs ?? n.macs;
    if (n.sparseMacs !== undefined) sparseLayers++;
    if (on.how) exploited.push({ node: n.name, how: on.how, macs: on.macs });
  }
  const support = sparsitySupportText(device);
  const layers = (k: number): string => `${k} layer${k === 1 ? '' : 's'}`;
  const note = !support
    ? `${device.id} does not skip zero weights (its profile lists no sparsity support): it executes the dense ${formatCount(dense)} MACs; ${formatCount(ideal)} if every zero were skipped`
    : exploited.length === 0
      ? `${device.id} skips ${support}, which none of the ${layers(sparseLayers)} with zeros follows: dense ${formatCount(dense)} MACs`
      : `${device.id} skips ${support}: ${layers(exploited.length)} of ${sparseLayers} with zeros (${summarise(exploited)}), ${formatCount(macs)} MACs of ${formatCount(dense)} dense`;
  return { macs, exploited, note };
}

/** "12 at 2:4, 3 unstructured". */
function summarise(exploited: DeviceSparsityReport['exploited']): string {
  const counts = new Map<string, number>();
  for (const e of exploited) counts.set(e.how, (counts.get(e.how) ?? 0) + 1);
  return [...counts]
    .map(([how, k]) => (how === 'unstructured' ? `${k} unstructured` : `${k} at ${how}`))
    .join(', ');
}

/**
 * The devices among `profiles` that skip some of a layer's zeros, each with how and the MACs it
 * then executes: what the hover lists.
 */
export function layerExploiters(
  n: SparseLayer,
  profiles: readonly DeviceProfile[],
): { id: string; how: string; macs: number }[] {
  return profiles.flatMap((d) => {
    const on = deviceLayerMacs(n, d);
    return on.how ? [{ id: d.id, how: on.how, macs: on.macs }] : [];
  });
}

/**
 * Per device of `profiles` that skips some of the model's zeros: how many layers, and its MACs
 * (the markdown report's list). Empty when none does.
 */
export function modelExploiters(
  nodes: readonly SparseLayer[],
  profiles: readonly DeviceProfile[],
): { id: string; report: DeviceSparsityReport }[] {
  return profiles.flatMap((d) => {
    const report = deviceSparsity(d, nodes);
    return report && report.exploited.length > 0 ? [{ id: d.id, report }] : [];
  });
}
