/**
 * The weight scan behind the bit-width hints (weightSqnr.ts): max|w| and Σ|w| per output channel,
 * and an evenly strided sample of at most SAMPLE_LIMIT values with their channels.
 *
 * The scan reads every weight: max|w| sets each channel's quantization scale, and no sample can
 * stand in for a maximum (a 32 k sample of a layer misses the outliers that set its SQNR). So it is
 * made as cheap as reading the file: float32 blocks are read straight into the memory of a small
 * WebAssembly kernel (scanKernel.wat) that takes max and sum four values per instruction, and
 * `scanChannelsBatch` keeps several block reads in flight on libuv's thread pool while the kernel
 * scans the block before, so the copy from the page cache and the scan overlap. Other types (fp16,
 * bf16, double, int8/16/32) are converted a chunk at a time and scanned by the same kernel.
 *
 * A weight is laid out as [outer, channels, inner] around its channel axis. When a channel's values
 * are runs of at least RUN_MIN (a Conv's or Gemm's output channel is one run of C·kH·kW), the
 * kernel reduces run by run; otherwise (a MatMul [K, N] quantized per column) it keeps a max and a
 * sum per column of the [outer, channels·inner] matrix and `finish` folds each channel's columns.
 */
import type { ExternalData } from '../onnx/externalData';
import {
  elementCount,
  float32Payload,
  forEachNumberChunk,
  type PayloadReader,
} from '../onnx/tensorData';
import type { Tensor } from '../onnx/types';
import { SCAN_KERNEL_WASM } from './scanKernelBinary';

/** Values sampled for the error sums (numerics/weightSqnr.ts says why 32 k is enough). */
export const SAMPLE_LIMIT = 1 << 15;
/** Shorter channel runs are scanned per column (see above). */
const RUN_MIN = 16;
/** Bytes per block read; 1 MiB stays in cache between the read and the scan. */
const BLOCK_BYTES = 1 << 20;
/** Block reads kept in flight by scanChannelsBatch (measured on VGG-16: 4 × 1 MiB reads it in 70 ms, one at a time 100–180 ms). */
const READS_IN_FLIGHT = 4;

export interface ChannelScan {
  readonly maxAbs: Float64Array;
  readonly sumAbs: Float64Array;
  readonly samples: Float64Array;
  readonly sampleChannels: Int32Array;
  /** True when the sample is strided (more than SAMPLE_LIMIT values). */
  readonly sampled: boolean;
}

/**
 * The part of the WebAssembly API used here. Node has it as a global; the project's TypeScript
 * libraries (ES2023 and Node's types) do not declare it, and the DOM library would bring the rest
 * of the browser with it.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface KernelExports {
  readonly memory: WasmMemory;
  runs(
    at: number,
    count: number,
    first: number,
    channel: number,
    inner: number,
    channels: number,
    accMax: number,
    accSum: number,
  ): void;
  rows(at: number, count: number, col: number, width: number, accMax: number, accSum: number): void;
}

let compiled: object | undefined;

/**
 * One instance of the kernel with a memory of its own: `slots` blocks of BLOCK_BYTES from byte 0,
 * the accumulators after them. Each batch gets its own, so a synchronous scan (a hover) never
 * shares memory with a batch that has reads in flight.
 */
class ScanKernel {
  readonly exports: KernelExports;
  readonly accAt: number;

  constructor(readonly slots: number) {
    compiled ??= new wasm.Module(Buffer.from(SCAN_KERNEL_WASM, 'base64'));
    this.exports = new wasm.Instance(compiled).exports as KernelExports;
    this.accAt = slots * BLOCK_BYTES;
    this.reserve(0);
  }

  /**
   * Grows the memory to hold `accBytes` of accumulators. Growing detaches every view of the old
   * buffer, so a batch reserves its largest need before any read is in flight.
   */
  reserve(accBytes: number): void {
    const need = this.accAt + accBytes;
    const have = this.exports.memory.buffer.byteLength;
    if (need > have) this.exports.memory.grow(Math.ceil((need - have) / 65536));
  }

  slot(k: number, bytes: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, k * BLOCK_BYTES, bytes);
  }
}

/** Where a weight's channels lie: `channels` of `inner` consecutive values, repeated `outer` times. */
export interface ChannelLayout {
  readonly channels: number;
  readonly inner: number;
}

