/**
 * The inputs a verification feeds both models: seeded random tensors that respect each graph
 * input's dtype and shape, or the user's own tensors read from a folder.
 *
 * Random inputs (same seed and sample index → same values, on every machine):
 * - float32/float64/float16: N(0, 1), the range of normalised images and embeddings;
 * - int64/int32/int16/uint16/int8 (token ids, indices): integers in [0, bound), bound = 100, or
 *   the row count of the embedding table when the input indexes one directly (Gather on an
 *   initializer), so an id never falls outside the table. An integer or bool input whose name
 *   contains "mask" is all ones, one containing "token_type" or "segment" all zeros, as a BERT
 *   tokenizer gives for a single sentence;
 * - uint8: [0, 256) (raw image pixels); bool: true or false with probability ½.
 * A symbolic dimension becomes 1 unless `inputShapes` fixes the input's whole shape.
 *
 * User inputs (`inputsDir`), one of three layouts:
 * - one sample: files directly in the folder, one per graph input;
 * - several samples: one subfolder per sample (`0/`, `1/`, … or ONNX's `test_data_set_0/`, …),
 *   taken in natural order, each holding one file per graph input;
 * - images (.png/.jpg), when the folder has no tensor files: class folders or a flat folder, one
 *   image per sample, preprocessed as DIR/preprocess.json says or as the model's input shape
 *   suggests (src/core/data/imageFolder.ts).
 * A file is `.npy` (see npy.ts) or a serialized ONNX TensorProto `.pb`. It belongs to the input
 * whose name is the TensorProto's `name` (for .pb), else the file stem, else `input_K` for the
 * K-th graph input (ONNX's test-data naming). Characters a file name cannot hold (`/`, `:` …)
 * may be written as `_`. Values are converted to the input's dtype when they differ (e.g. an
 * float64 .npy for a float32 input). Optional `labels.json` (a JSON array of integers) or
 * `labels.txt` (integers separated by white space) in the folder gives class labels, one per
 * row of the first output (one per sample at batch size 1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeTensor } from '../onnx/decode';
import { dtypeName } from '../onnx/dtype';
import { loadModelFile, ModelLoadError, parseModelBytes, type LoadedModel } from '../onnx/load';
import { elementCount, halfToFloat, tensorNumbers } from '../onnx/tensorData';
import { DataType, type Dim } from '../onnx/types';
import { readNpy, VerifyError } from './npy';
import {
  byNaturalName,
  imageFolderPipeline,
  listImageFolder,
  readImageFolder,
  type ImageListing,
} from '../data/imageFolder';
import { readLabelFile } from '../data/labels';

export type TensorArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint16Array
  | Uint8Array;

/** One input tensor in ONNX Runtime's terms: `dtype` is ORT's type name ('float32', 'int64'…). */
export interface InputTensor {
  readonly data: TensorArray;
  readonly dims: number[];
  readonly dtype: string;
}

export type InputSet = Record<string, InputTensor>;

/** A graph input as the verifier feeds it. */
export interface InputSpec {
  readonly name: string;
  readonly dataType: DataType;
  /** ORT's name for the dtype. */
  readonly dtype: string;
  /** The declared shape, symbolic dims as strings; undefined when not even the rank is known. */
  readonly declared?: readonly Dim[];
  /** The concrete shape random inputs get. */
  readonly dims: number[];
  /** Exclusive upper bound of random integer values. */
  readonly intBound: number;
}

export interface RandomInputOptions {
  /** Whole shapes for inputs, replacing the declared shape (its symbolic dims in particular). */
  readonly inputShapes?: ReadonlyMap<string, readonly number[]>;
  /** Default 0. */
  readonly seed?: number;
  /** Which sample of the seed's sequence (default 0): sample i is the same whatever the count. */
  readonly sample?: number;
}

