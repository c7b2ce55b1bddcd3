/**
 * Encodes the messages of types.ts back to protobuf bytes.
 *
 * The rule that makes saving lossless: an object that still has `raw` is written as those exact
 * bytes; a new or edited object is encoded from its fields, followed by its `extra` fields
 * verbatim. So an unedited model re-saves byte-identical, and a field our schema does not know
 * survives any edit of its message. Payloads are referenced, not copied, until the final write.
 */
import { materialize } from './lazyFile';
import { WireWriter, WireType } from './wire';
import type {
  Attribute,
  Graph,
  Model,
  Node,
  OnnxFunction,
  OperatorSetId,
  SparseTensor,
  StringStringEntry,
  Tensor,
  TypeInfo,
  ValueInfo,
} from './types';

/** The encoded model as chunks, ready for a streaming write. */
export function encodeModelParts(model: Model): Uint8Array[] {
  if (model.raw) return [model.raw];
  const w = new WireWriter();
  writeModel(w, model);
  return w.parts();
}

/**
 * The encoded model in one buffer. Payloads a lazy load left in the file (lazyFile.ts) are read
 * from it here: the result is complete bytes, as in memory before.
 */
export function encodeModel(model: Model): Uint8Array {
  const parts = encodeModelParts(model);
  if (parts.length === 1) return materialize(parts[0]);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(materialize(p), offset);
    offset += p.length;
  }
  return out;
}

type Encoder<T> = (w: WireWriter, value: T) => void;

/** Writes a nested message: its original bytes when unedited, else its fields. */
function nested<T extends { raw?: Uint8Array }>(
  w: WireWriter,
  field: number,
  value: T,
  encode: Encoder<T>,
): void {
  if (value.raw) w.lengthDelimited(field, value.raw);
  else w.message(field, (child) => encode(child, value));
}

function extras(w: WireWriter, extra: readonly Uint8Array[]): void {
  for (const e of extra) w.raw(e);
}

function optString(w: WireWriter, field: number, value: string): void {
  if (value) w.string(field, value);
}

function packedVarints(w: WireWriter, field: number, values: readonly number[]): void {
  if (values.length === 0) return;
  const inner = new WireWriter();
  for (const v of values) inner.varint(v);
  w.lengthDelimited(field, inner.finish());
}

function writeModel(w: WireWriter, m: Model): void {
  if (m.irVersion) w.varintField(1, m.irVersion);
  optString(w, 2, m.producerName);
  optString(w, 3, m.producerVersion);
  optString(w, 4, m.domain);
  if (m.modelVersion) w.varintField(5, m.modelVersion);
  optString(w, 6, m.docString);
  nested(w, 7, m.graph, writeGraph);
  for (const o of m.opsetImport) nested(w, 8, o, writeOpset);
  for (const p of m.metadataProps) nested(w, 14, p, writeEntry);
  for (const f of m.functions) nested(w, 25, f, writeFunction);
  extras(w, m.extra);
}

function writeOpset(w: WireWriter, o: OperatorSetId): void {
  optString(w, 1, o.domain);
  w.varintField(2, o.version);
  extras(w, o.extra);
}

function writeEntry(w: WireWriter, e: StringStringEntry): void {
  optString(w, 1, e.key);
  optString(w, 2, e.value);
  extras(w, e.extra);
}

export function writeGraph(w: WireWriter, g: Graph): void {
  for (const n of g.nodes) nested(w, 1, n, writeNode);
  optString(w, 2, g.name);
  for (const t of g.initializers) nested(w, 5, t, writeTensor);
  optString(w, 10, g.docString);
  for (const v of g.inputs) nested(w, 11, v, writeValueInfo);
  for (const v of g.outputs) nested(w, 12, v, writeValueInfo);
  for (const v of g.valueInfo) nested(w, 13, v, writeValueInfo);
  for (const s of g.sparseInitializers) nested(w, 15, s, writeSparseTensor);
  extras(w, g.extra);
}

function writeNode(w: WireWriter, n: Node): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  optString(w, 3, n.name);
  optString(w, 4, n.opType);
  for (const a of n.attributes) nested(w, 5, a, writeAttribute);
  optString(w, 6, n.docString);
  optString(w, 7, n.domain);
  extras(w, n.extra);
}