function usesRows(n: number, { channels, inner }: ChannelLayout): boolean {
  return inner < RUN_MIN && n > channels * inner;
}

function accumulatorBytes(n: number, layout: ChannelLayout): number {
  const entries = usesRows(n, layout) ? layout.channels * layout.inner : layout.channels;
  // f32 maxima, padded to 8 bytes, then f64 sums.
  return Math.ceil(entries / 2) * 8 + entries * 8;
}

/** One weight's scan in progress in a kernel's memory; blocks may come in any order. */
class ChannelScanner {
  private readonly rows: boolean;
  private readonly width: number;
  private readonly accMax: number;
  private readonly accSum: number;
  private readonly stride: number;
  private readonly samples: Float64Array;
  private readonly sampleChannels: Int32Array;

  constructor(
    private readonly kernel: ScanKernel,
    private readonly n: number,
    private readonly layout: ChannelLayout,
  ) {
    this.rows = usesRows(n, layout);
    this.width = this.rows ? layout.channels * layout.inner : layout.channels;
    kernel.reserve(accumulatorBytes(n, layout));
    this.accMax = kernel.accAt;
    this.accSum = kernel.accAt + Math.ceil(this.width / 2) * 8;
    new Uint8Array(kernel.exports.memory.buffer, kernel.accAt, accumulatorBytes(n, layout)).fill(0);
    this.stride = n > SAMPLE_LIMIT ? Math.ceil(n / SAMPLE_LIMIT) : 1;
    const sampleCount = Math.ceil(n / this.stride);
    this.samples = new Float64Array(sampleCount);
    this.sampleChannels = new Int32Array(sampleCount);
  }

  /** Scans `count` float32 values at byte `at` of the kernel's memory, the first being value `start`. */
  scan(at: number, count: number, start: number): void {
    const { channels, inner } = this.layout;
    if (this.rows) {
      this.kernel.exports.rows(at, count, start % this.width, this.width, this.accMax, this.accSum);
    } else {
      const position = start % inner;
      const channel = Math.floor(start / inner) % channels;
      this.kernel.exports.runs(
        at,
        count,
        inner - position,
        channel,
        inner,
        channels,
        this.accMax,
        this.accSum,
      );
    }
    this.takeSamples(new Float32Array(this.kernel.exports.memory.buffer, at, count), start);
  }

  /**
   * The sampled values of a block (global indices ≡ 0 mod stride) and their channels. The
   * channel is carried from one sample to the next (a division only when a sample crosses into
   * another channel run): a division and a modulo per sample cost more than the kernel's scan.
   */
  private takeSamples(values: Float32Array, start: number): void {
    const { channels, inner } = this.layout;
    const { stride, samples, sampleChannels } = this;
    const end = start + values.length;
    let i = Math.ceil(start / stride) * stride;
    if (i >= end) return;
    const run = Math.floor(i / inner);
    let offset = i - run * inner;
    let channel = run % channels;
    for (let k = i / stride; i < end; i += stride, k++) {
      samples[k] = values[i - start];
      sampleChannels[k] = channel;
      offset += stride;
      if (offset >= inner) {
        const runs = Math.floor(offset / inner);
        offset -= runs * inner;
        channel = (channel + runs) % channels;
      }
    }
  }

  finish(): ChannelScan {
    const { channels, inner } = this.layout;
    const buffer = this.kernel.exports.memory.buffer;
    const accMax = new Float32Array(buffer, this.accMax, this.width);
    const accSum = new Float64Array(buffer, this.accSum, this.width);
    const maxAbs = new Float64Array(channels);
    const sumAbs = new Float64Array(channels);
    if (this.rows) {
      for (let c = 0; c < channels; c++) {
        let m = 0;
        let s = 0;
        for (let j = c * inner; j < (c + 1) * inner; j++) {
          if (accMax[j] > m) m = accMax[j];
          s += accSum[j];
        }
        maxAbs[c] = m;
        sumAbs[c] = s;
      }
    } else {
      maxAbs.set(accMax);
      sumAbs.set(accSum);
    }
    return {
      maxAbs,
      sumAbs,
      samples: this.samples,
      sampleChannels: this.sampleChannels,
      sampled: this.stride > 1,
    };
  }
}

