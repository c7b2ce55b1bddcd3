/**
 * A decoded TFLite model (types.ts) as the graph every analysis stage already works on
 * (onnx/types.ts `Model`), so validate → graph view → shapes → costs → memory → devices run
 * unchanged and no surface learns which format it shows (issue 13).
 *
 * The mapping, for the primary subgraph (0; the others are bodies of IF/WHILE/CALL_ONCE, whose
 * nodes are reported as opaque by the shape rules):
 * - one Node per operator, in the file's (execution) order, domain `tflite`, op type the
 *   BuiltinOperator name (`CONV_2D`) or a CUSTOM operator's custom_code (`ethos-u`); the node is
 *   named after its first output tensor, as TFLite tools show an operator;
 * - the options the shape rules and the cost table read become attributes (attributes.ts);
 * - a constant tensor (a non-empty buffer, or a schema-3d external buffer) becomes an
 *   initializer whose rawData is a view of the file, never a copy; tensors naming the same
 *   buffer with the same type and shape become one initializer, so shared weights count once;
 * - a sparse constant (`sparsity`, sparse.ts) becomes the dense initializer the runtime expands
 *   it to, with what the file stores (values and index arrays) remembered beside it for weight
 *   bytes; one that cannot be densified holds zeros, its values marked unreadable;
 * - every other tensor's declared type and shape become value_info (graph inputs and outputs
 *   from the subgraph's lists), which the tflite shape rules fall back on;
 * - variable tensors (RNN/SVDF/LSTM state) are initializers too: state the runtime keeps apart
 *   from the planned tensors, zero at start as TFLM resets them, listed in `TfliteExtras`;
 * - a tensor an operator reads that nothing writes and that is neither constant, variable nor a
 *   graph input is that operator's scratch (Vela's `scratch`/`scratch_fast` of `ethos-u`): it
 *   becomes an output of its first reader, so that it is planned as alive while the op runs.
 * Quantization parameters stay with their tensors (quantization.ts), for weight bytes and hints.
 */
import { dtypeBits, storageBytes } from '../onnx/dtype';
import { ModelLoadError } from '../onnx/load';
import { elementCount } from '../onnx/tensorData';
import {
  DataType,
  type Attribute,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type ValueInfo,
} from '../onnx/types';
import {
  CUSTOM_CODE_ATTRIBUTE,
  TFLITE_DOMAIN,
  floatAttribute,
  intAttribute,
  intsAttribute,
  stringAttribute,
} from './attributes';
import { rememberQuantization } from './quantization';
import { MAX_DENSE_BYTES, densifySparse, rememberSparse, sparseIndexBytes } from './sparse';
import {
  TensorType,
  type BuiltinOptions,
  type Operator,
  type Quantization,
  type Subgraph,
  type Tensor as TfliteTensor,
  type TfliteModel,
} from './types';

/** What the translation keeps of the TFLite file besides the graph (the arena planner's input). */
export interface TfliteExtras {
  readonly model: TfliteModel;
  /** The subgraph translated: always 0, the model's entry. */
  readonly subgraph: number;
  /** Subgraphs besides the entry (IF/WHILE bodies): not translated, their ops counted opaque. */
  readonly otherSubgraphs: number;
  /** The translated name of each tensor of the subgraph, by tensor index. */
  readonly tensorNames: readonly string[];
  /** Quantization parameters by translated tensor name. */
  readonly quantization: ReadonlyMap<string, Quantization>;
  readonly variableTensors: readonly string[];
  readonly scratchTensors: readonly string[];
}

export interface TranslatedModel {
  readonly model: Model;
  readonly tflite: TfliteExtras;
}

