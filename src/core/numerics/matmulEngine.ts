/**
 * A MatMul engine on ONNX Runtime: its CPU MatMul and Gemm kernels are MLAS, a multi-threaded
 * float32 BLAS, tens of times faster than the JS loop of matmul.ts on the large products of the
 * blocked factorisations (linalg.ts) and of GPTQ's lazy-batch update W[:, j:] −= E·U[i:j, j:].
 *
 * Two sessions are built once, from one-node graphs with symbolic dimensions: C = MatMul(A, B)
 * and C = Gemm(A, B, transB=1) (ONNX's MatMul has no transpose; Gemm's lets MLAS read Bᵀ as
 * given instead of JS transposing it first). Operands are converted to float32 and the product is
 * returned as ORT's Float32Array, not copied. Products below `minMacs` multiply-adds stay in JS,
 * in float64: there ORT's fixed cost per run (tensor wrapping, dispatch) exceeds the product.
 *
 * onnxruntime-node comes from the verifier's loader (verify.ts), imported on first use: importing
 * this module costs nothing until an engine is created.
 */
import type * as OrtTypes from 'onnxruntime-node';
import { makeAttribute, makeModel, valueInfo } from '../onnx/build';
import { encodeModel } from '../onnx/encode';
import { DataType } from '../onnx/types';
import { ort, type Ort } from '../verify/verify';
import { checkSizes, multiplyJs, type MatMul, type Matrix, type MultiplyOptions } from './matmul';

/** 2¹⁸ multiply-adds (a 64³ product): about 0.25 ms in JS, about ORT's cost per run here. */
export const DEFAULT_MIN_MACS = 1 << 18;

export interface OrtMatMulOptions {
  /** Products with fewer multiply-adds (m·k·n) run in JS, in float64. Default 2¹⁸. */
  minMacs?: number;
  /** ORT's intra-op threads; default ORT's own (one per physical core). */
  threads?: number;
}

export class OrtMatMul implements MatMul {
  readonly operandType = 'float32';
  private released = false;

  private constructor(
    private readonly api: Ort,
    private readonly plain: OrtTypes.InferenceSession,
    private readonly transposed: OrtTypes.InferenceSession,
    readonly minMacs: number,
  ) {}

  /** Loads ONNX Runtime and builds both sessions; `release()` the engine when done. */
  static async create(options: OrtMatMulOptions = {}): Promise<OrtMatMul> {
    const minMacs = options.minMacs ?? DEFAULT_MIN_MACS;
    if (!(minMacs >= 0)) throw new Error(`minMacs must be non-negative, not ${minMacs}`);
    const api = await ort();
    const sessionOptions: OrtTypes.InferenceSession.SessionOptions = {
      logSeverityLevel: 3,
      // ORT's pool threads spin for a while after each run by default. Between products the
      // main thread subtracts the last one, and on a machine with few cores the spinning threads
      // would take its core: without spinning, n = 4608 took half the CPU time at the same wall
      // time on 2 cores (bench/linalg.ts).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      ...(options.threads !== undefined ? { intraOpNumThreads: options.threads } : {}),
    };
    const made = await Promise.allSettled([
      api.InferenceSession.create(productModel(false), sessionOptions),
      api.InferenceSession.create(productModel(true), sessionOptions),
    ]);
    const failed = made.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(
        made.map((r) => (r.status === 'fulfilled' ? r.value.release() : undefined)),
      );
      throw new Error(`ONNX Runtime cannot build the matrix product: ${String(failed.reason)}`);
    }
    const [plain, transposed] = made.map(
      (r) => (r as PromiseFulfilledResult<OrtTypes.InferenceSession>).value,
    );
    return new OrtMatMul(api, plain, transposed, minMacs);
  }

  multiply(
    a: Matrix,
    b: Matrix,
    m: number,
    k: number,
    n: number,
    options: MultiplyOptions = {},
  ): Matrix | Promise<Matrix> {
    if (this.released) throw new Error('the ONNX Runtime matrix product was released');
    checkSizes(a, b, m, k, n);
    const transB = options.transB ?? false;
    if (m * k * n < this.minMacs) return multiplyJs(a, b, m, k, n, transB);
    return this.run(a, b, m, k, n, transB);
  }

  private async run(
    a: Matrix,
    b: Matrix,
    m: number,
    k: number,
    n: number,
    transB: boolean,
  ): Promise<Float32Array> {
    const feeds = {
      a: new this.api.Tensor('float32', float32(a), [m, k]),
      b: new this.api.Tensor('float32', float32(b), transB ? [n, k] : [k, n]),
    };
    const session = transB ? this.transposed : this.plain;
    let c: OrtTypes.Tensor;
    try {
      c = (await session.run(feeds)).c as OrtTypes.Tensor;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(`ONNX Runtime failed on a ${m}×${k} by ${k}×${n} product: ${message}`);
    }
    // A CPU output's data is a JS-owned typed array: it outlives the tensor object.
    return c.data as Float32Array;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.all([this.plain.release(), this.transposed.release()]);
  }
}

/** Runs `use` with an ONNX Runtime engine, released afterwards whatever happens. */
export async function withOrtMatMul<T>(
  use: (engine: OrtMatMul) => Promise<T>,
  options: OrtMatMulOptions = {},
): Promise<T> {
  const engine = await OrtMatMul.create(options);
  try {
    return await use(engine);
  } finally {
    await engine.release();
  }
}

function float32(x: Matrix): Float32Array {
  return x instanceof Float32Array ? x : new Float32Array(x);
}

/** The encoded one-node graph c = a·b (or a·bᵀ with Gemm's transB), float32, any sizes. */
function productModel(transB: boolean): Uint8Array {
  const f = DataType.FLOAT;
  const model = makeModel({
    name: transB ? 'matmul_transposed' : 'matmul',
    nodes: [
      {
        extra: [],
        name: 'product',
        opType: transB ? 'Gemm' : 'MatMul',
        domain: '',
        inputs: ['a', 'b'],
        outputs: ['c'],
        attributes: transB ? [makeAttribute('transB', 1)] : [],
        docString: '',
      },
    ],
    inputs: [valueInfo('a', f, ['m', 'k']), valueInfo('b', f, transB ? ['n', 'k'] : ['k', 'n'])],
    outputs: [valueInfo('c', f, ['m', 'n'])],
    opset: 13,
  });
  return encodeModel(model);
}