let syncKernel: ScanKernel | undefined;

/** Scans one weight, reading it a block at a time (float32) or a chunk at a time (other types). */
export function scanChannels(
  tensor: Tensor,
  layout: ChannelLayout,
  ext: ExternalData | undefined,
): ChannelScan {
  const kernel = (syncKernel ??= new ScanKernel(1));
  const n = elementCount(tensor.dims);
  const scanner = new ChannelScanner(kernel, n, layout);
  const reader = float32Payload(tensor, ext);
  if (reader) {
    try {
      for (let first = 0; first < n; first += BLOCK_BYTES / 4) {
        const count = Math.min(BLOCK_BYTES / 4, n - first);
        reader.read(first * 4, kernel.slot(0, count * 4));
        scanner.scan(0, count, first);
      }
    } finally {
      reader.close();
    }
  } else {
    forEachNumberChunk(tensor, ext, (chunk, start) => {
      new Float32Array(kernel.exports.memory.buffer, 0, chunk.length).set(chunk);
      scanner.scan(0, chunk.length, start);
    });
  }
  return scanner.finish();
}

export interface ScanRequest {
  readonly tensor: Tensor;
  readonly layout: ChannelLayout;
}

/**
 * Scans many weights with READS_IN_FLIGHT block reads in flight, scanning blocks in order as they
 * arrive (so every result is the same as scanChannels'). `done` gets each weight's scan, or the
 * error that stopped it (a truncated file): one weight's error does not stop the others.
 */
export async function scanChannelsBatch(
  requests: readonly ScanRequest[],
  ext: ExternalData | undefined,
  done: (request: ScanRequest, result: ChannelScan | Error) => void,
): Promise<void> {
  const kernel = new ScanKernel(READS_IN_FLIGHT);
  // Reserve the largest accumulators first: growing the memory later would detach the buffers
  // that reads in flight are writing into.
  kernel.reserve(
    Math.max(0, ...requests.map((r) => accumulatorBytes(elementCount(r.tensor.dims), r.layout))),
  );
  interface Job {
    readonly request: ScanRequest;
    readonly reader: PayloadReader;
    readonly first: number;
    readonly count: number;
    readonly last: boolean;
  }
  const jobs: Job[] = [];
  for (const request of requests) {
    let reader: PayloadReader | undefined;
    try {
      reader = float32Payload(request.tensor, ext);
      if (!reader) done(request, scanChannels(request.tensor, request.layout, ext));
    } catch (e) {
      done(request, e as Error);
    }
    if (!reader) continue;
    const n = elementCount(request.tensor.dims);
    if (n === 0) {
      reader.close();
      done(request, new ChannelScanner(kernel, 0, request.layout).finish());
      continue;
    }
    for (let first = 0; first < n; first += BLOCK_BYTES / 4) {
      const count = Math.min(BLOCK_BYTES / 4, n - first);
      jobs.push({ request, reader, first, count, last: first + count === n });
    }
  }

  const reads: Array<Promise<Error | undefined>> = [];
  const issue = (j: number) => {
    const job = jobs[j];
    reads[j] = job.reader
      .readAsync(job.first * 4, kernel.slot(j % READS_IN_FLIGHT, job.count * 4))
      .then(
        () => undefined,
        (e: Error) => e,
      );
  };
  let scanner: ChannelScanner | undefined;
  let failed: Error | undefined;
  for (let j = 0; j < Math.min(READS_IN_FLIGHT, jobs.length); j++) issue(j);
  for (let j = 0; j < jobs.length; j++) {
    const job = jobs[j];
    const error = await reads[j];
    if (job.first === 0) {
      failed = undefined;
      scanner = new ChannelScanner(
        kernel,
        elementCount(job.request.tensor.dims),
        job.request.layout,
      );
    }
    failed ??= error;
    if (!failed) scanner!.scan((j % READS_IN_FLIGHT) * BLOCK_BYTES, job.count, job.first);
    // The slot is free again: read ahead into it.
    if (j + READS_IN_FLIGHT < jobs.length) issue(j + READS_IN_FLIGHT);
    if (job.last) {
      // Every read of this weight has settled (they are awaited in order): close its file.
      job.reader.close();
      done(job.request, failed ?? scanner!.finish());
    }
  }
}
