/**
 * Decodes ONNX protobuf bytes into the messages of types.ts. Field numbers follow onnx/onnx.proto.
 * Tensor payloads stay views of the input bytes. Fields we do not model go to `extra` verbatim.
 */
import {
  ProtoError,
  WireReader,
  WireType,
  decodeUtf8,
  readRepeatedFloat,
  readRepeatedVarint,
} from './wire';
import type {
  Attribute,
  AttributeType,
  DataType,
  Dim,
  ExternalDataRef,
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

/** Graphs nest through If/Loop/Scan attributes; a cap stops a crafted file from exhausting the stack. */
const MAX_NESTING = 64;

export function decodeModel(bytes: Uint8Array): Model {
  if (bytes.length === 0) throw new ProtoError('the file is empty');
  const r = new WireReader(bytes);
  let irVersion = 0;
  let producerName = '';
  let producerVersion = '';
  let domain = '';
  let modelVersion = 0;
  let docString = '';
  let graph: Graph | undefined;
  const opsetImport: OperatorSetId[] = [];
  const metadataProps: StringStringEntry[] = [];
  const functions: OnnxFunction[] = [];
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    switch (field) {
      case 1:
        r.expect(WireType.Varint, 'ModelProto.ir_version');
        irVersion = r.varint();
        break;
      case 2:
        producerName = str(r, 'ModelProto.producer_name');
        break;
      case 3:
        producerVersion = str(r, 'ModelProto.producer_version');
        break;
      case 4:
        domain = str(r, 'ModelProto.domain');
        break;
      case 5:
        r.expect(WireType.Varint, 'ModelProto.model_version');
        modelVersion = r.varint();
        break;
      case 6:
        docString = str(r, 'ModelProto.doc_string');
        break;
      case 7:
        graph = decodeGraph(sub(r, 'ModelProto.graph'), 0);
        break;
      case 8:
        opsetImport.push(decodeOpset(sub(r, 'ModelProto.opset_import')));
        break;
      case 14:
        metadataProps.push(decodeEntry(sub(r, 'ModelProto.metadata_props')));
        break;
      case 25:
        functions.push(decodeFunction(sub(r, 'ModelProto.functions')));
        break;
      default:
        r.skip();
        extra.push(r.fieldBytes());
    }
  }
  if (!graph) throw new ProtoError('the model has no graph (is this an ONNX file?)');
  return {
    raw: bytes,
    extra,
    irVersion,
    producerName,
    producerVersion,
    domain,
    modelVersion,
    docString,
    graph,
    opsetImport,
    metadataProps,
    functions,
  };
}

function str(r: WireReader, what: string): string {
  r.expect(WireType.LengthDelimited, what);
  return r.string();
}

function sub(r: WireReader, what: string): Uint8Array {
  r.expect(WireType.LengthDelimited, what);
  return r.bytes();
}

function decodeOpset(bytes: Uint8Array): OperatorSetId {
  const r = new WireReader(bytes);
  let domain = '';
  let version = 0;
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    if (field === 1) domain = str(r, 'OperatorSetIdProto.domain');
    else if (field === 2) {
      r.expect(WireType.Varint, 'OperatorSetIdProto.version');
      version = r.varint();
    } else {
      r.skip();
      extra.push(r.fieldBytes());
    }
  }
  return { raw: bytes, extra, domain, version };
}

function decodeEntry(bytes: Uint8Array): StringStringEntry {
  const r = new WireReader(bytes);
  let key = '';
  let value = '';
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    if (field === 1) key = str(r, 'StringStringEntryProto.key');
    else if (field === 2) value = str(r, 'StringStringEntryProto.value');
    else {
      r.skip();
      extra.push(r.fieldBytes());
    }
  }
  return { raw: bytes, extra, key, value };
}

export function decodeGraph(bytes: Uint8Array, depth: number): Graph {
  if (depth > MAX_NESTING) throw new ProtoError(`sub-graphs nested deeper than ${MAX_NESTING}`);
  const r = new WireReader(bytes);
  let name = '';
  let docString = '';
  const nodes: Node[] = [];
  const initializers: Tensor[] = [];
  const sparseInitializers: SparseTensor[] = [];
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  const valueInfo: ValueInfo[] = [];
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    switch (field) {
      case 1:
        nodes.push(decodeNode(sub(r, 'GraphProto.node'), depth));
        break;
      case 2:
        name = str(r, 'GraphProto.name');
        break;
      case 5:
        initializers.push(decodeTensor(sub(r, 'GraphProto.initializer')));
        break;
      case 10:
        docString = str(r, 'GraphProto.doc_string');
        break;
      case 11:
        inputs.push(decodeValueInfo(sub(r, 'GraphProto.input')));
        break;
      case 12:
        outputs.push(decodeValueInfo(sub(r, 'GraphProto.output')));
        break;
      case 13:
        valueInfo.push(decodeValueInfo(sub(r, 'GraphProto.value_info')));
        break;
      case 15:
        sparseInitializers.push(decodeSparseTensor(sub(r, 'GraphProto.sparse_initializer')));
        break;
      default:
        r.skip();
        extra.push(r.fieldBytes());
    }
  }
  return {
    raw: bytes,
    extra,
    name,
    nodes,
    initializers,
    sparseInitializers,
    inputs,
    outputs,
    valueInfo,
    docString,
  };
}

