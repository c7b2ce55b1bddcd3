/**
 * The rows of X whose Gram matrix XᵀX is a layer's H (layerGeometry.ts): one row per output
 * position, one column per weight column. For Conv that is im2col: the input window each output
 * pixel reads, with the padding's zeros, strides and dilations ONNX's Conv applies
 * (onnx/docs/Operators.md#Conv, auto_pad included). Rows come in chunks of bounded size, so a
 * folder whose one file holds a batch of a thousand images never builds a gigabyte matrix.
 *
 * Each chunk is [groups, rows, columns] row-major, float32, ready for the Gram product.
 */
import type { LayerGeometry } from './layerGeometry';

export interface PatchChunk {
  readonly data: Float32Array;
  readonly rows: number;
}

/** Rows × columns × groups per chunk, about 16 MB of float32. */
const CHUNK_ELEMENTS = 1 << 22;

/** The chunks of patch rows of `x` (dims `dims`) for the layer, each made when asked for. */
export function patchChunks(
  geometry: LayerGeometry,
  x: Float32Array,
  dims: readonly number[],
): Generator<PatchChunk> {
  switch (geometry.kind) {
    case 'conv':
      return convPatches(geometry, x, dims);
    case 'convTranspose':
      return channelRows(geometry, x, dims);
    default:
      return matrixRows(geometry, x, dims);
  }
}

/** Gemm/MatMul: the input already is rows × K (after transA's transpose). */
function* matrixRows(
  geometry: LayerGeometry,
  x: Float32Array,
  dims: readonly number[],
): Generator<PatchChunk> {
  const k = geometry.columns;
  if (dims.length === 0 || x.length % k !== 0) {
    throw new Error(`input of ${x.length} values is not a multiple of the weight's K = ${k}`);
  }
  const total = x.length / k;
  if (geometry.transposedInput) {
    // [K, M]: row m is column m of the input.
    const t = new Float32Array(x.length);
    for (let c = 0; c < k; c++) for (let m = 0; m < total; m++) t[m * k + c] = x[c * total + m];
    x = t;
  }
  const step = Math.max(1, Math.floor(CHUNK_ELEMENTS / k));
  for (let r = 0; r < total; r += step) {
    const rows = Math.min(step, total - r);
    yield { data: x.subarray(r * k, (r + rows) * k), rows };
  }
}

/** ConvTranspose: one row per input pixel, the group's channels as columns. */
function* channelRows(
  geometry: LayerGeometry,
  x: Float32Array,
  dims: readonly number[],
): Generator<PatchChunk> {
  const { groups, columns } = geometry;
  const [n, c] = dims;
  if (c !== groups * columns) {
    throw new Error(`input has ${c} channels; the weight expects ${groups * columns}`);
  }
  const pixels = dims.slice(2).reduce((a, b) => a * b, 1);
  const step = Math.max(1, Math.floor(CHUNK_ELEMENTS / (c || 1)));
  const total = n * pixels;
  for (let r0 = 0; r0 < total; r0 += step) {
    const rows = Math.min(step, total - r0);
    const out = new Float32Array(groups * rows * columns);
    for (let g = 0; g < groups; g++) {
      for (let r = 0; r < rows; r++) {
        const b = Math.floor((r0 + r) / pixels);
        const p = (r0 + r) % pixels;
        const base = (g * rows + r) * columns;
        for (let ch = 0; ch < columns; ch++) {
          out[base + ch] = x[(b * c + g * columns + ch) * pixels + p];
        }
      }
    }
    yield { data: out, rows };
  }
}

/** Begin/end padding per spatial dim, auto_pad resolved against the actual input size. */
export function resolvedPads(geometry: LayerGeometry, spatial: readonly number[]): number[] {
  const w = geometry.conv!;
  const s = spatial.length;
  if (w.autoPad === 'VALID') return new Array<number>(2 * s).fill(0);
  if (w.autoPad !== 'SAME_UPPER' && w.autoPad !== 'SAME_LOWER') return [...w.pads];
  const pads = new Array<number>(2 * s).fill(0);
  for (let d = 0; d < s; d++) {
    const out = Math.ceil(spatial[d] / w.strides[d]);
    const total = Math.max(
      0,
      (out - 1) * w.strides[d] + (w.kernel[d] - 1) * w.dilations[d] + 1 - spatial[d],
    );
    const small = Math.floor(total / 2);
    pads[d] = w.autoPad === 'SAME_UPPER' ? small : total - small;
    pads[d + s] = total - pads[d];
  }
  return pads;
}

