/**
 * Writes the benchmark models to bench/.models/ (git-ignored): a ResNet-50 (~100 MB), a
 * VGG-16 (~550 MB), and two wide MLPs of 1.9 GB (one file) and 3 GB (external data, the weights
 * in `mlp-3gb-external.onnx.data`), the first two with the torchvision topologies as `torch.onnx.export` writes them at opset 13
 * (BatchNorm folded into Conv biases, initializers not listed as graph inputs).
 *
 *   npx tsx bench/models.ts [OUT_DIR]      prints one JSON line per model
 *
 * Weights are seeded pseudo-random floats written straight into one Float32Array per tensor;
 * the encoder references those buffers and `saveModelFile` streams them, so the generator holds
 * exactly one copy of the weights. A file that already exists with the expected size is kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeModelParts } from '../src/core/onnx/encode';
import { saveModelFile } from '../src/core/onnx/load';
import {
  AttributeType,
  DataType,
  type Attribute,
  type Model,
  type Node,
  type Tensor,
  type ValueInfo,
} from '../src/core/onnx/types';

/** Supplies the bytes of a float32 weight with `count` elements and fan-in `fanIn`. */
type WeightSource = (count: number, fanIn: number) => Uint8Array;

function ints(name: string, values: readonly number[]): Attribute {
  return {
    extra: [],
    name,
    type: AttributeType.INTS,
    ints: [...values],
    floats: [],
    strings: [],
    tensors: [],
    graphs: [],
  };
}

function int(name: string, value: number): Attribute {
  return {
    extra: [],
    name,
    type: AttributeType.INT,
    i: value,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
  };
}

function flt(name: string, value: number): Attribute {
  return {
    extra: [],
    name,
    type: AttributeType.FLOAT,
    f: value,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
  };
}

function tensorValue(name: string, dims: readonly number[]): ValueInfo {
  return {
    extra: [],
    name,
    docString: '',
    type: { extra: [], kind: 'tensor', elemType: DataType.FLOAT, shape: [...dims] },
  };
}

/** Accumulates nodes and initializers with exporter-style names. */
class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  params = 0;
  /** Disambiguates node names that share a scope (a bottleneck's three ReLUs). */
  private counter = 0;

  constructor(private readonly weights: WeightSource) {}

  weight(name: string, dims: readonly number[], fanIn: number): string {
    const count = dims.reduce((a, b) => a * b, 1);
    this.params += count;
    this.initializers.push({
      extra: [],
      name,
      dataType: DataType.FLOAT,
      dims: [...dims],
      rawData: this.weights(count, fanIn),
      externalEntries: [],
      dataLocation: 0,
      docString: '',
    });
    return name;
  }

  node(
    opType: string,
    name: string,
    inputs: readonly string[],
    attributes: Attribute[] = [],
    output?: string,
  ): string {
    const out = output ?? `${name}_output_0`;
    this.nodes.push({
      extra: [],
      name,
      opType,
      domain: '',
      inputs: [...inputs],
      outputs: [out],
      attributes,
      docString: '',
    });
    return out;
  }

  /** Conv with a bias (BatchNorm folded in, as the exporter's constant folding leaves it). */
  conv(
    scope: string,
    x: string,
    cin: number,
    cout: number,
    k: number,
    stride: number,
    pad: number,
  ): string {
    const fanIn = cin * k * k;
    const w = this.weight(`${scope}.weight`, [cout, cin, k, k], fanIn);
    const b = this.weight(`${scope}.bias`, [cout], fanIn);
    return this.node(
      'Conv',
      `/${scope.replace(/\./g, '/')}/Conv`,
      [x, w, b],
      [
        ints('dilations', [1, 1]),
        int('group', 1),
        ints('kernel_shape', [k, k]),
        ints('pads', [pad, pad, pad, pad]),
        ints('strides', [stride, stride]),
      ],
    );
  }

  relu(scope: string, x: string): string {
    return this.node('Relu', `/${scope.replace(/\./g, '/')}/Relu_${this.counter++}`, [x]);
  }

  maxPool(scope: string, x: string, k: number, stride: number, pad: number): string {
    return this.node(
      'MaxPool',
      `/${scope.replace(/\./g, '/')}/MaxPool`,
      [x],
      [
        int('ceil_mode', 0),
        ints('kernel_shape', [k, k]),
        ints('pads', [pad, pad, pad, pad]),
        ints('strides', [stride, stride]),
      ],
    );
  }

  gemm(scope: string, x: string, cin: number, cout: number, output?: string): string {
    const w = this.weight(`${scope}.weight`, [cout, cin], cin);
    const b = this.weight(`${scope}.bias`, [cout], cin);
    return this.node(
      'Gemm',
      `/${scope}/Gemm`,
      [x, w, b],
      [flt('alpha', 1), flt('beta', 1), int('transB', 1)],
      output,
    );
  }

  model(name: string): Model {
    return {
      extra: [],
      irVersion: 7,
      producerName: 'pytorch',
      producerVersion: '1.13.1',
      domain: '',
      modelVersion: 0,
      docString: '',
      graph: {
        extra: [],
        name: 'torch_jit',
        nodes: this.nodes,
        initializers: this.initializers,
        sparseInitializers: [],
        inputs: [tensorValue('input', [1, 3, 224, 224])],
        outputs: [tensorValue('logits', [1, 1000])],
        valueInfo: [],
        docString: name,
      },
      opsetImport: [{ extra: [], domain: '', version: 13 }],
      metadataProps: [],
      functions: [],
    };
  }
}