const ORT_TYPES: Partial<Record<DataType, string>> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.FLOAT16]: 'float16',
  [DataType.INT64]: 'int64',
  [DataType.INT32]: 'int32',
  [DataType.INT16]: 'int16',
  [DataType.UINT16]: 'uint16',
  [DataType.INT8]: 'int8',
  [DataType.UINT8]: 'uint8',
  [DataType.BOOL]: 'bool',
};

/** ORT's type name for an ONNX element type, or undefined when the verifier cannot feed it. */
export function ortTypeName(dt: DataType): string | undefined {
  return ORT_TYPES[dt];
}

/** The ONNX element type of an ORT type name ('float32' → FLOAT), or undefined. */
export function dataTypeOfOrt(name: string): DataType | undefined {
  const found = Object.entries(ORT_TYPES).find(([, n]) => n === name);
  return found ? (Number(found[0]) as DataType) : undefined;
}

const DEFAULT_INT_BOUND = 100;

/**
 * Parses a model (a path, or bytes) for its inputs and outputs. `label` ("original model")
 * starts any error message, so the user knows which of the two files is at fault.
 */
export function openModel(model: string | Uint8Array | LoadedModel, label: string): LoadedModel {
  if (typeof model !== 'string' && !(model instanceof Uint8Array)) return model;
  try {
    return typeof model === 'string' ? loadModelFile(model) : parseModelBytes(model);
  } catch (e) {
    if (e instanceof ModelLoadError) throw new VerifyError(`${label}: ${e.message}`);
    throw e;
  }
}

/** The graph inputs that are fed (not initializers, which old exporters list as inputs too). */
export function graphInputNames(loaded: LoadedModel): string[] {
  const inits = new Set(loaded.model.graph.initializers.map((t) => t.name));
  return loaded.model.graph.inputs.map((i) => i.name).filter((n) => !inits.has(n));
}

export function inputSpecs(
  loaded: LoadedModel,
  inputShapes?: ReadonlyMap<string, readonly number[]>,
): InputSpec[] {
  const names = new Set(graphInputNames(loaded));
  for (const name of inputShapes?.keys() ?? []) {
    if (!names.has(name)) {
      throw new VerifyError(
        `--input ${name}: the model has no input '${name}' (inputs: ${[...names].join(', ')})`,
      );
    }
  }
  const specs: InputSpec[] = [];
  for (const vi of loaded.model.graph.inputs) {
    if (!names.has(vi.name)) continue;
    const type = vi.type;
    if (!type || type.kind !== 'tensor') {
      throw new VerifyError(`input '${vi.name}' is not a tensor; only tensor inputs can be fed`);
    }
    const dtype = ortTypeName(type.elemType);
    if (!dtype) {
      throw new VerifyError(
        `input '${vi.name}' is ${dtypeName(type.elemType)}; verify feeds ${Object.values(ORT_TYPES).join(', ')}`,
      );
    }
    const fixed = inputShapes?.get(vi.name);
    if (fixed && type.shape && fixed.length !== type.shape.length) {
      throw new VerifyError(
        `--input ${vi.name}: rank ${fixed.length}, the model declares rank ${type.shape.length}`,
      );
    }
    if (!fixed && !type.shape) {
      throw new VerifyError(
        `input '${vi.name}' has no declared shape; give it with --input ${vi.name}=DIMS`,
      );
    }
    const dims = fixed ? [...fixed] : type.shape!.map((d) => (typeof d === 'number' ? d : 1));
    specs.push({
      name: vi.name,
      dataType: type.elemType,
      dtype,
      declared: type.shape,
      dims,
      intBound: intBound(loaded, vi.name),
    });
  }
  return specs;
}

