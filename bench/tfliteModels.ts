/**
 * Writes the TFLite benchmark models to bench/.models/ (git-ignored): a ~100 MB float32 conv/FC
 * stack and a ~100 MB int8 one (per-channel conv weights, per-tensor FC weights, int32 biases,
 * int8 activations, as the TFLite converter writes a full-integer model), laid out as the
 * converter lays out a model under 2 GB: every buffer inline in the flatbuffer, 16-byte aligned.
 *
 *   npx tsx bench/tfliteModels.ts [OUT_DIR]      prints one JSON line per model
 *
 * Written with the reference `flatbuffers` Builder, field ids as in schema.fbs (the same as
 * test/helpers/tfliteBuilder.ts, whose byte-at-a-time buffers would take seconds at 100 MB).
 * Weights are seeded pseudo-random. A file that already exists with the expected size is kept.
 */
import { Builder } from 'flatbuffers';
import * as fs from 'node:fs';
import * as path from 'node:path';

type Offset = number;

/** TensorType, BuiltinOperator and BuiltinOptions numbers (schema.fbs). */
const TYPE = { FLOAT32: 0, INT32: 2, INT8: 9 } as const;
const OP = { CONV_2D: 3, FULLY_CONNECTED: 9, RESHAPE: 22 } as const;
const OPTIONS = { Conv2D: 1, FullyConnected: 8, Reshape: 17 } as const;
const SAME = 0;
const RELU = 1;

interface Quant {
  scale: number[];
  zeroPoint: number[];
  axis?: number;
}

interface TensorDef {
  name: string;
  shape: number[];
  type: number;
  /** Index into the buffers (0: the empty sentinel, a run-time tensor). */
  buffer: number;
  quant?: Quant;
}

interface OperatorDef {
  opcode: number;
  inputs: number[];
  outputs: number[];
  optionsType: number;
  options: (b: Builder) => Offset;
}

/** Supplies a constant's bytes: `count` elements of `type`, fan-in `fanIn` for the scale. */
type DataSource = (type: number, count: number, fanIn: number) => Uint8Array;

class TfliteGraph {
  readonly tensors: TensorDef[] = [];
  readonly operators: OperatorDef[] = [];
  readonly buffers: Uint8Array[] = [new Uint8Array(0)];
  readonly opcodes: number[] = [];
  params = 0;
  weightBytes = 0;

  constructor(private readonly data: DataSource) {}

  tensor(def: Omit<TensorDef, 'buffer'>, buffer = 0): number {
    this.tensors.push({ ...def, buffer });
    return this.tensors.length - 1;
  }

  constant(
    name: string,
    shape: number[],
    type: number,
    fanIn: number,
    quant?: Quant,
    bytes?: Uint8Array,
  ): number {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = bytes ?? this.data(type, count, fanIn);
    this.buffers.push(data);
    this.params += count;
    this.weightBytes += data.length;
    return this.tensor({ name, shape, type, quant }, this.buffers.length - 1);
  }

  op(code: number, def: Omit<OperatorDef, 'opcode'>): void {
    let index = this.opcodes.indexOf(code);
    if (index < 0) index = this.opcodes.push(code) - 1;
    this.operators.push({ ...def, opcode: index });
  }

