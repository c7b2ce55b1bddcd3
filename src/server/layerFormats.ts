/**
 * The other formats' weight SQNR (fp16, pow2, ternary, binary) for the layers the user looks at.
 * The editor's analysis leaves them out (they would double a large graph's open time), so the
 * hover measures the hovered layer alone (core/advisor/layerFormats.ts) and keeps the result per
 * model state and layer: a state's weights never change, and a second hover costs a lookup.
 */
import {
  layerFormatMeter,
  type LayerFormatMeter,
  type LayerFormatSqnr,
} from '../core/advisor/layerFormats';
import type { NodeReport } from '../core/analyze';
import type { LoadedModel } from '../core/onnx/load';

/** What the cache needs from an OpenModel (modelStore.ts). */
export interface FormatSource {
  readonly loaded?: LoadedModel;
  /** The input shapes the report used: the weight tracing runs shape inference with them. */
  readonly inputShapes?: Record<string, number[]>;
}

interface StateFormats {
  readonly shapesKey: string;
  readonly meter: LayerFormatMeter;
  readonly byLayer: Map<number, LayerFormatSqnr | null>;
}

/** By model state (each state has its own LoadedModel), dropped with it. */
const cache = new WeakMap<LoadedModel, StateFormats>();

/**
 * `node` with `weightFormatSqnrDb` filled in, measured now or taken from the cache; `node` itself
 * when it already has it, or has no float weight the analysis measured (no `weightSqnrDb`).
 */
export function withWeightFormats(model: FormatSource, node: NodeReport): NodeReport {
  if (node.weightFormatSqnrDb || !node.weightSqnrDb || !model.loaded) return node;
  const shapesKey = JSON.stringify(model.inputShapes ?? {});
  let state = cache.get(model.loaded);
  if (!state || state.shapesKey !== shapesKey) {
    const shapes = model.inputShapes && new Map(Object.entries(model.inputShapes));
    state = { shapesKey, meter: layerFormatMeter(model.loaded, shapes), byLayer: new Map() };
    cache.set(model.loaded, state);
  }
  let formats = state.byLayer.get(node.fileIndex);
  if (formats === undefined) {
    try {
      formats = state.meter(node.fileIndex);
    } catch {
      // The analysis succeeded on this state, so this is unexpected; the hover goes without.
      formats = null;
    }
    state.byLayer.set(node.fileIndex, formats);
  }
  return formats ? { ...node, weightFormatSqnrDb: formats } : node;
}