/**
 * Conv im2col over 1–3 spatial dims (a lower rank is padded with unit dims). For each spatial
 * dim a table gives, per (output index, kernel offset), the input index or −1 in the padding.
 */
function* convPatches(
  geometry: LayerGeometry,
  x: Float32Array,
  dims: readonly number[],
): Generator<PatchChunk> {
  const w = geometry.conv!;
  const { groups, columns } = geometry;
  const spatial = dims.slice(2);
  const s = spatial.length;
  if (s !== w.kernel.length || s > 3) {
    throw new Error(`input rank ${dims.length} does not fit a ${w.kernel.length}-D kernel`);
  }
  const [n, c] = dims;
  const cg = w.channels;
  if (c !== groups * cg)
    throw new Error(`input has ${c} channels; the weight expects ${groups * cg}`);
  const pads = resolvedPads(geometry, spatial);
  const pad3 = (a: readonly number[], fill: number): number[] => [
    ...new Array<number>(3 - s).fill(fill),
    ...a,
  ];
  const size = pad3(spatial, 1);
  const kernel = pad3(w.kernel, 1);
  const begin = pad3(pads.slice(0, s), 0);
  const end = pad3(pads.slice(s), 0);
  const strides = pad3(w.strides, 1);
  const dil = pad3(w.dilations, 1);
  const out = size.map(
    (v, d) => Math.floor((v + begin[d] + end[d] - ((kernel[d] - 1) * dil[d] + 1)) / strides[d]) + 1,
  );
  if (out.some((o) => o < 1)) throw new Error('the kernel is larger than the padded input');
  const tables = size.map((len, d) => {
    const t = new Int32Array(out[d] * kernel[d]);
    for (let o = 0; o < out[d]; o++) {
      for (let k = 0; k < kernel[d]; k++) {
        const at = o * strides[d] - begin[d] + k * dil[d];
        t[o * kernel[d] + k] = at >= 0 && at < len ? at : -1;
      }
    }
    return t;
  });
  const window = kernel[0] * kernel[1] * kernel[2];
  const positions = out[0] * out[1] * out[2];
  const plane = size[0] * size[1] * size[2];
  const total = n * positions;
  const step = Math.max(1, Math.floor(CHUNK_ELEMENTS / (groups * columns)));
  for (let r0 = 0; r0 < total; r0 += step) {
    const rows = Math.min(step, total - r0);
    const chunk = new Float32Array(groups * rows * columns);
    for (let r = 0; r < rows; r++) {
      const b = Math.floor((r0 + r) / positions);
      let p = (r0 + r) % positions;
      const o2 = p % out[2];
      p = (p - o2) / out[2];
      const o1 = p % out[1];
      const o0 = (p - o1) / out[1];
      for (let g = 0; g < groups; g++) {
        const rowBase = (g * rows + r) * columns;
        for (let ch = 0; ch < cg; ch++) {
          const src = (b * c + g * cg + ch) * plane;
          let col = rowBase + ch * window;
          for (let k0 = 0; k0 < kernel[0]; k0++) {
            const i0 = tables[0][o0 * kernel[0] + k0];
            for (let k1 = 0; k1 < kernel[1]; k1++) {
              const i1 = tables[1][o1 * kernel[1] + k1];
              for (let k2 = 0; k2 < kernel[2]; k2++, col++) {
                const i2 = tables[2][o2 * kernel[2] + k2];
                if (i0 >= 0 && i1 >= 0 && i2 >= 0) {
                  chunk[col] = x[src + (i0 * size[1] + i1) * size[2] + i2];
                }
              }
            }
          }
        }
      }
    }
    yield { data: chunk, rows };
  }
}
