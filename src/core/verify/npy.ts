/**
 * NumPy `.npy` files: the format users already have their samples in (`np.save`). We read the
 * little-endian C-order arrays that real pipelines write (format versions 1, 2 and 3) and refuse
 * anything else with a message that says how to re-save the array. `writeNpy` exists for the tests
 * and for users who want to capture the random inputs a verification used.
 */

/**
 * Any reason a verification cannot run: the message is one line, fit for a user (the CLI prints
 * it and exits 2). It is defined here, in the module every other verify module imports, so that
 * no import cycle is needed; index.ts re-exports it.
 */
export class VerifyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyError';
  }
}

export type NpyDtype = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

export type NpyData =
  Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

export interface NpyArray {
  readonly dtype: NpyDtype;
  readonly dims: number[];
  readonly data: NpyData;
}

/** `descr` strings we accept. '|' marks a single byte (no byte order); '<' little-endian. */
const DESCR: Record<string, NpyDtype> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<i8': 'int64',
  '<i4': 'int32',
  '|u1': 'uint8',
  '|i1': 'int8',
  '|b1': 'bool',
};

const BYTES: Record<NpyDtype, number> = {
  float32: 4,
  float64: 8,
  int64: 8,
  int32: 4,
  uint8: 1,
  int8: 1,
  bool: 1,
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Parses a whole `.npy` file. `label` names the file in errors. */
export function readNpy(bytes: Uint8Array, label = 'array'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new VerifyError(`${label}: not a .npy file (no \\x93NUMPY magic)`);
  }
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new VerifyError(`${label}: truncated .npy header`);
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new VerifyError(`${label}: .npy format version ${major} is not supported (1–3 are)`);
  }
  if (headerStart + headerLen > bytes.length) {
    throw new VerifyError(`${label}: truncated .npy header`);
  }
  // Version 3 only differs by allowing UTF-8 in the header; field names are ASCII either way.
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new VerifyError(`${label}: unreadable .npy header`);
  }
  // numpy writes '<u1' as '|u1', but other writers may not; a byte has no order either way.
  const normal = descr.replace(/^[<=]([uib]1)$/, '|$1').replace(/^=/, '<');
  const dtype = DESCR[normal];
  if (!dtype) {
    const hint = descr.startsWith('>')
      ? 'big-endian; save with arr.astype(arr.dtype.newbyteorder("<"))'
      : `supported: ${Object.keys(DESCR).join(', ')}`;
    throw new VerifyError(`${label}: .npy dtype '${descr}' is not supported (${hint})`);
  }
  if (fortran === 'True') {
    throw new VerifyError(
      `${label}: .npy array is in Fortran order; save np.ascontiguousarray(arr) instead`,
    );
  }
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new VerifyError(`${label}: bad .npy shape (${shapeText})`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const start = headerStart + headerLen;
  const size = count * BYTES[dtype];
  if (bytes.length - start < size) {
    throw new VerifyError(
      `${label}: .npy data holds ${bytes.length - start} bytes, shape (${dims.join(', ')}) needs ${size}`,
    );
  }
  // Copy into a fresh, aligned buffer: the typed views below need alignment, and a Node Buffer's
  // slice() is a view into a shared pool, not a copy.
  const copy = new Uint8Array(size);
  copy.set(bytes.subarray(start, start + size));
  return { dtype, dims, data: viewAs(dtype, copy.buffer, count) };
}

function viewAs(dtype: NpyDtype, buf: ArrayBuffer, count: number): NpyData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf, 0, count);
    case 'float64':
      return new Float64Array(buf, 0, count);
    case 'int64':
      return new BigInt64Array(buf, 0, count);
    case 'int32':
      return new Int32Array(buf, 0, count);
    case 'int8':
      return new Int8Array(buf, 0, count);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, 0, count);
  }
}

/**
 * Encodes an array as a version 1 `.npy` file (little-endian, C order). The header is padded
 * so the data starts at a multiple of 64 bytes, as numpy itself does.
 */
export function writeNpy(array: NpyArray): Uint8Array {
  const descr = Object.keys(DESCR).find((k) => DESCR[k] === array.dtype)!;
  const shape = array.dims.length === 1 ? `(${array.dims[0]},)` : `(${array.dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const headerBytes = new TextEncoder().encode(header);
  const data = new Uint8Array(
    array.data.buffer,
    array.data.byteOffset,
    array.data.length * BYTES[array.dtype],
  );
  const out = new Uint8Array(10 + headerBytes.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, headerBytes.length, true);
  out.set(headerBytes, 10);
  out.set(data, 10 + headerBytes.length);
  return out;
}