  /** The model as a flatbuffer with every buffer inline and 16-byte aligned. */
  encode(description: string): Uint8Array {
    const total = this.buffers.reduce((n, d) => n + d.length + 32, 0);
    const b = new Builder(total + 64 * 1024);
    // Buffers first (the Builder writes back to front): the big payloads, then the tables.
    const bufferTables = this.buffers.map((data) => {
      let vector = 0;
      if (data.length > 0) {
        b.prep(16, data.length); // the payload starts 16-byte aligned, as TFLite Micro wants
        vector = b.createByteVector(data);
      }
      b.startObject(3);
      b.addFieldOffset(0, vector, 0);
      return b.endObject();
    });
    const tensors = this.tensors.map((t) => {
      const shape = int32s(b, t.shape);
      const name = b.createString(t.name);
      const quant = t.quant ? quantization(b, t.quant) : 0;
      b.startObject(5);
      b.addFieldOffset(0, shape, 0);
      b.addFieldInt8(1, t.type, null);
      b.addFieldInt32(2, t.buffer, null);
      b.addFieldOffset(3, name, 0);
      b.addFieldOffset(4, quant, 0);
      return b.endObject();
    });
    const operators = this.operators.map((o) => {
      const inputs = int32s(b, o.inputs);
      const outputs = int32s(b, o.outputs);
      const options = o.options(b);
      b.startObject(5);
      b.addFieldInt32(0, o.opcode, null);
      b.addFieldOffset(1, inputs, 0);
      b.addFieldOffset(2, outputs, 0);
      b.addFieldInt8(3, o.optionsType, null);
      b.addFieldOffset(4, options, 0);
      return b.endObject();
    });
    const tensorVector = offsets(b, tensors);
    const operatorVector = offsets(b, operators);
    const inputs = int32s(b, [0]);
    const outputs = int32s(b, [this.operators.at(-1)!.outputs[0]]);
    const subgraphName = b.createString('main');
    b.startObject(5);
    b.addFieldOffset(0, tensorVector, 0);
    b.addFieldOffset(1, inputs, 0);
    b.addFieldOffset(2, outputs, 0);
    b.addFieldOffset(3, operatorVector, 0);
    b.addFieldOffset(4, subgraphName, 0);
    const subgraph = b.endObject();
    const codes = this.opcodes.map((code) => {
      b.startObject(4);
      b.addFieldInt8(0, code, null); // deprecated_builtin_code: the same below 127
      b.addFieldInt32(2, 1, null);
      b.addFieldInt32(3, code, null);
      return b.endObject();
    });
    const codeVector = offsets(b, codes);
    const subgraphVector = offsets(b, [subgraph]);
    const bufferVector = offsets(b, bufferTables);
    const text = b.createString(description);
    b.startObject(5);
    b.addFieldInt32(0, 3, null);
    b.addFieldOffset(1, codeVector, 0);
    b.addFieldOffset(2, subgraphVector, 0);
    b.addFieldOffset(3, text, 0);
    b.addFieldOffset(4, bufferVector, 0);
    b.finish(b.endObject(), 'TFL3');
    return b.asUint8Array();
  }
}

function int32s(b: Builder, values: readonly number[]): Offset {
  b.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) b.addInt32(values[i]);
  return b.endVector();
}

function offsets(b: Builder, items: readonly Offset[]): Offset {
  b.startVector(4, items.length, 4);
  for (let i = items.length - 1; i >= 0; i--) b.addOffset(items[i]);
  return b.endVector();
}

function quantization(b: Builder, q: Quant): Offset {
  b.startVector(4, q.scale.length, 4);
  for (let i = q.scale.length - 1; i >= 0; i--) b.addFloat32(q.scale[i]);
  const scale = b.endVector();
  b.startVector(8, q.zeroPoint.length, 8);
  for (let i = q.zeroPoint.length - 1; i >= 0; i--) b.addInt64(BigInt(q.zeroPoint[i]));
  const zeroPoint = b.endVector();
  b.startObject(7);
  b.addFieldOffset(2, scale, 0);
  b.addFieldOffset(3, zeroPoint, 0);
  if (q.axis !== undefined) b.addFieldInt32(6, q.axis, null);
  return b.endObject();
}

function conv2dOptions(stride: number, activation: number): (b: Builder) => Offset {
  return (b) => {
    b.startObject(4);
    b.addFieldInt8(0, SAME, null);
    b.addFieldInt32(1, stride, null);
    b.addFieldInt32(2, stride, null);
    b.addFieldInt8(3, activation, null);
    return b.endObject();
  };
}

function fullyConnectedOptions(activation: number): (b: Builder) => Offset {
  return (b) => {
    b.startObject(1);
    b.addFieldInt8(0, activation, null);
    return b.endObject();
  };
}

