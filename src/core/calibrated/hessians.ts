/**
 * H = XᵀX for each layer, from the layer's real inputs on calibration data: the matrix that
 * error-compensating rounding (GPTQ), calibrated pruning (SparseGPT) and least-squares
 * reconstruction all start from. A layer's output error for a weight change ΔW is
 * ‖ΔW Xᵀ‖² = tr(ΔW H ΔWᵀ), so H says which weight columns matter and how they interact.
 *
 * The model runs in ONNX Runtime as a copy that also outputs every layer's input (as
 * calibrate.ts observes activations). Each input becomes patch rows in JS (im2col.ts), and
 * the Gram product of each chunk runs in ONNX Runtime too: one small MatMul graph, whose MLAS
 * kernels are multi-threaded float32 BLAS, far faster than a JS triple loop at K in the
 * thousands. Sums are kept in float64 across chunks and samples.
 */
import { encodeModel } from '../onnx/encode';
import { makeAttribute, valueInfo } from '../onnx/build';
import type { LoadedModel } from '../onnx/load';
import { inlineExternalData } from '../onnx/relocate';
import { DataType, type Model } from '../onnx/types';
import { inputSpecs, ModelRunner, VerifyError } from '../verify';
import { calibrationSets, observingModel, type CalibrationOptions } from '../compress/calibrate';
import { makeNode } from '../compress/graphEdit';
import { patchChunks, type PatchChunk } from './im2col';
import type { LayerGeometry } from './layerGeometry';

export interface LayerHessian {
  readonly geometry: LayerGeometry;
  /** One columns × columns matrix per group, row-major, summed over every patch row. */
  readonly matrices: Float64Array[];
  /** Patch rows summed. */
  readonly rows: number;
}

export interface HessianTarget {
  /** The layer's label (node name, or the generated one). */
  readonly layer: string;
  readonly geometry: LayerGeometry;
}

export type HessianOptions = Pick<
  CalibrationOptions,
  'inputsDir' | 'sets' | 'samples' | 'seed' | 'inputShapes' | 'onProgress' | 'signal'
>;

function abortError(): Error {
  return new DOMException('calibration cancelled', 'AbortError');
}

/** Runs the calibration samples and returns H per layer label. */
export async function collectHessians(
  loaded: LoadedModel,
  targets: readonly HessianTarget[],
  options: HessianOptions = {},
): Promise<Map<string, LayerHessian>> {
  const { signal } = options;
  if (signal?.aborted) throw abortError();
  const specs = inputSpecs(loaded, options.inputShapes);
  const fed = new Set(specs.map((s) => s.name));
  const sets = calibrationSets(specs, options);
  const observed = [...new Set(targets.map((t) => t.geometry.input))].filter((t) => !fed.has(t));
  const model = runnable(observingModel(loaded.model, observed), loaded);
  const runner = await ModelRunner.create(encodeModel(model), 'calibration model');
  const gram = await GramProduct.create();
  const sums = new Map(
    targets.map((t) => [
      t.layer,
      {
        geometry: t.geometry,
        matrices: Array.from(
          { length: t.geometry.groups },
          () => new Float64Array(t.geometry.columns * t.geometry.columns),
        ),
        rows: 0,
      },
    ]),
  );
  const buffers = new Map(
    targets.map((t) => [t.layer, new RowBuffer(t.geometry, gram, sums.get(t.layer)!)]),
  );
  try {
    for (let i = 0; i < sets.length; i++) {
      if (signal?.aborted) throw abortError();
      const set = sets[i]();
      const outputs = observed.length > 0 ? await runner.run(set) : {};
      for (const target of targets) {
        const name = target.geometry.input;
        const x = fed.has(name)
          ? { data: Float32Array.from(set[name].data as ArrayLike<number>), dims: set[name].dims }
          : outputs[name];
        const pending = buffers.get(target.layer)!;
        let chunks: Generator<PatchChunk>;
        try {
          chunks = patchChunks(target.geometry, x.data, x.dims);
          for (let c = chunks.next(); !c.done; c = chunks.next()) await pending.add(c.value);
        } catch (e) {
          if (e instanceof VerifyError) throw e;
          throw new VerifyError(
            `calibration: layer '${target.layer}' got an input of shape [${x.dims.join(', ')}]: ${(e as Error).message}`,
          );
        }
      }
      options.onProgress?.(i + 1, sets.length);
    }
    for (const pending of buffers.values()) await pending.flush();
  } finally {
    await runner.release();
    await gram.release();
  }
  return sums;
}

