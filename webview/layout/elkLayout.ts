/**
 * ELK's layered (Sugiyama) algorithm for graphs up to ELK_NODE_LIMIT nodes, with the fast end
 * of its options, measured in bench/README.md ("Graph view"): longest-path layering instead of
 * network simplex, one crossing-minimisation pass, Brandes-Köpf placement, polyline edges. The
 * defaults took 3× longer for no visible gain on network graphs, which are mostly chains.
 */
import ELK, { type ElkExtendedEdge, type ElkNode } from 'elkjs/lib/elk.bundled.js';
import type { LayoutInput, LayoutResult } from './types';
import { LAYER_GAP, NODE_GAP } from './types';

const OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.layered.layering.strategy': 'LONGEST_PATH',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.layered.thoroughness': '1',
  'elk.edgeRouting': 'POLYLINE',
  'elk.layered.spacing.nodeNodeBetweenLayers': String(LAYER_GAP),
  'elk.spacing.nodeNode': String(NODE_GAP),
  'elk.spacing.edgeNode': '12',
};

const elk = new ELK();

export async function elkLayout(input: LayoutInput): Promise<LayoutResult> {
  const started = performance.now();
  const ids = new Set(input.nodes.map((n) => n.id));
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: OPTIONS,
    children: input.nodes.map((n) => ({ id: n.id, width: n.width, height: n.height })),
    edges: input.edges.flatMap((e, i) =>
      ids.has(e.from) && ids.has(e.to) && e.from !== e.to
        ? [{ id: `e${i}`, sources: [e.from], targets: [e.to] }]
        : [],
    ),
  };
  const laid = await elk.layout(graph);
  const position = new Map((laid.children ?? []).map((c) => [c.id, c]));
  const x = new Float64Array(input.nodes.length);
  const y = new Float64Array(input.nodes.length);
  input.nodes.forEach((n, i) => {
    x[i] = position.get(n.id)?.x ?? 0;
    y[i] = position.get(n.id)?.y ?? 0;
  });
  const routed = new Map((laid.edges ?? []).map((e: ElkExtendedEdge) => [e.id, e]));
  const edgePoints = input.edges.map((_, i) => {
    const section = routed.get(`e${i}`)?.sections?.[0];
    if (!section) return [];
    const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
    return points.flatMap((p) => [p.x, p.y]);
  });
  return {
    x,
    y,
    edgePoints,
    width: laid.width ?? 0,
    height: laid.height ?? 0,
    engine: 'elk-layered',
    ms: performance.now() - started,
  };
}
