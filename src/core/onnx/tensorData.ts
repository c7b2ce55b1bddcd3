/**
 * Reading the values of a TensorProto, whichever field holds them.
 *
 * Weights are read as views of the file bytes. Float weights of any size are visited in chunks
 * (`forEachFloatChunk`) so that a 400 MB layer never gets a second 400 MB copy: an aligned
 * float32 payload is viewed directly, anything else is converted through a small scratch buffer.
 */
import * as fs from 'node:fs';
import { DataType, type Tensor } from './types';
import { dtypeName, storageBytes } from './dtype';
import type { ExternalData } from './externalData';
import {
  payloadSource,
  readFileRange,
  readFileRangeAsync,
  readPayload,
  readPayloadAsync,
} from './lazyFile';

export class TensorDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TensorDataError';
  }
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** The little-endian payload view of a tensor stored in raw form (may be a hole of a lazy image). */
function payloadView(t: Tensor): Uint8Array | undefined {
  if (t.rawData) return t.rawData;
  if (t.floatData && t.dataType === DataType.FLOAT) return t.floatData;
  if (t.doubleData && t.dataType === DataType.DOUBLE) return t.doubleData;
  return undefined;
}

/**
 * Where a tensor's bytes live, for tensors stored little-endian in raw form: a view of the bytes
 * in memory, or a fresh read of a payload left in the file (lazyFile.ts) or a side file.
 */
export function rawBytes(t: Tensor, ext: ExternalData | undefined): Uint8Array | undefined {
  if (t.external) {
    if (!ext) throw new TensorDataError(`tensor '${t.name}' needs its external data file`);
    return ext.read(t.external, t.name);
  }
  const view = payloadView(t);
  return view && readPayload(view);
}

/** A payload that lies in a file and is read a block at a time: `read(offset, out)` fills `out`. */
interface FilePayload {
  readonly length: number;
  read(offset: number, out: Uint8Array): void;
  /** As `read`, on libuv's thread pool: several can be in flight. */
  readAsync(offset: number, out: Uint8Array): Promise<void>;
  /** Closes what `read` opened. */
  close?(): void;
}

function filePayload(t: Tensor, ext: ExternalData | undefined): FilePayload | undefined {
  if (t.external) {
    if (!ext) throw new TensorDataError(`tensor '${t.name}' needs its external data file`);
    const at = ext.locate(t.external, t.name);
    let fd: number | undefined;
    const range = (offset: number, out: Uint8Array) => ({
      file: at.file,
      fd: (fd ??= fs.openSync(at.file, 'r')),
      position: at.position + offset,
      length: out.length,
    });
    return {
      length: at.length,
      read: (offset, out) => readFileRange(range(offset, out), out),
      readAsync: (offset, out) => readFileRangeAsync(range(offset, out), out),
      close: () => {
        if (fd !== undefined) fs.closeSync(fd);
        fd = undefined;
      },
    };
  }
  const view = payloadView(t);
  if (!view || !payloadSource(view)) return undefined;
  return {
    length: view.length,
    read: (offset, out) => readPayload(view, offset, out.length, out),
    readAsync: (offset, out) => readPayloadAsync(view, offset, out),
  };
}

/** A payload already in memory, read as a file one is. */
function memoryPayload(raw: Uint8Array): FilePayload {
  const read = (offset: number, out: Uint8Array) =>
    out.set(raw.subarray(offset, offset + out.length));
  return { length: raw.length, read, readAsync: async (offset, out) => read(offset, out) };
}

/** Reads byte ranges of a tensor's payload into the caller's buffer (float32Payload). */
export interface PayloadReader {
  /** Bytes the payload holds (checked to cover the shape). */
  readonly length: number;
  read(offset: number, out: Uint8Array): void;
  readAsync(offset: number, out: Uint8Array): Promise<void>;
  close(): void;
}