/** The largest id an integer input may take: the smallest embedding table it indexes. */
function intBound(loaded: LoadedModel, name: string): number {
  const inits = new Map(loaded.model.graph.initializers.map((t) => [t.name, t]));
  let bound = DEFAULT_INT_BOUND;
  for (const n of loaded.model.graph.nodes) {
    if (n.opType !== 'Gather' || n.domain !== '' || n.inputs[1] !== name) continue;
    const table = inits.get(n.inputs[0]);
    if (!table || table.dims.length === 0) continue;
    let axis = n.attributes.find((a) => a.name === 'axis')?.i ?? 0;
    if (axis < 0) axis += table.dims.length;
    const rows = table.dims[axis];
    if (rows !== undefined && rows > 0) bound = Math.min(bound, rows);
  }
  return bound;
}

/** mulberry32 seeded from (seed, stream): small, fast, and the same in every JS engine. */
export function seededRandom(seed: number, stream: number): () => number {
  let a = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 1, 0xc2b2ae35)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Box–Muller, both values of each pair used. */
function normals(rand: () => number, n: number, into: (i: number, v: number) => void): void {
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const theta = 2 * Math.PI * rand();
    into(i, r * Math.cos(theta));
    if (i + 1 < n) into(i + 1, r * Math.sin(theta));
  }
}

/** Seeded random inputs for every graph input of `model` (see the file comment for ranges). */
export function randomInputs(
  model: string | Uint8Array | LoadedModel,
  options: RandomInputOptions = {},
): InputSet {
  const loaded = openModel(model, 'model');
  return randomInputsFor(inputSpecs(loaded, options.inputShapes), options);
}

/** As randomInputs, from specs already read (the verifier reads them once). */
export function randomInputsFor(
  specs: readonly InputSpec[],
  options: { seed?: number; sample?: number } = {},
): InputSet {
  const rand = seededRandom(options.seed ?? 0, options.sample ?? 0);
  const set: InputSet = {};
  for (const spec of specs) set[spec.name] = randomTensor(spec, rand);
  return set;
}

function randomTensor(spec: InputSpec, rand: () => number): InputTensor {
  const n = elementCount(spec.dims);
  const dims = [...spec.dims];
  const lower = spec.name.toLowerCase();
  const constant = lower.includes('mask')
    ? 1
    : lower.includes('token_type') || lower.includes('segment')
      ? 0
      : undefined;
  switch (spec.dtype) {
    case 'float32': {
      const data = new Float32Array(n);
      normals(rand, n, (i, v) => (data[i] = v));
      return { data, dims, dtype: spec.dtype };
    }
    case 'float64': {
      const data = new Float64Array(n);
      normals(rand, n, (i, v) => (data[i] = v));
      return { data, dims, dtype: spec.dtype };
    }
    case 'float16': {
      const data = new Uint16Array(n);
      normals(rand, n, (i, v) => (data[i] = floatToHalf(v)));
      return { data, dims, dtype: spec.dtype };
    }
    case 'uint8':
      return {
        data: Uint8Array.from({ length: n }, () => constant ?? Math.floor(rand() * 256)),
        dims,
        dtype: spec.dtype,
      };
    case 'bool':
      return {
        data: Uint8Array.from({ length: n }, () => constant ?? (rand() < 0.5 ? 1 : 0)),
        dims,
        dtype: spec.dtype,
      };
    default: {
      const ints = Array.from({ length: n }, () => constant ?? Math.floor(rand() * spec.intBound));
      return { data: typedFrom(spec.dtype, ints), dims, dtype: spec.dtype };
    }
  }
}

/** A typed array of ORT dtype `dtype` holding `values` (float16 as half-precision bits). */
function typedFrom(dtype: string, values: ArrayLike<number>): TensorArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'float16':
      return Uint16Array.from(values, floatToHalf);
    case 'int64':
      return BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v))));
    case 'int32':
      return Int32Array.from(values, Math.trunc);
    case 'int16':
      return Int16Array.from(values, Math.trunc);
    case 'uint16':
      return Uint16Array.from(values, Math.trunc);
    case 'int8':
      return Int8Array.from(values, Math.trunc);
    case 'uint8':
      return Uint8Array.from(values, Math.trunc);
    case 'bool':
      return Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0));
    default:
      throw new VerifyError(`cannot make ${dtype} tensors`);
  }
}