function reshapeOptions(shape: readonly number[]): (b: Builder) => Offset {
  return (b) => {
    const vector = int32s(b, shape);
    b.startObject(1);
    b.addFieldOffset(0, vector, 0);
    return b.endObject();
  };
}

/** Conv layers (cout, stride), 3×3 SAME with ReLU, then Reshape and FC layers (the last plain). */
interface Topology {
  input: [number, number, number, number];
  convs: [number, number][];
  fcs: number[];
}

/** ~100 MB of float32: 24.9 M parameters, a small VGG-like trunk feeding a wide classifier. */
const FLOAT_TOPOLOGY: Topology = {
  input: [1, 64, 64, 3],
  convs: [
    [64, 1],
    [128, 2],
    [256, 2],
    [512, 2],
    [512, 2],
  ],
  fcs: [2048, 2048, 10],
};

/** ~100 MB of int8: 94 M parameters. */
const INT8_TOPOLOGY: Topology = {
  input: [1, 64, 64, 3],
  convs: [
    [64, 1],
    [128, 2],
    [256, 2],
    [512, 2],
    [1024, 2],
  ],
  fcs: [4096, 4096, 1000],
};

/** The network of `topology` in float32 or full-integer int8. */
function network(topology: Topology, int8: boolean, data: DataSource): TfliteGraph {
  const g = new TfliteGraph(data);
  const act = int8 ? TYPE.INT8 : TYPE.FLOAT32;
  // Activations: int8 with a scale and zero point (-128 after a ReLU, as the converter gives).
  const actQuant = (zeroPoint: number): Quant | undefined =>
    int8 ? { scale: [0.05], zeroPoint: [zeroPoint] } : undefined;
  const inScale = 0.05;
  let shape = [...topology.input];
  let x = g.tensor({ name: 'input', shape, type: act, quant: actQuant(0) });
  topology.convs.forEach(([cout, stride], i) => {
    const cin = shape[3];
    const fanIn = cin * 9;
    const scope = `model/conv${i + 1}`;
    const wScales = Array.from({ length: cout }, (_, c) => (0.5 + ((c * 37) % 50) / 50) / 127);
    const w = g.constant(
      `${scope}/kernel`,
      [cout, 3, 3, cin],
      int8 ? TYPE.INT8 : TYPE.FLOAT32,
      fanIn,
      int8 ? { scale: wScales, zeroPoint: wScales.map(() => 0), axis: 0 } : undefined,
    );
    const bias = g.constant(
      `${scope}/bias`,
      [cout],
      int8 ? TYPE.INT32 : TYPE.FLOAT32,
      fanIn,
      int8
        ? { scale: wScales.map((s) => s * inScale), zeroPoint: wScales.map(() => 0), axis: 0 }
        : undefined,
    );
    shape = [1, Math.ceil(shape[1] / stride), Math.ceil(shape[2] / stride), cout];
    const y = g.tensor({ name: `${scope}/Relu`, shape, type: act, quant: actQuant(-128) });
    g.op(OP.CONV_2D, {
      inputs: [x, w, bias],
      outputs: [y],
      optionsType: OPTIONS.Conv2D,
      options: conv2dOptions(stride, RELU),
    });
    x = y;
  });
  const flat = shape[1] * shape[2] * shape[3];
  const target = g.constant(
    'model/flatten/shape',
    [2],
    TYPE.INT32,
    1,
    undefined,
    new Uint8Array(new Int32Array([1, flat]).buffer),
  );
  const flattened = g.tensor({
    name: 'model/flatten/Reshape',
    shape: [1, flat],
    type: act,
    quant: actQuant(-128),
  });
  g.op(OP.RESHAPE, {
    inputs: [x, target],
    outputs: [flattened],
    optionsType: OPTIONS.Reshape,
    options: reshapeOptions([1, flat]),
  });
  x = flattened;
  let features = flat;
  topology.fcs.forEach((units, i) => {
    const scope = `model/dense${i + 1}`;
    const last = i === topology.fcs.length - 1;
    const wScale = 1 / Math.sqrt(features) / 127;
    const w = g.constant(
      `${scope}/kernel`,
      [units, features],
      int8 ? TYPE.INT8 : TYPE.FLOAT32,
      features,
      int8 ? { scale: [wScale], zeroPoint: [0] } : undefined,
    );
    const bias = g.constant(
      `${scope}/bias`,
      [units],
      int8 ? TYPE.INT32 : TYPE.FLOAT32,
      features,
      int8 ? { scale: [wScale * inScale], zeroPoint: [0] } : undefined,
    );
    const y = g.tensor({
      name: last ? 'logits' : `${scope}/Relu`,
      shape: [1, units],
      type: act,
      quant: actQuant(last ? 0 : -128),
    });
    g.op(OP.FULLY_CONNECTED, {
      inputs: [x, w, bias],
      outputs: [y],
      optionsType: OPTIONS.FullyConnected,
      options: fullyConnectedOptions(last ? 0 : RELU),
    });
    x = y;
    features = units;
  });
  return g;
}