/**
 * The bytes of a float32 tensor stored raw (in memory, in a hole of the opened file, or in a side
 * file), for a caller that reads them straight into a buffer of its own (the WebAssembly weight
 * scan, numerics/channelScan.ts); undefined for any other type or storage. Throws as the other
 * readers do when the payload is shorter than the shape needs.
 */
export function float32Payload(
  t: Tensor,
  ext: ExternalData | undefined,
): PayloadReader | undefined {
  if (t.dataType !== DataType.FLOAT) return undefined;
  const n = elementCount(t.dims);
  const file = filePayload(t, ext);
  let reader: PayloadReader;
  if (file) {
    reader = { ...file, close: () => file.close?.() };
  } else {
    const raw = rawBytes(t, ext);
    if (!raw) return undefined;
    reader = { ...memoryPayload(raw), close: () => {} };
  }
  if (reader.length < n * 4) {
    reader.close();
    throw new TensorDataError(
      `tensor '${t.name}' holds ${reader.length} bytes, its shape needs ${n * 4}`,
    );
  }
  return reader;
}

/** Payloads in files are read in blocks of this many bytes, never whole (1 MiB: measured on VGG-16, a block that stays in cache is scanned faster than 4 or 16 MiB ones). */
const BLOCK_BYTES = 1 << 20;
let spareBlock: ArrayBuffer | undefined;

/**
 * Reads `n` elements of `width` bytes from `src` one block at a time into one reused aligned
 * buffer; `visit` gets the block's bytes (at offset 0 of an ArrayBuffer) and its first element.
 */
function forEachBlock(
  src: FilePayload,
  width: number,
  n: number,
  name: string,
  visit: (block: ArrayBuffer, first: number, count: number) => void,
): void {
  if (src.length < n * width) {
    throw new TensorDataError(
      `tensor '${name}' holds ${src.length} bytes, its shape needs ${n * width}`,
    );
  }
  const block = spareBlock ?? new ArrayBuffer(BLOCK_BYTES);
  spareBlock = undefined;
  try {
    const per = Math.floor(BLOCK_BYTES / width);
    for (let s = 0; s < n; s += per) {
      const count = Math.min(per, n - s);
      src.read(s * width, new Uint8Array(block, 0, count * width));
      visit(block, s, count);
    }
  } finally {
    spareBlock = block;
    src.close?.();
  }
}

/** Bytes per value of the floating-point types `sampleFloatRuns` decodes. */
const FLOAT_WIDTH: Partial<Record<DataType, number>> = {
  [DataType.FLOAT]: 4,
  [DataType.DOUBLE]: 8,
  [DataType.FLOAT16]: 2,
  [DataType.BFLOAT16]: 2,
};

/**
 * An evenly spread sample of a floating-point tensor's values, without reading the rest:
 * `runs` runs of `runLength` consecutive values, the first at the tensor's start, the last at its
 * end, the others evenly between. One positioned read per run when the payload lies in the file
 * (lazyFile.ts) or a side file; a copy of the run when it is in memory. The sample depends only
 * on the tensor's shape and values, so it is the same on every read. Undefined when the tensor
 * is not stored little-endian in raw form (typed int32_data of a float16 tensor …), or has fewer
 * values than the sample would take. Throws TensorDataError / PayloadUnavailableError as the
 * full read does when the payload is shorter than the shape needs.
 */