/** TFLite TensorType → ONNX DataType; RESOURCE and VARIANT have none (UNDEFINED). */
const DATA_TYPES: Readonly<Record<number, DataType>> = {
  [TensorType.FLOAT32]: DataType.FLOAT,
  [TensorType.FLOAT16]: DataType.FLOAT16,
  [TensorType.INT32]: DataType.INT32,
  [TensorType.UINT8]: DataType.UINT8,
  [TensorType.INT64]: DataType.INT64,
  [TensorType.STRING]: DataType.STRING,
  [TensorType.BOOL]: DataType.BOOL,
  [TensorType.INT16]: DataType.INT16,
  [TensorType.COMPLEX64]: DataType.COMPLEX64,
  [TensorType.INT8]: DataType.INT8,
  [TensorType.FLOAT64]: DataType.DOUBLE,
  [TensorType.COMPLEX128]: DataType.COMPLEX128,
  [TensorType.UINT64]: DataType.UINT64,
  [TensorType.UINT32]: DataType.UINT32,
  [TensorType.UINT16]: DataType.UINT16,
  [TensorType.INT4]: DataType.INT4,
  [TensorType.BFLOAT16]: DataType.BFLOAT16,
  [TensorType.INT2]: DataType.INT2,
};

export function dataTypeOf(type: TensorType): DataType {
  return DATA_TYPES[type] ?? DataType.UNDEFINED;
}

/**
 * The largest state tensor made of zeros here (64 MiB): past any microcontroller's memory and any
 * real RNN/SVDF/LSTM state, and small enough to make and summarise in well under a second.
 */
const MAX_STATE_BYTES = 2 ** 26;

/** The custom_code CUSTOM operators carry; the builtin code of CUSTOM is 32. */
const CUSTOM = 32;

export function translateTflite(tflite: TfliteModel, label = 'model'): TranslatedModel {
  const subgraph = tflite.subgraphs[0];
  if (!subgraph) throw new ModelLoadError(`${label}: the TensorFlow Lite model has no subgraph`);
  const names = tensorNames(subgraph);
  const quantization = new Map<string, Quantization>();
  const initializers: Tensor[] = [];
  const constants = new Set<number>();
  const variables: string[] = [];
  const emitted = new Set<string>();

  for (const t of subgraph.tensors) {
    const name = names[t.index];
    if (t.quantization && !quantization.has(name)) quantization.set(name, t.quantization);
    const constant = isConstant(t) || t.isVariable;
    if (!constant) continue;
    constants.add(t.index);
    if (t.isVariable) variables.push(name);
    if (emitted.has(name)) continue;
    emitted.add(name);
    const tensor = initializer(t, name, tflite, label);
    if (t.quantization) rememberQuantization(tensor, t.quantization);
    initializers.push(tensor);
  }

  const produced = new Set<number>();
  for (const op of subgraph.operators) for (const o of op.outputs) if (o >= 0) produced.add(o);
  const graphInputs = new Set(subgraph.inputs);
  const scratchOwner = new Map<number, number>();
  for (const op of subgraph.operators) {
    for (const i of op.inputs) {
      if (i < 0 || produced.has(i) || constants.has(i) || graphInputs.has(i)) continue;
      if (!scratchOwner.has(i)) scratchOwner.set(i, op.index);
    }
  }

  const nodeNames = new Set<string>();
  const nodes = subgraph.operators.map((op) => operatorNode(op, names, scratchOwner, nodeNames));
  const valueInfo: ValueInfo[] = [];
  for (const t of subgraph.tensors) {
    if (constants.has(t.index) || graphInputs.has(t.index)) continue;
    valueInfo.push(valueInfoOf(t, names[t.index]));
  }
  const graph: Graph = {
    name: subgraph.name || 'main',
    nodes,
    initializers,
    sparseInitializers: [],
    inputs: subgraph.inputs.map((i) => valueInfoOf(subgraph.tensors[i], names[i])),
    outputs: subgraph.outputs.map((i) => valueInfoOf(subgraph.tensors[i], names[i])),
    valueInfo,
    docString: '',
    extra: [],
  };
  const model: Model = {
    // No ONNX IR: 0 tells validate.ts not to look for an ai.onnx opset, and the report that
    // there is none; the schema version stands as the `tflite` domain's opset.
    irVersion: 0,
    producerName: tflite.description || 'TensorFlow Lite',
    producerVersion: tflite.minRuntimeVersion ? `(runtime ≥ ${tflite.minRuntimeVersion})` : '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graph,
    opsetImport: [{ domain: TFLITE_DOMAIN, version: tflite.version, extra: [] }],
    metadataProps: [],
    functions: [],
    extra: [],
  };
  return {
    model,
    tflite: {
      model: tflite,
      subgraph: 0,
      otherSubgraphs: tflite.subgraphs.length - 1,
      tensorNames: names,
      quantization,
      variableTensors: variables,
      scratchTensors: [...scratchOwner.keys()].map((i) => names[i]),
    },
  };
}