/** The values of a tensor as numbers (float16 decoded from its bits). */
export function tensorValues(t: InputTensor): Float64Array {
  const out = new Float64Array(t.data.length);
  if (t.dtype === 'float16') {
    for (let i = 0; i < out.length; i++) out[i] = halfToFloat(Number(t.data[i]));
  } else {
    for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  }
  return out;
}

/** The same values at another dtype; the tensor itself when the dtype already matches. */
export function coerceInput(t: InputTensor, dtype: string): InputTensor {
  if (t.dtype === dtype) return t;
  return { data: typedFrom(dtype, tensorValues(t)), dims: [...t.dims], dtype };
}

const halfScratch = new DataView(new ArrayBuffer(4));

/** float → IEEE half bits, round to nearest even; overflow to ±Infinity. */
export function floatToHalf(v: number): number {
  halfScratch.setFloat32(0, v);
  const x = halfScratch.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// User inputs from a folder.

export interface FolderInputs {
  /** One input set per sample, in natural folder order. */
  readonly sets: InputSet[];
  /** Each sample's folder (or the folder itself for a single sample; each image's file), for messages. */
  readonly sampleNames: string[];
  /** From labels.json / labels.txt when present, or from an image folder's class folders. */
  readonly labels?: number[];
  /**
   * What was assumed to read the folder, one sentence each, for the user: for images without
   * a full preprocess.json, "assumed: NCHW, grey (1-channel input), resize to 28×28, …".
   */
  readonly notes?: string[];
}

const TENSOR_FILE = /\.(npy|pb)$/i;

/** What a folder holds: tensor files (one sample, or sample subfolders), or images. */
type FolderContent =
  | { kind: 'tensors'; topFiles: string[]; sampleDirs: string[] }
  | { kind: 'images'; listing: ImageListing };

function folderContent(dir: string): FolderContent {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VerifyError(
      code === 'ENOENT'
        ? `${dir}: no such folder`
        : code === 'ENOTDIR'
          ? `${dir} is a file; give the folder that holds the input files`
          : `${dir}: cannot read (${(e as Error).message})`,
    );
  }
  const topFiles = entries
    .filter((e) => e.isFile() && TENSOR_FILE.test(e.name))
    .map((e) => e.name)
    .sort(byNaturalName);
  const sampleDirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .filter((d) => fs.readdirSync(path.join(dir, d)).some((f) => TENSOR_FILE.test(f)))
    .sort(byNaturalName);
  if (topFiles.length > 0 && sampleDirs.length > 0) {
    throw new VerifyError(
      `${dir}: put the input files either directly in the folder (one sample) or in sample subfolders, not both`,
    );
  }
  // Tensor files win, so a folder of .npy samples with a stray picture reads as before.
  if (topFiles.length > 0 || sampleDirs.length > 0)
    return { kind: 'tensors', topFiles, sampleDirs };
  const listing = listImageFolder(dir);
  if (!listing) {
    throw new VerifyError(
      `${dir}: no .npy or .pb input files (nor sample subfolders with them), and no .png/.jpg images (nor class folders with them)`,
    );
  }
  return { kind: 'images', listing };
}

/**
 * The samples of a data folder: tensor files (see the file comment) or images (see
 * src/core/data/imageFolder.ts), for the model inputs `specs`.
 */
export function readInputsDir(dir: string, specs: readonly InputSpec[]): FolderInputs {
  const content = folderContent(dir);
  if (content.kind === 'images') {
    const images = readImageFolder(dir, content.listing, specs);
    const spec = specs[0];
    return {
      sets: images.tensors.map((t) => ({ [spec.name]: coerceInput(t, spec.dtype) })),
      sampleNames: images.sampleNames,
      ...(images.labels ? { labels: images.labels } : {}),
      notes: images.notes,
    };
  }
  const { topFiles, sampleDirs } = content;
  const sets: InputSet[] = [];
  const sampleNames: string[] = [];
  if (topFiles.length > 0) {
    sets.push(readSample(dir, topFiles, specs));
    sampleNames.push(dir);
  } else {
    for (const d of sampleDirs) {
      const sub = path.join(dir, d);
      const files = fs
        .readdirSync(sub)
        .filter((f) => TENSOR_FILE.test(f))
        .sort(byNaturalName);
      sets.push(readSample(sub, files, specs));
      sampleNames.push(sub);
    }
  }
  return { sets, sampleNames, labels: readLabelFile(dir)?.values };
}