function decodeNode(bytes: Uint8Array, depth: number): Node {
  const r = new WireReader(bytes);
  let name = '';
  let opType = '';
  let domain = '';
  let docString = '';
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes: Attribute[] = [];
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    switch (field) {
      case 1:
        inputs.push(str(r, 'NodeProto.input'));
        break;
      case 2:
        outputs.push(str(r, 'NodeProto.output'));
        break;
      case 3:
        name = str(r, 'NodeProto.name');
        break;
      case 4:
        opType = str(r, 'NodeProto.op_type');
        break;
      case 5:
        attributes.push(decodeAttribute(sub(r, 'NodeProto.attribute'), depth));
        break;
      case 6:
        docString = str(r, 'NodeProto.doc_string');
        break;
      case 7:
        domain = str(r, 'NodeProto.domain');
        break;
      default:
        r.skip();
        extra.push(r.fieldBytes());
    }
  }
  return { raw: bytes, extra, name, opType, domain, inputs, outputs, attributes, docString };
}

function decodeAttribute(bytes: Uint8Array, depth: number): Attribute {
  const r = new WireReader(bytes);
  let name = '';
  let type = 0;
  let refAttrName: string | undefined;
  let f: number | undefined;
  let i: number | undefined;
  let s: Uint8Array | undefined;
  let t: Tensor | undefined;
  let g: Graph | undefined;
  let sparseTensor: SparseTensor | undefined;
  let tp: TypeInfo | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: Uint8Array[] = [];
  const tensors: Tensor[] = [];
  const graphs: Graph[] = [];
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    switch (field) {
      case 1:
        name = str(r, 'AttributeProto.name');
        break;
      case 2:
        r.expect(WireType.Fixed32, 'AttributeProto.f');
        f = r.float32();
        break;
      case 3:
        r.expect(WireType.Varint, 'AttributeProto.i');
        i = r.varint();
        break;
      case 4:
        s = sub(r, 'AttributeProto.s');
        break;
      case 5:
        t = decodeTensor(sub(r, 'AttributeProto.t'));
        break;
      case 6:
        g = decodeGraph(sub(r, 'AttributeProto.g'), depth + 1);
        break;
      case 7:
        readRepeatedFloat(r, floats);
        break;
      case 8:
        readRepeatedVarint(r, ints);
        break;
      case 9:
        strings.push(sub(r, 'AttributeProto.strings'));
        break;
      case 10:
        tensors.push(decodeTensor(sub(r, 'AttributeProto.tensors')));
        break;
      case 11:
        graphs.push(decodeGraph(sub(r, 'AttributeProto.graphs'), depth + 1));
        break;
      case 14:
        tp = decodeTypeInfo(sub(r, 'AttributeProto.tp'), 0);
        break;
      case 20:
        r.expect(WireType.Varint, 'AttributeProto.type');
        type = r.varint();
        break;
      case 21:
        refAttrName = str(r, 'AttributeProto.ref_attr_name');
        break;
      case 22:
        sparseTensor = decodeSparseTensor(sub(r, 'AttributeProto.sparse_tensor'));
        break;
      default:
        r.skip();
        extra.push(r.fieldBytes());
    }
  }
  if (type === 0) type = inferAttributeType(f, i, s, t, g, floats, ints, strings, tensors, graphs);
  return {
    raw: bytes,
    extra,
    name,
    type: type as AttributeType,
    refAttrName,
    f,
    i,
    s,
    t,
    g,
    sparseTensor,
    tp,
    floats,
    ints,
    strings,
    tensors,
    graphs,
  };
}