export function sampleFloatRuns(
  t: Tensor,
  ext: ExternalData | undefined,
  runs: number,
  runLength: number,
): Float64Array | undefined {
  const width = FLOAT_WIDTH[t.dataType];
  const n = elementCount(t.dims);
  if (!width || runs < 1 || runLength < 1 || n < runs * runLength) return undefined;
  let src = filePayload(t, ext);
  if (!src) {
    const raw = rawBytes(t, ext);
    if (!raw) return undefined;
    src = memoryPayload(raw);
  }
  const payload = src;
  try {
    if (payload.length < n * width) {
      throw new TensorDataError(
        `tensor '${t.name}' holds ${payload.length} bytes, its shape needs ${n * width}`,
      );
    }
    const bytes = new Uint8Array(runLength * width);
    const view = new DataView(bytes.buffer);
    const out = new Float64Array(runs * runLength);
    let k = 0;
    for (let r = 0; r < runs; r++) {
      const first = runs === 1 ? 0 : Math.round((r * (n - runLength)) / (runs - 1));
      payload.read(first * width, bytes);
      for (let i = 0; i < runLength; i++) {
        out[k++] =
          width === 4
            ? view.getFloat32(i * 4, true)
            : width === 8
              ? view.getFloat64(i * 8, true)
              : t.dataType === DataType.FLOAT16
                ? halfToFloat(view.getUint16(i * 2, true))
                : bfloatToFloat(view.getUint16(i * 2, true));
      }
    }
    return out;
  } finally {
    payload.close?.();
  }
}

/** Number of elements actually stored, to check it against the declared dims. */
export function storedElementCount(t: Tensor): number | undefined {
  if (t.external) return undefined;
  if (t.rawData) {
    const bits = storageBytes(t.dataType, 1) * 8;
    if (bits === 0) return undefined;
    return t.dataType === DataType.INT4 ||
      t.dataType === DataType.UINT4 ||
      t.dataType === DataType.FLOAT4E2M1
      ? t.rawData.length * 2
      : t.rawData.length / (bits / 8);
  }
  if (t.floatData) return t.floatData.length / 4;
  if (t.doubleData) return t.doubleData.length / 8;
  if (t.int32Data) return t.int32Data.length;
  if (t.int64Data) return t.int64Data.length;
  if (t.uint64Data) return t.uint64Data.length;
  if (t.stringData) return t.stringData.length;
  return 0;
}

/**
 * All values as JS numbers, for small tensors (shape constants, axes, scalars) that constant
 * folding needs. int64 values beyond 2^53 are rounded (INT64_MAX in Slice ends stays huge).
 */
export function tensorNumbers(t: Tensor, ext?: ExternalData): number[] {
  const n = elementCount(t.dims);
  const out = new Array<number>(n);
  const raw = rawBytes(t, ext);
  if (raw) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const need = storageBytes(t.dataType, n);
    if (raw.byteLength < need) {
      throw new TensorDataError(
        `tensor '${t.name}' holds ${raw.byteLength} bytes, its shape needs ${need}`,
      );
    }
    for (let i = 0; i < n; i++) out[i] = readElement(dv, t.dataType, i, t.name);
    return out;
  }
  const src = t.int32Data ?? t.int64Data ?? t.uint64Data;
  if (src) {
    if (src.length < n)
      throw new TensorDataError(`tensor '${t.name}' holds fewer values than its shape`);
    for (let i = 0; i < n; i++) {
      const v = src[i];
      out[i] =
        t.dataType === DataType.FLOAT16
          ? halfToFloat(v)
          : t.dataType === DataType.BFLOAT16
            ? bfloatToFloat(v)
            : v;
    }
    return out;
  }
  if (n === 0) return out;
  throw new TensorDataError(`tensor '${t.name}' (${dtypeName(t.dataType)}) has no readable data`);
}