function writeAttribute(w: WireWriter, a: Attribute): void {
  w.string(1, a.name);
  if (a.f !== undefined) {
    w.tag(2, WireType.Fixed32);
    w.float32(a.f);
  }
  if (a.i !== undefined) w.varintField(3, a.i);
  if (a.s !== undefined) w.lengthDelimited(4, a.s);
  if (a.t) nested(w, 5, a.t, writeTensor);
  if (a.g) nested(w, 6, a.g, writeGraph);
  if (a.floats.length) {
    const inner = new WireWriter();
    for (const f of a.floats) inner.float32(f);
    w.lengthDelimited(7, inner.finish());
  }
  packedVarints(w, 8, a.ints);
  for (const s of a.strings) w.lengthDelimited(9, s);
  for (const t of a.tensors) nested(w, 10, t, writeTensor);
  for (const g of a.graphs) nested(w, 11, g, writeGraph);
  if (a.tp) nested(w, 14, a.tp, writeTypeInfo);
  w.varintField(20, a.type);
  if (a.refAttrName) w.string(21, a.refAttrName);
  if (a.sparseTensor) nested(w, 22, a.sparseTensor, writeSparseTensor);
  extras(w, a.extra);
}

export function writeTensor(w: WireWriter, t: Tensor): void {
  packedVarints(w, 1, t.dims);
  w.varintField(2, t.dataType);
  if (t.floatData) w.lengthDelimited(4, t.floatData);
  if (t.int32Data) packedVarints(w, 5, t.int32Data);
  for (const s of t.stringData ?? []) w.lengthDelimited(6, s);
  if (t.int64Data) packedVarints(w, 7, t.int64Data);
  optString(w, 8, t.name);
  if (t.rawData) w.lengthDelimited(9, t.rawData);
  if (t.doubleData) w.lengthDelimited(10, t.doubleData);
  if (t.uint64Data) packedVarints(w, 11, t.uint64Data);
  optString(w, 12, t.docString);
  for (const e of t.externalEntries) nested(w, 13, e, writeEntry);
  if (t.dataLocation) w.varintField(14, t.dataLocation);
  extras(w, t.extra);
}

function writeSparseTensor(w: WireWriter, s: SparseTensor): void {
  if (s.values) nested(w, 1, s.values, writeTensor);
  if (s.indices) nested(w, 2, s.indices, writeTensor);
  packedVarints(w, 3, s.dims);
  extras(w, s.extra);
}

function writeValueInfo(w: WireWriter, v: ValueInfo): void {
  w.string(1, v.name);
  if (v.type) nested(w, 2, v.type, writeTypeInfo);
  optString(w, 3, v.docString);
  extras(w, v.extra);
}

const KIND_FIELDS: Record<TypeInfo['kind'], number> = {
  tensor: 1,
  sequence: 4,
  map: 5,
  sparse_tensor: 8,
  optional: 9,
  unknown: 0,
};

function writeTypeInfo(w: WireWriter, t: TypeInfo): void {
  const field = KIND_FIELDS[t.kind];
  if (field) {
    w.message(field, (body) => {
      if (t.kind === 'tensor' || t.kind === 'sparse_tensor') {
        if (t.elemType) body.varintField(1, t.elemType);
        if (t.shape) {
          const shape = t.shape;
          body.message(2, (s) => {
            for (const d of shape) {
              s.message(1, (dim) => {
                if (typeof d === 'number') dim.varintField(1, d);
                else if (d !== '') dim.string(2, d);
              });
            }
          });
        }
      } else if (t.inner) {
        nested(body, 1, t.inner, writeTypeInfo);
      }
    });
  }
  extras(w, t.extra);
}

function writeFunction(w: WireWriter, f: OnnxFunction): void {
  optString(w, 1, f.name);
  for (const i of f.inputs) w.string(4, i);
  for (const o of f.outputs) w.string(5, o);
  for (const a of f.attributeNames) w.string(6, a);
  for (const n of f.nodes) nested(w, 7, n, writeNode);
  for (const o of f.opsetImport) nested(w, 9, o, writeOpset);
  optString(w, 10, f.domain);
  extras(w, f.extra);
}