/** IR version 1 files may omit `type`; it is then implied by which field is set. */
function inferAttributeType(
  f: number | undefined,
  i: number | undefined,
  s: Uint8Array | undefined,
  t: Tensor | undefined,
  g: Graph | undefined,
  floats: number[],
  ints: number[],
  strings: Uint8Array[],
  tensors: Tensor[],
  graphs: Graph[],
): number {
  if (f !== undefined) return 1;
  if (i !== undefined) return 2;
  if (s !== undefined) return 3;
  if (t !== undefined) return 4;
  if (g !== undefined) return 5;
  if (floats.length) return 6;
  if (ints.length) return 7;
  if (strings.length) return 8;
  if (tensors.length) return 9;
  if (graphs.length) return 10;
  return 0;
}

export function decodeTensor(bytes: Uint8Array): Tensor {
  const r = new WireReader(bytes);
  let name = '';
  let dataType = 0;
  let docString = '';
  let dataLocation = 0;
  const dims: number[] = [];
  let rawData: Uint8Array | undefined;
  let floatData: Uint8Array | undefined;
  let doubleData: Uint8Array | undefined;
  let int32Data: number[] | undefined;
  let int64Data: number[] | undefined;
  let uint64Data: number[] | undefined;
  let stringData: Uint8Array[] | undefined;
  let floatUnpacked: number[] | undefined;
  const externalEntries: StringStringEntry[] = [];
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    switch (field) {
      case 1:
        readRepeatedVarint(r, dims);
        break;
      case 2:
        r.expect(WireType.Varint, 'TensorProto.data_type');
        dataType = r.varint();
        break;
      case 4:
        if (r.wireType === WireType.LengthDelimited) floatData = concatView(floatData, r.bytes());
        else readRepeatedFloat(r, (floatUnpacked ??= []));
        break;
      case 5:
        readRepeatedVarint(r, (int32Data ??= []));
        break;
      case 6:
        (stringData ??= []).push(sub(r, 'TensorProto.string_data'));
        break;
      case 7:
        readRepeatedVarint(r, (int64Data ??= []));
        break;
      case 8:
        name = str(r, 'TensorProto.name');
        break;
      case 9:
        rawData = sub(r, 'TensorProto.raw_data');
        break;
      case 10:
        if (r.wireType === WireType.LengthDelimited) doubleData = concatView(doubleData, r.bytes());
        else {
          r.expect(WireType.Fixed64, 'TensorProto.double_data');
          const start = r.pos;
          r.skip();
          doubleData = concatView(doubleData, bytes.subarray(start, r.pos));
        }
        break;
      case 11:
        readRepeatedVarint(r, (uint64Data ??= []));
        break;
      case 12:
        docString = str(r, 'TensorProto.doc_string');
        break;
      case 13:
        externalEntries.push(decodeEntry(sub(r, 'TensorProto.external_data')));
        break;
      case 14:
        r.expect(WireType.Varint, 'TensorProto.data_location');
        dataLocation = r.varint();
        break;
      default:
        r.skip();
        extra.push(r.fieldBytes());
    }
  }
  if (floatUnpacked) {
    // Unpacked floats are rare; turn them into the packed little-endian form we read elsewhere.
    const packed = new Uint8Array(new Float32Array(floatUnpacked).buffer);
    floatData = concatView(floatData, packed);
  }
  return {
    raw: bytes,
    extra,
    name,
    dataType: dataType as DataType,
    dims,
    rawData,
    floatData,
    doubleData,
    int32Data,
    int64Data,
    uint64Data,
    stringData,
    external: dataLocation === 1 ? externalRef(name, externalEntries) : undefined,
    externalEntries,
    dataLocation,
    docString,
  };
}

/** A repeated packed field may legally arrive in several chunks; join them (rare, small). */
function concatView(a: Uint8Array | undefined, b: Uint8Array): Uint8Array {
  if (!a) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function externalRef(tensorName: string, entries: StringStringEntry[]): ExternalDataRef {
  let location: string | undefined;
  let offset = 0;
  let length: number | undefined;
  for (const e of entries) {
    if (e.key === 'location') location = e.value;
    else if (e.key === 'offset') offset = parseNonNegative(e.value, tensorName, 'offset');
    else if (e.key === 'length') length = parseNonNegative(e.value, tensorName, 'length');
  }
  if (!location) throw new ProtoError(`tensor '${tensorName}' has external data but no location`);
  return { location, offset, length };
}

function parseNonNegative(text: string, tensorName: string, key: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProtoError(`tensor '${tensorName}' has an invalid external data ${key} '${text}'`);
  }
  return value;
}

