/**
 * Moving a model's external data (tensors kept in side files, `data_location = EXTERNAL`):
 * - `inlineExternalData` puts every such payload back into the model, for a copy written to
 *   another folder or handed to ONNX Runtime from memory (which has no folder to read from);
 * - `writeWithSideFile` writes a model too large for one protobuf (2 GiB) as the model plus one
 *   side file of its own, next to the output.
 * Payloads are read through the loader's ExternalData, so its checks (the folder boundary, links
 * included) apply here too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExternalData } from './externalData';
import { ModelLoadError, saveModelFile } from './load';
import type { Attribute, Graph, Model, Node, Tensor } from './types';

/** ONNX's protobuf limit: a model above it must keep payloads outside (onnx/checker). */
export const PROTOBUF_LIMIT_BYTES = 2 ** 31 - 1;

/** Whether any tensor of the model (sub-graphs and Constant nodes included) is external. */
export function hasExternalData(model: Model): boolean {
  let found = false;
  mapTensors(model, (t) => {
    if (t.external) found = true;
    return t;
  });
  return found;
}

/** Total payload bytes stored in side files. */
export function externalDataBytes(model: Model, external: ExternalData): number {
  let total = 0;
  mapTensors(model, (t) => {
    if (t.external) total += payloadLength(t, external);
    return t;
  });
  return total;
}

/** The model with every external payload read into `raw_data` (views of the side files). */
export function inlineExternalData(model: Model, external: ExternalData): Model {
  return mapTensors(model, (t) => (t.external ? inlined(t, external.read(t.external, t.name)) : t));
}

/**
 * Writes the model to `file` with every external payload in one new side file,
 * `<file name>.data`, next to it (both atomically: temp files, then rename, side file first so
 * that the model never names a file that isn't there yet).
 */
export function writeWithSideFile(model: Model, external: ExternalData, file: string): void {
  const full = path.resolve(file);
  const sideName = `${path.basename(full)}.data`;
  const side = path.join(path.dirname(full), sideName);
  const temp = path.join(path.dirname(full), `.${sideName}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  let offset = 0;
  try {
    fd = fs.openSync(temp, 'wx');
    const relocated = mapTensors(model, (t) => {
      if (!t.external) return t;
      const bytes = external.read(t.external, t.name);
      // 4 KiB alignment, as onnx.save_model(…, save_as_external_data=True) does for mmap.
      const start = Math.ceil(offset / 4096) * 4096;
      writeAll(fd!, bytes, start);
      offset = start + bytes.length;
      return moved(t, { location: sideName, offset: start, length: bytes.length });
    });
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, side);
    saveModelFile(relocated, full);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ModelLoadError(`${file}: cannot write here (${code})`);
    }
    throw e;
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

function payloadLength(t: Tensor, external: ExternalData): number {
  const ref = t.external!;
  if (ref.length !== undefined) return ref.length;
  return external.read(ref, t.name).length;
}

const EXTERNAL_KEYS = new Set(['location', 'offset', 'length', 'checksum']);

function inlined(t: Tensor, bytes: Uint8Array): Tensor {
  const { raw: _raw, external: _external, ...rest } = t;
  return {
    ...rest,
    rawData: bytes,
    externalEntries: [],
    dataLocation: 0,
  };
}

function moved(t: Tensor, ref: { location: string; offset: number; length: number }): Tensor {
  const { raw: _raw, ...rest } = t;
  const entry = (key: string, value: string): Tensor['externalEntries'][number] => ({
    extra: [],
    key,
    value,
  });
  return {
    ...rest,
    external: ref,
    externalEntries: [
      entry('location', ref.location),
      entry('offset', String(ref.offset)),
      entry('length', String(ref.length)),
      // Keys other readers may use (none known) travel with the tensor.
      ...t.externalEntries.filter((e) => !EXTERNAL_KEYS.has(e.key)),
    ],
  };
}

/**
 * The model with `fn` applied to every tensor: initializers, Constant and other tensor
 * attributes, in sub-graphs too. Objects on the path of a change lose `raw`, so they are
 * re-encoded; untouched ones keep their bytes.
 */
function mapTensors(model: Model, fn: (t: Tensor) => Tensor): Model {
  const graph = mapGraph(model.graph, fn);
  if (graph === model.graph) return model;
  const { raw: _raw, ...rest } = model;
  return { ...rest, graph };
}

function mapGraph(g: Graph, fn: (t: Tensor) => Tensor): Graph {
  const initializers = mapList(g.initializers, fn);
  const nodes = mapList(g.nodes, (n) => mapNode(n, fn));
  if (initializers === g.initializers && nodes === g.nodes) return g;
  const { raw: _raw, ...rest } = g;
  return { ...rest, initializers, nodes };
}

function mapNode(n: Node, fn: (t: Tensor) => Tensor): Node {
  const attributes = mapList(n.attributes, (a) => mapAttribute(a, fn));
  if (attributes === n.attributes) return n;
  const { raw: _raw, ...rest } = n;
  return { ...rest, attributes };
}

function mapAttribute(a: Attribute, fn: (t: Tensor) => Tensor): Attribute {
  const t = a.t ? fn(a.t) : undefined;
  const g = a.g ? mapGraph(a.g, fn) : undefined;
  const tensors = mapList(a.tensors, fn);
  const graphs = mapList(a.graphs, (x) => mapGraph(x, fn));
  if (t === a.t && g === a.g && tensors === a.tensors && graphs === a.graphs) return a;
  const { raw: _raw, ...rest } = a;
  return { ...rest, t, g, tensors, graphs };
}

/** The same array when no element changed, so unchanged parents keep their bytes. */
function mapList<T>(items: readonly T[], fn: (x: T) => T): readonly T[] {
  let out: T[] | undefined;
  items.forEach((x, i) => {
    const y = fn(x);
    if (y !== x) (out ??= items.slice())[i] = y;
  });
  return out ?? items;
}