/** A constant: data in the file (or beside it, schema 3d) for a tensor the runtime never writes. */
function isConstant(t: TfliteTensor): boolean {
  return !t.isVariable && (t.buffer.data.length > 0 || t.externalBufferId !== 0);
}

/**
 * Unique, readable names: the tensor's own name, suffixed with its index when empty or taken.
 * A constant that names the same buffer as an earlier one with the same type and shape takes
 * that one's name: one initializer, so a shared weight counts once (conventions.md "Params").
 */
function tensorNames(subgraph: Subgraph): string[] {
  const names: string[] = [];
  const used = new Set<string>();
  const byBuffer = new Map<number, TfliteTensor>();
  for (const t of subgraph.tensors) {
    if (isConstant(t) && t.externalBufferId === 0) {
      const first = byBuffer.get(t.bufferIndex);
      if (first && first.type === t.type && sameShape(first.shape, t.shape)) {
        names.push(names[first.index]);
        continue;
      }
      if (!first) byBuffer.set(t.bufferIndex, t);
    }
    let name = t.name || `tensor_${t.index}`;
    if (used.has(name)) name = `${name}_${t.index}`;
    for (let k = 2; used.has(name); k++) name = `${t.name || 'tensor'}_${t.index}_${k}`;
    used.add(name);
    names.push(name);
  }
  return names;
}