function decodeSparseTensor(bytes: Uint8Array): SparseTensor {
  const r = new WireReader(bytes);
  let values: Tensor | undefined;
  let indices: Tensor | undefined;
  const dims: number[] = [];
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    if (field === 1) values = decodeTensor(sub(r, 'SparseTensorProto.values'));
    else if (field === 2) indices = decodeTensor(sub(r, 'SparseTensorProto.indices'));
    else if (field === 3) readRepeatedVarint(r, dims);
    else {
      r.skip();
      extra.push(r.fieldBytes());
    }
  }
  return { raw: bytes, extra, values, indices, dims };
}

function decodeValueInfo(bytes: Uint8Array): ValueInfo {
  const r = new WireReader(bytes);
  let name = '';
  let type: TypeInfo | undefined;
  let docString = '';
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    if (field === 1) name = str(r, 'ValueInfoProto.name');
    else if (field === 2) type = decodeTypeInfo(sub(r, 'ValueInfoProto.type'), 0);
    else if (field === 3) docString = str(r, 'ValueInfoProto.doc_string');
    else {
      r.skip();
      extra.push(r.fieldBytes());
    }
  }
  return { raw: bytes, extra, name, type, docString };
}

const TYPE_KINDS: Record<number, TypeInfo['kind']> = {
  1: 'tensor',
  4: 'sequence',
  5: 'map',
  8: 'sparse_tensor',
  9: 'optional',
};

function decodeTypeInfo(bytes: Uint8Array, depth: number): TypeInfo {
  if (depth > MAX_NESTING) throw new ProtoError(`types nested deeper than ${MAX_NESTING}`);
  const r = new WireReader(bytes);
  let kind: TypeInfo['kind'] = 'unknown';
  let elemType = 0;
  let shape: Dim[] | undefined;
  let inner: TypeInfo | undefined;
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    const k = TYPE_KINDS[field];
    if (k && r.wireType === WireType.LengthDelimited) {
      kind = k;
      const body = new WireReader(r.bytes());
      while (!body.done()) {
        const f = body.nextTag();
        if ((k === 'tensor' || k === 'sparse_tensor') && f === 1) {
          body.expect(WireType.Varint, 'TypeProto.Tensor.elem_type');
          elemType = body.varint();
        } else if ((k === 'tensor' || k === 'sparse_tensor') && f === 2) {
          shape = decodeShape(sub(body, 'TypeProto.Tensor.shape'));
        } else if ((k === 'sequence' || k === 'optional') && f === 1) {
          inner = decodeTypeInfo(sub(body, 'TypeProto.elem_type'), depth + 1);
        } else body.skip();
      }
    } else {
      r.skip();
      extra.push(r.fieldBytes());
    }
  }
  return { raw: bytes, extra, kind, elemType: elemType as DataType, shape, inner };
}

function decodeShape(bytes: Uint8Array): Dim[] {
  const r = new WireReader(bytes);
  const dims: Dim[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    if (field !== 1) {
      r.skip();
      continue;
    }
    const d = new WireReader(sub(r, 'TensorShapeProto.dim'));
    let dim: Dim = '';
    while (!d.done()) {
      const f = d.nextTag();
      if (f === 1) {
        d.expect(WireType.Varint, 'Dimension.dim_value');
        dim = d.varint();
      } else if (f === 2) dim = str(d, 'Dimension.dim_param');
      else d.skip();
    }
    dims.push(dim);
  }
  return dims;
}

function decodeFunction(bytes: Uint8Array): OnnxFunction {
  const r = new WireReader(bytes);
  let name = '';
  let domain = '';
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributeNames: string[] = [];
  const nodes: Node[] = [];
  const opsetImport: OperatorSetId[] = [];
  const extra: Uint8Array[] = [];
  while (!r.done()) {
    const field = r.nextTag();
    switch (field) {
      case 1:
        name = str(r, 'FunctionProto.name');
        break;
      case 4:
        inputs.push(str(r, 'FunctionProto.input'));
        break;
      case 5:
        outputs.push(str(r, 'FunctionProto.output'));
        break;
      case 6:
        attributeNames.push(str(r, 'FunctionProto.attribute'));
        break;
      case 7:
        nodes.push(decodeNode(sub(r, 'FunctionProto.node'), 1));
        break;
      case 9:
        opsetImport.push(decodeOpset(sub(r, 'FunctionProto.opset_import')));
        break;
      case 10:
        domain = str(r, 'FunctionProto.domain');
        break;
      default:
        r.skip();
        extra.push(r.fieldBytes());
    }
  }
  return { raw: bytes, extra, name, domain, inputs, outputs, attributeNames, nodes, opsetImport };
}

export function attributeString(a: Attribute): string {
  return a.s ? decodeUtf8(a.s) : '';
}
