/**
 * The graph view's messages: the server request that builds the graph data, and the messages
 * between the extension and the webview. The server, the extension and the webview import this
 * file, so a field exists in exactly one place. Every figure arrives computed and formatted by
 * src/core; the webview only draws, colors and sorts.
 */

/** Client → server: the graph of a model, with the collapsed groups the user expanded. */
export const GraphRequest = 'modelLens/graph';
export interface GraphParams {
  readonly uri: string;
  /** Ids of collapsed groups to show expanded. */
  readonly expanded?: readonly string[];
}

/** The metrics a node can be colored by (raw numbers for the color scale and for sorting). */
export type MetricId = 'macs' | 'weightBytes' | 'activationBytes' | 'bits' | 'sensitivity';

export const METRICS: readonly { id: MetricId; label: string }[] = [
  { id: 'macs', label: 'MACs' },
  { id: 'weightBytes', label: 'Weight bytes' },
  { id: 'activationBytes', label: 'Activation bytes' },
  { id: 'bits', label: 'Suggested / current bits' },
  { id: 'sensitivity', label: 'Sensitivity (output SQNR at 4 bits)' },
];

/** A drawn node: an analysed ONNX node, or a collapsed group standing for several. */
export interface GraphNode {
  readonly id: string;
  readonly kind: 'node' | 'group';
  readonly name: string;
  readonly op: string;
  /** Output shapes as text, `1×64×56×56`. */
  readonly shape: string;
  /** Text-view line of the node (for a group: of its first member), or null. */
  readonly line: number | null;
  /** Every text line whose node this drawn node stands for (its own, its group's members', and
   * the collapsed constant and Identity nodes folded into it): the cursor there highlights it. */
  readonly lines: readonly number[];
  /** Position in execution order (for a group: of its first member). */
  readonly step: number;
  /** Raw values for coloring and sorting; null means not applicable / not measured. */
  readonly metrics: Record<MetricId, number | null>;
  /** The same figures formatted for display by src/core/format.ts (keys as in `metrics`). */
  readonly labels: Record<MetricId, string>;
  /** The side panel's rows, label → formatted value, in order. */
  readonly figures: readonly (readonly [string, string])[];
  /**
   * Where the other formats' row (OTHER_FORMATS_LABEL) goes in `figures` once measured: the
   * analysis leaves it out, so the side panel asks NodeFormatsRequest when the node is selected.
   * Absent when the node has no float weight to measure, or `figures` already has the row.
   */
  readonly formatsAt?: number;
  /** For a group: why it is collapsed and how many nodes it stands for. */
  readonly group?: { readonly kind: CollapseKind; readonly members: number };
  /** Weights (initializers / constants) folded into this node, by name. */
  readonly weights: readonly string[];
  /** Collapsed constant nodes and Identity chains folded into this node, expandable. */
  readonly folded: readonly FoldedGroup[];
}

export interface FoldedGroup {
  readonly id: string;
  readonly kind: CollapseKind;
  readonly members: number;
}

export type CollapseKind = 'constants' | 'shapeSubgraph' | 'identityChain';

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** The tensor carried, and its shape (`float32 1×64×56×56`), shown on hover. */
  readonly tensor: string;
  readonly shape: string;
}

export interface MemoryStep {
  readonly node: string;
  readonly liveBytes: number;
  readonly liveLabel: string;
}

export interface GraphMemory {
  /** Live activation bytes at each execution step. */
  readonly steps: readonly MemoryStep[];
  /** The arena size (what the CLI reports as peakActivationBytes) and the step where it peaks. */
  readonly peakActivationBytes: number;
  readonly peakLabel: string;
  readonly peakStep: number;
  readonly ramBytes: number | null;
  readonly ramLabel: string | null;
}

export interface GraphData {
  readonly uri: string;
  readonly title: string;
  /** Changes with every new analysis, so the webview can tell an update from a repeat. */
  readonly version: number;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  /** Ids of groups currently shown expanded (echoing the request). */
  readonly expanded: readonly string[];
  readonly memory: GraphMemory;
  /** Nodes of the model and how many are hidden in collapsed groups. */
  readonly counts: { readonly modelNodes: number; readonly collapsed: number };
  readonly device: string | null;
  /** Why there is no graph (unreadable model, failed analysis). */
  readonly error?: string;
}

/** Client → server: the live tensors at one execution step (memory chart hover). */
export const LiveTensorsRequest = 'modelLens/liveTensors';
export interface LiveTensorsParams {
  readonly uri: string;
  readonly step: number;
}
export interface LiveTensor {
  readonly name: string;
  readonly bytes: string;
}

/**
 * Client → server: the other formats' weight SQNR (fp16, pow2, ternary, binary) of one drawn
 * node, measured now, as the hover measures it (one cache per model state and layer serves both).
 */
export const NodeFormatsRequest = 'modelLens/graphNodeFormats';
export interface NodeFormatsParams {
  readonly uri: string;
  /** GraphNode.id */
  readonly node: string;
  /** GraphData.version the node belongs to: the server measures nothing for another one. */
  readonly version: number;
}
export interface NodeFormatsResult {
  readonly node: string;
  /** The version of the model state the server holds now (not measured when it differs). */
  readonly version: number;
  /** The row's value, formatted as the hover shows it; null when there is nothing to show. */
  readonly value: string | null;
}

/** The side panel's label of the other formats' row. */
export const OTHER_FORMATS_LABEL = 'other formats (weight SQNR)';

// --- Extension ↔ webview ----------------------------------------------------------------------

/** Messages the extension posts to the webview. */
export type ToWebview =
  | { readonly type: 'graph'; readonly data: GraphData }
  /** The cursor in the text view is on this node (null: on no node). */
  | { readonly type: 'highlight'; readonly node: string | null }
  | { readonly type: 'liveTensors'; readonly step: number; readonly tensors: LiveTensor[] }
  /** The answer to a `formats` message (value null: nothing measured, or the request failed). */
  | ({ readonly type: 'formats' } & NodeFormatsResult);

/** Messages the webview posts to the extension. */
export type FromWebview =
  | { readonly type: 'ready' }
  /** A node was clicked: reveal and select its line in the text view. */
  | {
      readonly type: 'reveal';
      readonly node: string;
      readonly line: number | null;
      /** Keep the keyboard in the webview (search as you type). */
      readonly preserveFocus?: boolean;
    }
  | { readonly type: 'expand'; readonly expanded: string[] }
  | { readonly type: 'liveTensors'; readonly step: number }
  /** The selected node's other formats, to measure (NodeFormatsRequest). */
  | { readonly type: 'formats'; readonly node: string; readonly version: number }
  /** Save the drawn view: SVG text, or PNG as base64. */
  | { readonly type: 'export'; readonly format: 'svg' | 'png'; readonly data: string }
  /** Timing marks for tests and benchmarks (layout ms, time to interactive). */
  | { readonly type: 'timing'; readonly layoutMs: number; readonly interactiveMs: number };

/** What the webview keeps across reloads (vscode.setState, and the panel serializer). */
export interface GraphViewState {
  readonly uri: string;
  readonly metric: MetricId;
  readonly selected: string | null;
  readonly expanded: string[];
  readonly transform?: { readonly x: number; readonly y: number; readonly k: number };
}
