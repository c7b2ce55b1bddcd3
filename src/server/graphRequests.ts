/**
 * The graph view's requests, served from the same open models as the text view: `modelFor`
 * returns the state that matches the document's current text, so after a quick fix the graph
 * gets the new analysis. The side panel's other formats row is measured on demand, from the same
 * cache as the hover's (layerFormats.ts).
 */
import type { Connection } from 'vscode-languageserver/node';
import { formatBytes } from '../core/format';
import {
  GraphRequest,
  LiveTensorsRequest,
  NodeFormatsRequest,
  type GraphData,
  type GraphParams,
  type LiveTensor,
  type LiveTensorsParams,
  type NodeFormatsParams,
  type NodeFormatsResult,
} from '../shared/graphProtocol';
import { buildGraphData, nodeFormatsValue, type GraphSource } from './graphData';
import { liveTensorsAt } from './graphMemory';

/** A number per analysis report, so the webview can tell a new analysis from the same one. */
const versions = new WeakMap<object, number>();
let nextVersion = 1;

function versionOf(model: GraphSource): number {
  const key = model.report ?? model;
  let v = versions.get(key);
  if (v === undefined) versions.set(key, (v = nextVersion++));
  return v;
}

export function registerGraphRequests(
  connection: Connection,
  modelFor: (uri: string) => GraphSource | undefined,
): void {
  connection.onRequest(GraphRequest, (params: GraphParams): GraphData | null => {
    const model = modelFor(params.uri);
    if (!model) return null;
    return buildGraphData(params.uri, model, params.expanded ?? [], versionOf(model));
  });

  connection.onRequest(LiveTensorsRequest, (params: LiveTensorsParams): LiveTensor[] => {
    const report = modelFor(params.uri)?.report;
    if (!report) return [];
    return liveTensorsAt(report, params.step).map((t) => ({
      name: t.name,
      bytes: formatBytes(t.bytes),
    }));
  });

  connection.onRequest(NodeFormatsRequest, (params: NodeFormatsParams): NodeFormatsResult | null =>
    nodeFormats(modelFor(params.uri), params),
  );
}

/**
 * The other formats of a drawn node, for the side panel. Null when the document matches no model
 * state; the value is null, unmeasured, when the model changed since the panel's graph (the
 * panel ignores a version it does not show, and gets the new graph anyway).
 */
export function nodeFormats(
  model: GraphSource | undefined,
  params: NodeFormatsParams,
): NodeFormatsResult | null {
  if (!model) return null;
  const version = versionOf(model);
  const value = version === params.version ? nodeFormatsValue(model, params.node) : null;
  return { node: params.node, version, value };
}
