/**
 * Checks that make a model unanalysable, reported as one clear line: tensors whose declared shape
 * is impossible (negative or absurd dimensions) or does not match the bytes stored for them.
 */
import { storageBytes, dtypeName, isKnownType } from './onnx/dtype';
import { ExternalDataError, type ExternalData } from './onnx/externalData';
import { ModelLoadError } from './onnx/load';
import { storedElementCount } from './onnx/tensorData';
import { DataType, type Graph, type Model, type Tensor } from './onnx/types';

/** No real tensor has more elements than this (2^48 ≈ 281 T); larger means a corrupt file. */
const MAX_ELEMENTS = 2 ** 48;

/**
 * Model-level checks, then every tensor of every graph. Returns the tensors whose external data
 * is shorter than they say, one line each: not fatal to a read-only analysis (a diagnostic), and
 * fatal to whatever reads that payload.
 */
export function validateModel(model: Model, ext: ExternalData): string[] {
  // IR version 3 and later must import the default domain's opset; without it no op has meaning.
  if (
    model.irVersion >= 3 &&
    !model.opsetImport.some((o) => o.domain === '' || o.domain === 'ai.onnx')
  ) {
    throw new ModelLoadError('the model imports no opset for the default ONNX domain');
  }
  const short: string[] = [];
  validateGraphTensors(model.graph, ext, short);
  return short;
}

export function validateGraphTensors(graph: Graph, ext: ExternalData, short: string[] = []): void {
  for (const t of graph.initializers) validateTensor(t, ext, short);
  for (const n of graph.nodes) {
    for (const a of n.attributes) {
      if (a.t) validateTensor(a.t, ext, short);
      for (const g of a.g ? [a.g, ...a.graphs] : a.graphs) validateGraphTensors(g, ext, short);
    }
  }
  for (const input of graph.inputs) {
    for (const d of input.type?.shape ?? []) {
      if (typeof d === 'number' && (d < 0 || d > MAX_ELEMENTS)) {
        throw new ModelLoadError(`graph input '${input.name}' has an invalid dimension ${d}`);
      }
    }
  }
}

function validateTensor(t: Tensor, ext: ExternalData, short: string[]): void {
  let elements = 1;
  for (const d of t.dims) {
    if (d < 0 || !Number.isSafeInteger(d)) {
      throw new ModelLoadError(`tensor '${t.name}' has an invalid dimension ${d}`);
    }
    elements *= d;
  }
  if (elements > MAX_ELEMENTS) {
    throw new ModelLoadError(
      `tensor '${t.name}' declares ${elements} elements, more than any real model`,
    );
  }
  if (!isKnownType(t.dataType)) {
    throw new ModelLoadError(`tensor '${t.name}' has an unknown data type ${t.dataType}`);
  }
  if (t.dataType === DataType.STRING) return;
  const need = storageBytes(t.dataType, elements);
  if (t.external) {
    try {
      ext.check(t.external, t.name, need);
    } catch (e) {
      if (!(e instanceof ExternalDataError && e.short)) throw e;
      short.push(e.message);
    }
    return;
  }
  const stored = storedElementCount(t);
  if (stored === undefined) return;
  if (t.rawData ? t.rawData.length !== need : stored !== elements) {
    const have = t.rawData ? `${t.rawData.length} bytes` : `${stored} values`;
    throw new ModelLoadError(
      `tensor '${t.name}' (${dtypeName(t.dataType)} [${t.dims.join(', ')}]) needs ${t.rawData ? need + ' bytes' : elements + ' values'} but stores ${have}`,
    );
  }
}
