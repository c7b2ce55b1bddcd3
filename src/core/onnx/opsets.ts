/** Opset versions a model imports, by domain ('' is the default ai.onnx domain). */
import type { Model } from './types';

export function opsetVersions(model: Model): Map<string, number> {
  const opsets = new Map<string, number>();
  for (const o of model.opsetImport) opsets.set(o.domain === 'ai.onnx' ? '' : o.domain, o.version);
  return opsets;
}