function readElement(dv: DataView, dt: DataType, i: number, name: string): number {
  switch (dt) {
    case DataType.FLOAT:
      return dv.getFloat32(i * 4, true);
    case DataType.DOUBLE:
      return dv.getFloat64(i * 8, true);
    case DataType.FLOAT16:
      return halfToFloat(dv.getUint16(i * 2, true));
    case DataType.BFLOAT16:
      return bfloatToFloat(dv.getUint16(i * 2, true));
    case DataType.INT8:
      return dv.getInt8(i);
    case DataType.UINT8:
    case DataType.BOOL:
      return dv.getUint8(i);
    case DataType.INT16:
      return dv.getInt16(i * 2, true);
    case DataType.UINT16:
      return dv.getUint16(i * 2, true);
    case DataType.INT32:
      return dv.getInt32(i * 4, true);
    case DataType.UINT32:
      return dv.getUint32(i * 4, true);
    case DataType.INT64:
      return Number(dv.getBigInt64(i * 8, true));
    case DataType.UINT64:
      return Number(dv.getBigUint64(i * 8, true));
    case DataType.INT4:
    case DataType.UINT4: {
      const byte = dv.getUint8(i >> 1);
      const nibble = i & 1 ? byte >> 4 : byte & 15;
      return dt === DataType.INT4 && nibble >= 8 ? nibble - 16 : nibble;
    }
    default:
      throw new TensorDataError(
        `tensor '${name}': reading ${dtypeName(dt)} values is not supported`,
      );
  }
}

const CHUNK_ELEMENTS = 1 << 16;

/**
 * One aligned scratch chunk, reused across calls: a model's weights are read chunk by chunk
 * several times (range, quantize, SQNR), and a fresh 256 KiB buffer per tensor and pass adds up
 * to tens of MiB of garbage that GC frees late, which shows in peak RSS. A nested call (a
 * visitor that reads another tensor) finds it taken and allocates its own.
 */
let spareScratch: Float32Array | undefined;

function withScratch(use: (scratch: Float32Array) => void): void {
  const scratch = spareScratch ?? new Float32Array(CHUNK_ELEMENTS);
  spareScratch = undefined;
  try {
    use(scratch);
  } finally {
    spareScratch = scratch;
  }
}

/**
 * Visits the float values of a floating-point tensor in order, in chunks. `start` is the index
 * of the chunk's first element. The chunk array is only valid during the callback.
 */
export function forEachFloatChunk(
  t: Tensor,
  ext: ExternalData | undefined,
  visit: (chunk: Float32Array, start: number) => void,
): void {
  const n = elementCount(t.dims);
  if (n === 0) return;
  const file = t.dataType === DataType.FLOAT ? filePayload(t, ext) : undefined;
  if (file) {
    forEachBlock(file, 4, n, t.name, (block, first, count) => {
      const all = new Float32Array(block, 0, count);
      for (let s = 0; s < count; s += CHUNK_ELEMENTS)
        visit(all.subarray(s, Math.min(count, s + CHUNK_ELEMENTS)), first + s);
    });
    return;
  }
  const raw = rawBytes(t, ext);
  if (t.dataType === DataType.FLOAT && raw) {
    if (raw.byteLength < n * 4) {
      throw new TensorDataError(
        `tensor '${t.name}' holds ${raw.byteLength} bytes, its shape needs ${n * 4}`,
      );
    }
    if (raw.byteOffset % 4 === 0) {
      const all = new Float32Array(raw.buffer, raw.byteOffset, n);
      for (let s = 0; s < n; s += CHUNK_ELEMENTS)
        visit(all.subarray(s, Math.min(n, s + CHUNK_ELEMENTS)), s);
      return;
    }
    // Unaligned payload: copy one chunk at a time into an aligned scratch buffer.
    withScratch((scratch) => {
      const scratchBytes = new Uint8Array(scratch.buffer);
      for (let s = 0; s < n; s += CHUNK_ELEMENTS) {
        const count = Math.min(CHUNK_ELEMENTS, n - s);
        scratchBytes.set(raw.subarray(s * 4, (s + count) * 4));
        visit(scratch.subarray(0, count), s);
      }
    });
    return;
  }
  if (
    t.dataType === DataType.FLOAT ||
    t.dataType === DataType.FLOAT16 ||
    t.dataType === DataType.DOUBLE ||
    t.dataType === DataType.BFLOAT16
  ) {
    // Other float encodings: convert through numbers, one chunk at a time.
    const values = tensorNumbers(t, ext);
    withScratch((scratch) => {
      for (let s = 0; s < n; s += CHUNK_ELEMENTS) {
        const count = Math.min(CHUNK_ELEMENTS, n - s);
        for (let i = 0; i < count; i++) scratch[i] = values[s + i];
        visit(scratch.subarray(0, count), s);
      }
    });
    return;
  }
  throw new TensorDataError(`tensor '${t.name}' is ${dtypeName(t.dataType)}, not floating point`);
}