/** torchvision resnet50: 7×7 stem, bottlenecks [3, 4, 6, 3], stride on the 3×3 conv (v1.5). */
function resnet50(weights: WeightSource): { model: Model; params: number } {
  const g = new GraphBuilder(weights);
  let x = g.conv('conv1', 'input', 3, 64, 7, 2, 3);
  x = g.relu('relu', x);
  x = g.maxPool('maxpool', x, 3, 2, 1);
  let cin = 64;
  const widths = [64, 128, 256, 512];
  const blocks = [3, 4, 6, 3];
  for (let l = 0; l < 4; l++) {
    const width = widths[l];
    const cout = width * 4;
    for (let b = 0; b < blocks[l]; b++) {
      const scope = `layer${l + 1}.${b}`;
      const stride = b === 0 && l > 0 ? 2 : 1;
      let y = g.conv(`${scope}.conv1`, x, cin, width, 1, 1, 0);
      y = g.relu(`${scope}.relu`, y);
      y = g.conv(`${scope}.conv2`, y, width, width, 3, stride, 1);
      y = g.relu(`${scope}.relu`, y);
      y = g.conv(`${scope}.conv3`, y, width, cout, 1, 1, 0);
      const shortcut = b === 0 ? g.conv(`${scope}.downsample.0`, x, cin, cout, 1, stride, 0) : x;
      const sum = g.node('Add', `/${scope.replace('.', '/')}/Add`, [y, shortcut]);
      x = g.relu(`${scope}.relu`, sum);
      cin = cout;
    }
  }
  x = g.node('GlobalAveragePool', '/avgpool/GlobalAveragePool', [x]);
  x = g.node('Flatten', '/Flatten', [x], [int('axis', 1)]);
  g.gemm('fc', x, 2048, 1000, 'logits');
  return { model: g.model('resnet50'), params: g.params };
}

/** torchvision vgg16 (configuration D): 13 convs 3×3, 5 max pools, classifier 25088→4096→4096→1000. */
function vgg16(weights: WeightSource): { model: Model; params: number } {
  const g = new GraphBuilder(weights);
  const cfg: (number | 'M')[] = [
    64,
    64,
    'M',
    128,
    128,
    'M',
    256,
    256,
    256,
    'M',
    512,
    512,
    512,
    'M',
    512,
    512,
    512,
    'M',
  ];
  let x = 'input';
  let cin = 3;
  cfg.forEach((c, i) => {
    if (c === 'M') {
      x = g.maxPool(`features.${i}`, x, 2, 2, 0);
    } else {
      x = g.conv(`features.${i}`, x, cin, c, 3, 1, 1);
      x = g.relu(`features.${i + 1}`, x);
      cin = c;
    }
  });
  // AdaptiveAvgPool2d((7, 7)) is the identity at 224×224 and the exporter drops it.
  x = g.node('Flatten', '/Flatten', [x], [int('axis', 1)]);
  x = g.gemm('classifier.0', x, 512 * 7 * 7, 4096);
  x = g.relu('classifier.1', x);
  x = g.gemm('classifier.3', x, 4096, 4096);
  x = g.relu('classifier.4', x);
  g.gemm('classifier.6', x, 4096, 1000, 'logits');
  return { model: g.model('vgg16'), params: g.params };
}

/**
 * A wide MLP at a given size: a 7×7 stride-2 Conv stem (3→64), GlobalAveragePool, Flatten, a
 * Gemm 64→8192, `hidden` Gemms 8192→8192 with ReLU (268 MB of float32 each), and a Gemm
 * 8192→1000: the shape of a model whose weights dwarf its graph (an LLM's projection stack).
 */
function wideMlp(hidden: number): (weights: WeightSource) => { model: Model; params: number } {
  return (weights) => {
    const g = new GraphBuilder(weights);
    let x = g.conv('stem', 'input', 3, 64, 7, 2, 3);
    x = g.relu('stem', x);
    x = g.node('GlobalAveragePool', '/pool/GlobalAveragePool', [x]);
    x = g.node('Flatten', '/Flatten', [x], [int('axis', 1)]);
    x = g.gemm('fc_in', x, 64, 8192);
    for (let i = 0; i < hidden; i++) {
      x = g.relu(`fc.${i}`, g.gemm(`fc.${i}`, x, 8192, 8192));
    }
    g.gemm('fc_out', x, 8192, 1000, 'logits');
    return { model: g.model(`mlp${hidden}`), params: g.params };
  };
}