/** A name from the file in a one-line message: its line breaks as spaces. */
function quoted(name: string): string {
  return `'${name.replace(/[\r\n\u2028\u2029]+/g, ' ')}'`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function initializer(t: TfliteTensor, name: string, tflite: TfliteModel, label: string): Tensor {
  const dataType = dataTypeOf(t.type);
  const dims = [...t.shape];
  const base = { name, dataType, dims, externalEntries: [], docString: '', extra: [] };
  if (t.externalBufferId !== 0) {
    const ext = tflite.externalBuffers.find((b) => b.id === t.externalBufferId);
    const location = ext ? tflite.externalBufferGroups[ext.group] : undefined;
    if (!ext || location === undefined) {
      throw new ModelLoadError(
        `${label}: tensor ${quoted(name)} names external buffer ${t.externalBufferId}, which the model does not list`,
      );
    }
    // ONNX external data (onnx/externalData.ts) reads the side file, with its path checks.
    return {
      ...base,
      dataLocation: 1,
      external: { location, offset: ext.offset, length: ext.length },
    };
  }
  const need = storageBytes(dataType, elementCount(dims));
  if (t.buffer.data.length === 0) {
    // A variable tensor without an initial value: TFLM starts it at zero. Its zeros are made
    // here, so its size must be one memory can hold: a negative dim or an absurd size is refused.
    if (dims.some((d) => d < 0) || !Number.isSafeInteger(need) || need > MAX_STATE_BYTES) {
      throw new ModelLoadError(
        `${label}: variable tensor ${quoted(name)} [${dims.join(', ')}] ${dims.some((d) => d < 0) ? 'has a negative dimension' : `needs ${need} bytes of state; Model Lens reads state tensors up to ${MAX_STATE_BYTES / 2 ** 20} MiB`}`,
      );
    }
    return { ...base, dataLocation: 0, rawData: new Uint8Array(need) };
  }
  if (t.sparsity && dataType !== DataType.STRING) return sparseInitializer(t, base, tflite, label);
  if (dataType !== DataType.STRING && t.buffer.data.length !== need) {
    throw new ModelLoadError(
      `${label}: tensor ${quoted(name)} [${dims.join(', ')}] needs ${need} bytes but its buffer ${t.bufferIndex} holds ${t.buffer.data.length}`,
    );
  }
  return { ...base, dataLocation: 0, rawData: t.buffer.data };
}

/**
 * A sparse constant, densified. Densification happens here, eagerly, for tensors up to
 * MAX_DENSE_BYTES dense: a lazy one (on first read of the values) would not save anything, since
 * validate.ts checks every initializer's byte length and shape inference folds small constants
 * before any figure is made, and a Tensor's rawData is a plain Uint8Array. A tensor whose metadata
 * is malformed (or whose values are sub-byte or strings) keeps its dense shape, so shapes and MACs
 * still hold, with zeros for values and the reason remembered (`unreadable`): its figures that
 * need values (bit-width hints) are then unknown, with a diagnostic (cost/nodeFigures.ts). A
 * dense form past MAX_DENSE_BYTES is refused in one line, as a huge state tensor is: zeros of
 * that size would be the very allocation the cap is there to prevent.
 */
function sparseInitializer(
  t: TfliteTensor,
  base: Omit<Tensor, 'dataLocation'>,
  tflite: TfliteModel,
  label: string,
): Tensor {
  const sparsity = t.sparsity!;
  const values = t.buffer.data;
  const bits = dtypeBits(base.dataType);
  const elementBytes = bits > 0 && bits % 8 === 0 ? bits / 8 : 0;
  const densified = densifySparse(base.dims, sparsity, values, elementBytes);
  const denseElements = base.dims.every((d) => Number.isSafeInteger(d) && d >= 0)
    ? elementCount(base.dims)
    : NaN;
  const need = storageBytes(base.dataType, denseElements);
  const blockShape = densified.layout?.blockShape;
  const storage = {
    valueBytes: values.length,
    indexBytes: sparseIndexBytes(tflite.bytes, 0, t.index, sparsity),
    storedValues: elementBytes > 0 ? Math.floor(values.length / elementBytes) : 0,
    denseElements,
    ...(blockShape && { blockShape }),
  };
  let tensor: Tensor;
  if (densified.ok) {
    tensor = { ...base, dataLocation: 0, rawData: densified.dense };
    rememberSparse(tensor, storage);
    return tensor;
  }
  if (!Number.isSafeInteger(need) || need > MAX_DENSE_BYTES) {
    throw new ModelLoadError(
      `${label}: sparse tensor ${quoted(base.name)} [${base.dims.join(', ')}] ${Number.isSafeInteger(need) ? `is ${need} bytes dense; Model Lens densifies sparse tensors up to ${MAX_DENSE_BYTES / 2 ** 20} MiB` : 'has an impossible shape'}`,
    );
  }
  tensor = { ...base, dataLocation: 0, rawData: new Uint8Array(need) };
  rememberSparse(tensor, { ...storage, unreadable: densified.reason });
  return tensor;
}

function valueInfoOf(t: TfliteTensor, name: string): ValueInfo {
  // Files from converters before has_rank existed leave it unset; a non-empty shape is a rank.
  const rankKnown = t.hasRank || t.shape.length > 0;
  return {
    name,
    type: {
      kind: 'tensor',
      elemType: dataTypeOf(t.type),
      shape: rankKnown ? [...t.shape] : undefined,
      extra: [],
    },
    docString: '',
    extra: [],
  };
}

function operatorNode(
  op: Operator,
  names: readonly string[],
  scratchOwner: ReadonlyMap<number, number>,
  nodeNames: Set<string>,
): Node {
  const custom = op.opcode.builtinCode === CUSTOM;
  const opType = custom ? op.opcode.customCode || 'CUSTOM' : op.opcode.builtinName;
  const scratch: string[] = [];
  const inputs = op.inputs.map((i) => {
    if (i < 0) return '';
    if (scratchOwner.has(i)) {
      if (scratchOwner.get(i) !== op.index) return names[i];
      // Read twice (ADD(t, t)), written once: one output.
      if (!scratch.includes(names[i])) scratch.push(names[i]);
      return '';
    }
    return names[i];
  });
  const outputs = [...op.outputs.map((o) => (o < 0 ? '' : names[o])), ...scratch];
  let name = outputs[0] || `${opType}_${op.index}`;
  if (!outputs[0] || nodeNames.has(name)) {
    // Output names are unique among tensors; an op without one is named by type and position.
    name = `${opType}_${op.index}`;
    for (let k = 2; nodeNames.has(name); k++) name = `${opType}_${op.index}_${k}`;
  }
  nodeNames.add(name);
  const attributes = optionAttributes(op.builtinOptions);
  if (custom) attributes.push(stringAttribute(CUSTOM_CODE_ATTRIBUTE, op.opcode.customCode ?? ''));
  return {
    name,
    opType,
    domain: TFLITE_DOMAIN,
    inputs,
    outputs,
    attributes,
    docString: '',
    extra: [],
  };
}

/** The options the shape rules and costs read, as attributes named after the schema's fields. */
function optionAttributes(options: BuiltinOptions | undefined): Attribute[] {
  if (!options) return [];
  const attrs: Attribute[] = [];
  const int = (name: string, v: number | boolean): void => {
    attrs.push(intAttribute(name, typeof v === 'boolean' ? Number(v) : v));
  };
  const str = (name: string, v: string): void => {
    attrs.push(stringAttribute(name, v));
  };
  switch (options.kind) {
    case 'Conv2DOptions':
    case 'DepthwiseConv2DOptions':
      str('padding', options.padding);
      int('stride_h', options.strideH);
      int('stride_w', options.strideW);
      int('dilation_h_factor', options.dilationH);
      int('dilation_w_factor', options.dilationW);
      if (options.kind === 'DepthwiseConv2DOptions')
        int('depth_multiplier', options.depthMultiplier);
      str('fused_activation_function', options.fusedActivation);
      break;
    case 'Conv3DOptions':
      str('padding', options.padding);
      int('stride_d', options.strideD);
      int('stride_h', options.strideH);
      int('stride_w', options.strideW);
      int('dilation_d_factor', options.dilationD);
      int('dilation_h_factor', options.dilationH);
      int('dilation_w_factor', options.dilationW);
      str('fused_activation_function', options.fusedActivation);
      break;
    case 'Pool2DOptions':
      str('padding', options.padding);
      int('stride_h', options.strideH);
      int('stride_w', options.strideW);
      int('filter_height', options.filterHeight);
      int('filter_width', options.filterWidth);
      str('fused_activation_function', options.fusedActivation);
      break;
    case 'FullyConnectedOptions':
      str('fused_activation_function', options.fusedActivation);
      str('weights_format', options.weightsFormat);
      int('keep_num_dims', options.keepNumDims);
      break;
    case 'TransposeConvOptions':
      str('padding', options.padding);
      int('stride_h', options.strideH);
      int('stride_w', options.strideW);
      str('fused_activation_function', options.fusedActivation);
      break;
    case 'BatchMatMulOptions':
      int('adj_x', options.adjX);
      int('adj_y', options.adjY);
      break;
    case 'SVDFOptions':
      int('rank', options.rank);
      str('fused_activation_function', options.fusedActivation);
      break;
    case 'SequenceRNNOptions':
      int('time_major', options.timeMajor);
      str('fused_activation_function', options.fusedActivation);
      break;
    case 'UnidirectionalSequenceLSTMOptions':
      int('time_major', options.timeMajor);
      str('fused_activation_function', options.fusedActivation);
      attrs.push(floatAttribute('cell_clip', options.cellClip));
      attrs.push(floatAttribute('proj_clip', options.projClip));
      break;
    case 'ReshapeOptions':
      if (options.newShape) attrs.push(intsAttribute('new_shape', options.newShape));
      break;
    case 'SoftmaxOptions':
      attrs.push(floatAttribute('beta', options.beta));
      break;
    case 'ConcatenationOptions':
      int('axis', options.axis);
      str('fused_activation_function', options.fusedActivation);
      break;
    case 'AddOptions':
    case 'SubOptions':
    case 'MulOptions':
    case 'DivOptions':
      str('fused_activation_function', options.fusedActivation);
      break;
    case 'other':
      break;
  }
  return attrs;
}