/**
 * What reading `dir` for `specs` would assume (FolderInputs.notes), without reading the samples:
 * for a caller that hands the folder to the verifier or the calibration and shows the notes.
 */
export function inputsDirNotes(dir: string, specs: readonly InputSpec[]): string[] {
  const content = folderContent(dir);
  if (content.kind === 'tensors') return [];
  const { assumed } = imageFolderPipeline(dir, specs);
  return assumed ? [assumed] : [];
}

const fileSafe = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, '_');

function readSample(dir: string, files: readonly string[], specs: readonly InputSpec[]): InputSet {
  const set: InputSet = {};
  for (const file of files) {
    const full = path.join(dir, file);
    const { tensor, tensorName } = readTensorFile(full);
    const stem = file.replace(TENSOR_FILE, '');
    const numbered = /^input_(\d+)$/.exec(stem);
    const spec =
      specs.find((s) => tensorName !== undefined && s.name === tensorName) ??
      specs.find((s) => s.name === stem || fileSafe(s.name) === stem) ??
      (numbered ? specs[Number(numbered[1])] : undefined);
    if (!spec) {
      throw new VerifyError(
        `${full} matches no model input (inputs: ${specs.map((s) => s.name).join(', ')})`,
      );
    }
    if (set[spec.name]) throw new VerifyError(`${dir}: two files for input '${spec.name}'`);
    checkShape(spec, tensor.dims, full);
    set[spec.name] = coerceInput(tensor, spec.dtype);
  }
  const missing = specs.filter((s) => !set[s.name]).map((s) => `'${s.name}'`);
  if (missing.length > 0) {
    throw new VerifyError(`${dir}: no file for input ${missing.join(', ')}`);
  }
  return set;
}

function checkShape(spec: InputSpec, dims: readonly number[], file: string): void {
  const declared = spec.declared;
  if (!declared) return;
  const ok =
    declared.length === dims.length &&
    declared.every((d, i) => typeof d !== 'number' || d === dims[i]);
  if (!ok) {
    const want = declared.map((d) => (typeof d === 'number' ? d : d || '?')).join('x');
    throw new VerifyError(
      `${file}: shape ${dims.join('x') || 'scalar'} does not fit input '${spec.name}' (${want || 'scalar'})`,
    );
  }
}

/** Reads a .npy or TensorProto .pb file; `tensorName` is the TensorProto's name, if any. */
export function readTensorFile(file: string): { tensor: InputTensor; tensorName?: string } {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new VerifyError(`${file}: cannot read (${(e as Error).message})`);
  }
  if (/\.npy$/i.test(file)) {
    const a = readNpy(bytes, file);
    return { tensor: { data: a.data, dims: a.dims, dtype: a.dtype } };
  }
  let t;
  try {
    t = decodeTensor(bytes);
  } catch (e) {
    throw new VerifyError(`${file}: not a TensorProto (${(e as Error).message})`);
  }
  const dtype = ortTypeName(t.dataType);
  if (!dtype) {
    throw new VerifyError(`${file}: ${dtypeName(t.dataType)} tensors are not supported`);
  }
  let values: number[];
  try {
    values = tensorNumbers(t);
  } catch (e) {
    throw new VerifyError(`${file}: ${(e as Error).message}`);
  }
  return {
    tensor: { data: typedFrom(dtype, values), dims: [...t.dims], dtype },
    tensorName: t.name || undefined,
  };
}