/**
 * As forEachFloatChunk, and also for 8-, 16- and 32-bit signed integer tensors, whose values are
 * visited as numbers one chunk at a time (never a float copy of the whole tensor): for the
 * statistics of integer weights stored with a scale (TFLite's int8 kernels).
 */
export function forEachNumberChunk(
  t: Tensor,
  ext: ExternalData | undefined,
  visit: (chunk: Float32Array, start: number) => void,
): void {
  const width =
    t.dataType === DataType.INT8
      ? 1
      : t.dataType === DataType.INT16
        ? 2
        : t.dataType === DataType.INT32
          ? 4
          : 0;
  if (width === 0) return forEachFloatChunk(t, ext, visit);
  const n = elementCount(t.dims);
  if (n === 0) return;
  const file = filePayload(t, ext);
  if (file) {
    forEachBlock(file, width, n, t.name, (block, first, count) => {
      const typed =
        width === 1
          ? new Int8Array(block, 0, count)
          : width === 2
            ? new Int16Array(block, 0, count)
            : new Int32Array(block, 0, count);
      withScratch((scratch) => {
        for (let s = 0; s < count; s += CHUNK_ELEMENTS) {
          const c = Math.min(CHUNK_ELEMENTS, count - s);
          scratch.set(typed.subarray(s, s + c));
          visit(scratch.subarray(0, c), first + s);
        }
      });
    });
    return;
  }
  const raw = rawBytes(t, ext);
  if (raw && raw.byteLength < n * width) {
    throw new TensorDataError(
      `tensor '${t.name}' holds ${raw.byteLength} bytes, its shape needs ${n * width}`,
    );
  }
  // A typed view where the payload is aligned (always for int8), as forEachFloatChunk's float32
  // view; ONNX's typed int32_data field holds them decoded already; an unaligned payload is read
  // through a DataView.
  const typed = raw && signedView(raw, width, n);
  const decoded = raw ? undefined : tensorNumbers(t, ext);
  const view = raw && new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  withScratch((scratch) => {
    for (let s = 0; s < n; s += CHUNK_ELEMENTS) {
      const count = Math.min(CHUNK_ELEMENTS, n - s);
      if (typed) {
        scratch.set(typed.subarray(s, s + count));
      } else if (decoded) {
        for (let i = 0; i < count; i++) scratch[i] = decoded[s + i];
      } else {
        for (let i = 0; i < count; i++) {
          const at = (s + i) * width;
          scratch[i] = width === 2 ? view!.getInt16(at, true) : view!.getInt32(at, true);
        }
      }
      visit(scratch.subarray(0, count), s);
    }
  });
}

function signedView(
  raw: Uint8Array,
  width: number,
  n: number,
): Int8Array | Int16Array | Int32Array | undefined {
  if (raw.byteOffset % width !== 0) return undefined;
  if (width === 1) return new Int8Array(raw.buffer, raw.byteOffset, n);
  if (width === 2) return new Int16Array(raw.buffer, raw.byteOffset, n);
  return new Int32Array(raw.buffer, raw.byteOffset, n);
}

/** IEEE 754 half precision bits to a number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bfloatScratch = new DataView(new ArrayBuffer(4));

/** bfloat16 bits (the top half of a float32) to a number. */
export function bfloatToFloat(bits: number): number {
  bfloatScratch.setUint32(0, (bits & 0xffff) << 16);
  return bfloatScratch.getFloat32(0);
}