/** ONNX Runtime gets the model as bytes, so side-file payloads are put back inside. */
function runnable(model: Model, loaded: LoadedModel): Model {
  return loaded.model.graph.initializers.some((t) => t.external)
    ? inlineExternalData(model, loaded.external)
    : model;
}

/**
 * Patch rows waiting for their Gram product. Rows of several samples go into one product: a
 * Gemm sees one row per image, and a product per image would return a whole K × K matrix each
 * time (K = 3,136 for a flattened 64×7×7 feature map) to add up in JS.
 */
class RowBuffer {
  private readonly capacity: number;
  private readonly data: Float32Array;
  private rows = 0;

  constructor(
    private readonly geometry: LayerGeometry,
    private readonly gram: GramProduct,
    private readonly sum: { matrices: Float64Array[]; rows: number },
  ) {
    const width = geometry.groups * geometry.columns;
    this.capacity = Math.max(1, Math.floor(BUFFER_ELEMENTS / width));
    this.data = new Float32Array(this.capacity * width);
  }

  /** Copies the chunk's rows in, taking the Gram product whenever the buffer fills. */
  async add(chunk: PatchChunk): Promise<void> {
    const { groups, columns } = this.geometry;
    for (let from = 0; from < chunk.rows;) {
      const take = Math.min(chunk.rows - from, this.capacity - this.rows);
      for (let g = 0; g < groups; g++) {
        const src = (g * chunk.rows + from) * columns;
        this.data.set(
          chunk.data.subarray(src, src + take * columns),
          (g * this.capacity + this.rows) * columns,
        );
      }
      this.rows += take;
      from += take;
      if (this.rows === this.capacity) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.rows === 0) return;
    const { groups, columns } = this.geometry;
    // The rows sit at the start of each group's slot; compact them when the buffer is part-full.
    let data = this.data;
    if (this.rows < this.capacity) {
      data = new Float32Array(groups * this.rows * columns);
      for (let g = 0; g < groups; g++) {
        const src = g * this.capacity * columns;
        data.set(this.data.subarray(src, src + this.rows * columns), g * this.rows * columns);
      }
    }
    await this.gram.accumulate(data, this.geometry, this.rows, this.sum.matrices);
    this.sum.rows += this.rows;
    this.rows = 0;
  }
}

/** Rows × columns × groups per Gram product, 32 MB of float32. */
const BUFFER_ELEMENTS = 1 << 23;

/** XᵀX per group of a [groups, rows, columns] float32 block, in ONNX Runtime. */
class GramProduct {
  private constructor(private readonly runner: ModelRunner) {}

  static async create(): Promise<GramProduct> {
    const transpose = makeNode({
      name: 'transpose',
      opType: 'Transpose',
      inputs: ['x'],
      outputs: ['xt'],
      attributes: [makeAttribute('perm', [0, 2, 1])],
    });
    const matmul = makeNode({
      name: 'gram',
      opType: 'MatMul',
      inputs: ['xt', 'x'],
      outputs: ['h'],
    });
    const model: Model = {
      irVersion: 8,
      producerName: 'model-lens',
      producerVersion: '',
      domain: '',
      modelVersion: 0,
      docString: '',
      graph: {
        name: 'gram',
        nodes: [transpose, matmul],
        initializers: [],
        sparseInitializers: [],
        inputs: [valueInfo('x', DataType.FLOAT, ['g', 'n', 'k'])],
        outputs: [valueInfo('h', DataType.FLOAT, ['g', 'k', 'k'])],
        valueInfo: [],
        docString: '',
        extra: [],
      },
      opsetImport: [{ domain: '', version: 17, extra: [] }],
      metadataProps: [],
      functions: [],
      extra: [],
    };
    return new GramProduct(await ModelRunner.create(encodeModel(model), 'Gram product'));
  }

  async accumulate(
    data: Float32Array,
    geometry: LayerGeometry,
    rows: number,
    into: Float64Array[],
  ): Promise<void> {
    const { groups, columns } = geometry;
    const out = await this.runner.run({
      x: { data, dims: [groups, rows, columns], dtype: 'float32' },
    });
    const h = out.h.data;
    for (let g = 0; g < groups; g++) {
      const m = into[g];
      const base = g * columns * columns;
      for (let i = 0; i < m.length; i++) m[i] += h[base + i];
    }
  }

  release(): Promise<void> {
    return this.runner.release();
  }
}