/**
 * `model` with every initializer of at least 1 KiB moved to the side file `<file>.data`, at
 * 4 KiB-aligned offsets, as `onnx.save_model(…, save_as_external_data=True)` writes it.
 */
function saveWithExternalData(model: Model, file: string): void {
  const sideName = `${path.basename(file)}.data`;
  const fd = fs.openSync(path.join(path.dirname(file), sideName), 'w');
  let offset = 0;
  try {
    const initializers = model.graph.initializers.map((t): Tensor => {
      const bytes = t.rawData!;
      if (bytes.length < 1024) return t;
      const start = Math.ceil(offset / 4096) * 4096;
      for (let done = 0; done < bytes.length;) {
        done += fs.writeSync(fd, bytes, done, bytes.length - done, start + done);
      }
      offset = start + bytes.length;
      const entry = (key: string, value: string) => ({ extra: [], key, value });
      const { rawData: _raw, ...rest } = t;
      return {
        ...rest,
        external: { location: sideName, offset: start, length: bytes.length },
        externalEntries: [
          entry('location', sideName),
          entry('offset', String(start)),
          entry('length', String(bytes.length)),
        ],
        dataLocation: 1,
      };
    });
    saveModelFile({ ...model, graph: { ...model.graph, initializers } }, file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes of the side file saveWithExternalData writes for `model`. */
function sideFileSize(model: Model): number {
  let offset = 0;
  for (const t of model.graph.initializers) {
    if (t.rawData!.length < 1024) continue;
    offset = Math.ceil(offset / 4096) * 4096 + t.rawData!.length;
  }
  return offset;
}

/**
 * Seeded uniform floats in ±1/sqrt(fanIn) (the scale of PyTorch's default init), written
 * straight into a fresh Float32Array: xorshift32 in a tight loop, ~1 ns per element.
 */
function randomWeights(seed: number): WeightSource {
  let s = seed >>> 0 || 1;
  return (count, fanIn) => {
    const out = new Float32Array(count);
    const scale = 2 / Math.sqrt(fanIn) / 4294967296;
    const bound = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < count; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[i] = (s >>> 0) * scale - bound;
    }
    return new Uint8Array(out.buffer);
  };
}

/**
 * Stand-in weights for computing the file size without generating anything: every tensor is a
 * view of one zero-filled buffer that is never touched (calloc'd pages cost no memory), and the
 * encoder only needs payload lengths.
 */
function placeholderWeights(): WeightSource {
  let shared = new Uint8Array(0);
  return (count) => {
    if (shared.length < count * 4) shared = new Uint8Array(count * 4);
    return shared.subarray(0, count * 4);
  };
}

function encodedSize(model: Model): number {
  return encodeModelParts(model).reduce((n, p) => n + p.length, 0);
}

export interface GeneratedModel {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly params: number;
  /** Wall time to generate and write, or 0 when an up-to-date file was kept. */
  readonly ms: number;
  readonly reused: boolean;
}

const GENERATORS: {
  name: string;
  seed: number;
  build: (w: WeightSource) => { model: Model; params: number };
  /** Weights in a side file `<name>.onnx.data` (external data). */
  external?: boolean;
}[] = [
  { name: 'resnet50', seed: 50, build: resnet50 },
  { name: 'vgg16', seed: 16, build: vgg16 },
  // 1.9 GB in one file (under protobuf's 2 GiB), and 3 GB with external data.
  { name: 'mlp-1.9gb', seed: 19, build: wideMlp(7) },
  { name: 'mlp-3gb-external', seed: 30, build: wideMlp(11), external: true },
];

export function generateModels(outDir: string): GeneratedModel[] {
  fs.mkdirSync(outDir, { recursive: true });
  const results: GeneratedModel[] = [];
  for (const gen of GENERATORS) {
    const file = path.join(outDir, `${gen.name}.onnx`);
    const side = `${file}.data`;
    const { model: shape, params } = gen.build(placeholderWeights());
    const bytes = gen.external ? sideFileSize(shape) : encodedSize(shape);
    const sizeOf = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : -1);
    if (sizeOf(gen.external ? side : file) === bytes && sizeOf(file) > 0) {
      results.push({ name: gen.name, file, bytes, params, ms: 0, reused: true });
      continue;
    }
    const start = performance.now();
    const { model } = gen.build(randomWeights(gen.seed));
    if (gen.external) saveWithExternalData(model, file);
    else saveModelFile(model, file);
    const ms = performance.now() - start;
    const written = sizeOf(gen.external ? side : file);
    if (written !== bytes) throw new Error(`${file}: wrote ${written} bytes, expected ${bytes}`);
    results.push({ name: gen.name, file, bytes, params, ms, reused: false });
  }
  return results;
}

function main(): void {
  const outDir = path.resolve(process.argv[2] ?? path.join('bench', '.models'));
  for (const r of generateModels(outDir)) console.log(JSON.stringify(r));
}

main();