/**
 * Seeded weights: float32 uniform in ±1/√fanIn (PyTorch's default init scale), int8 uniform in
 * [-127, 127], int32 biases small. xorshift32, written straight into the typed array.
 */
function randomData(seed: number): DataSource {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  return (type, count, fanIn) => {
    if (type === TYPE.INT8) {
      const out = new Int8Array(count);
      for (let i = 0; i < count; i++) out[i] = (next() % 255) - 127;
      return new Uint8Array(out.buffer);
    }
    if (type === TYPE.INT32) {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = (next() % 2001) - 1000;
      return new Uint8Array(out.buffer);
    }
    const out = new Float32Array(count);
    const bound = 1 / Math.sqrt(fanIn);
    const scale = (2 * bound) / 4294967296;
    for (let i = 0; i < count; i++) out[i] = next() * scale - bound;
    return new Uint8Array(out.buffer);
  };
}

/** Zero payloads of the right lengths: the file size without generating anything. */
function placeholderData(): DataSource {
  let shared = new Uint8Array(0);
  return (type, count) => {
    const bytes = count * (type === TYPE.INT8 ? 1 : 4);
    if (shared.length < bytes) shared = new Uint8Array(bytes);
    return shared.subarray(0, bytes);
  };
}

export interface GeneratedTflite {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly params: number;
  readonly weightBytes: number;
  readonly operators: number;
  /** Wall time to generate and write, or 0 when an up-to-date file was kept. */
  readonly ms: number;
  readonly reused: boolean;
}

const GENERATORS: { name: string; seed: number; topology: Topology; int8: boolean }[] = [
  { name: 'tflite-float32-100mb', seed: 13, topology: FLOAT_TOPOLOGY, int8: false },
  { name: 'tflite-int8-100mb', seed: 8, topology: INT8_TOPOLOGY, int8: true },
];

export function generateTfliteModels(outDir: string): GeneratedTflite[] {
  fs.mkdirSync(outDir, { recursive: true });
  return GENERATORS.map((gen) => {
    const file = path.join(outDir, `${gen.name}.tflite`);
    const description = `model-lens bench ${gen.name}`;
    const shape = network(gen.topology, gen.int8, placeholderData());
    const bytes = shape.encode(description).length;
    const summary = {
      name: gen.name,
      file,
      bytes,
      params: shape.params,
      weightBytes: shape.weightBytes,
      operators: shape.operators.length,
    };
    if (fs.existsSync(file) && fs.statSync(file).size === bytes) {
      return { ...summary, ms: 0, reused: true };
    }
    const start = performance.now();
    const encoded = network(gen.topology, gen.int8, randomData(gen.seed)).encode(description);
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, encoded);
    fs.renameSync(temp, file);
    const ms = performance.now() - start;
    if (encoded.length !== bytes)
      throw new Error(`${file}: wrote ${encoded.length}, expected ${bytes}`);
    return { ...summary, ms, reused: false };
  });
}

function main(): void {
  const outDir = path.resolve(process.argv[2] ?? path.join('bench', '.models'));
  for (const r of generateTfliteModels(outDir)) console.log(JSON.stringify(r));
}

if (require.main === module) main();
