/**
 * From a decoded image to the model's input tensor. The steps, in torchvision's order (the way
 * most image models were trained): colour conversion (PIL's convert('L') / convert('RGB')),
 * resize, centre crop, scale, mean/std, channel order and layout.
 *
 * `imagePipeline` decides each step once per folder, from preprocess.json where it says, else
 * from the model's input shape (channels 1 or 3 at axis 1 → NCHW, at the last axis → NHWC;
 * height and width from the shape; values scaled to [0, 1]), and writes what it assumed as one
 * sentence for the user, since a wrong guess here silently ruins every figure after it.
 */
import type { InputSpec } from '../verify/inputs';
import { VerifyError } from '../verify/npy';
import type { DecodedImage } from './decode';
import {
  PREPROCESS_FILE,
  type ColorMode,
  type Layout,
  type PreprocessConfig,
  type Size,
} from './preprocessConfig';

export interface ImagePipeline {
  readonly channels: ColorMode;
  readonly layout: Layout;
  /** Tensor rank: 4 with a batch of 1 ([1,C,H,W] / [1,H,W,C]), or 3 without a batch axis. */
  readonly rank: 3 | 4;
  readonly resize?: { readonly shorterSide: number } | { readonly size: Size };
  readonly crop?: Size;
  readonly scale: number;
  /** One per channel (zeros without a mean). */
  readonly mean: readonly number[];
  /** One per channel (ones without a std). */
  readonly std: readonly number[];
  /** The height and width the input fixes, when it does. */
  readonly target?: Size;
  /** "assumed: NCHW, grey (1-channel input), … (no preprocess.json)"; undefined if nothing was. */
  readonly assumed?: string;
}

const INTEGER_DTYPES = new Set(['uint8', 'int8', 'uint16', 'int16', 'int32', 'int64']);

/** The steps that turn this folder's images into `spec`'s tensor; throws when none can. */
export function imagePipeline(
  spec: InputSpec,
  config: PreprocessConfig | undefined,
): ImagePipeline {
  const input = imageInput(spec, config?.layout);
  const channels = config?.channels ?? (input.channels === 1 ? 'grey' : 'rgb');
  const channelCount = channels === 'grey' ? 1 : 3;
  if (input.channels !== undefined && input.channels !== channelCount) {
    throw new VerifyError(
      `${PREPROCESS_FILE}: "channels": "${channels}" gives ${channelCount} channel${channelCount > 1 ? 's' : ''}, input ${input.described} takes ${input.channels}`,
    );
  }
  const { target } = input;
  // Without a size in the file, images are brought to the input's H×W (when it fixes them).
  const resize =
    config?.resize !== undefined
      ? typeof config.resize === 'number'
        ? { shorterSide: config.resize }
        : { size: config.resize }
      : config?.crop === undefined && target
        ? { size: target }
        : undefined;
  const integerInput = INTEGER_DTYPES.has(spec.dtype);
  const perChannel = (v: readonly number[] | undefined, fill: number, key: string): number[] => {
    if (!v) return Array<number>(channelCount).fill(fill);
    if (v.length === 1) return Array<number>(channelCount).fill(v[0]);
    if (v.length !== channelCount) {
      throw new VerifyError(
        `${PREPROCESS_FILE}: "${key}" has ${v.length} values for ${channelCount}-channel (${channels}) images`,
      );
    }
    return [...v];
  };
  const assumed = assumedSteps(config, input, channels, integerInput ? spec.dtype : undefined);
  return {
    channels,
    layout: input.layout,
    rank: input.rank,
    ...(resize ? { resize } : {}),
    ...(config?.crop ? { crop: config.crop } : {}),
    scale: config?.scale ?? (integerInput ? 1 : 1 / 255),
    mean: perChannel(config?.mean, 0, 'mean'),
    std: perChannel(config?.std, 1, 'std'),
    ...(target ? { target } : {}),
    ...(assumed ? { assumed } : {}),
  };
}

interface ImageInput {
  readonly rank: 3 | 4;
  readonly layout: Layout;
  /** 1 or 3 when the input fixes it. */
  readonly channels?: number;
  readonly target?: Size;
  /** "'x' (N×1×28×28)", for messages. */
  readonly described: string;
}

/** Where an image goes in the input: its rank, layout, channel count and size, as far as fixed. */
function imageInput(spec: InputSpec, layoutGiven: Layout | undefined): ImageInput {
  const dims = spec.declared ?? spec.dims;
  const described = `'${spec.name}' (${dims.map((d) => (typeof d === 'number' ? d : d || '?')).join('×')})`;
  if (dims.length !== 4 && dims.length !== 3) {
    throw new VerifyError(
      `input ${described} has rank ${dims.length}; images feed a rank-4 (N,C,H,W or N,H,W,C) or rank-3 input`,
    );
  }
  const rank = dims.length;
  // A symbolic dim counts as unknown unless --input / the setting fixed it (then dims holds it).
  const known = (i: number): number | undefined => {
    const d = spec.declared?.[i];
    return typeof d === 'number' ? d : spec.dims[i] !== 1 ? spec.dims[i] : undefined;
  };
  const batch = rank === 4 ? known(0) : undefined;
  if (batch !== undefined && batch !== 1) {
    throw new VerifyError(
      `input ${described} takes a batch of ${batch}; an image folder gives one image per sample (set the batch to 1 with --input)`,
    );
  }
  const first = rank - 3;
  const layout = layoutGiven ?? guessLayout(known(first), known(rank - 1));
  const [cAxis, hAxis, wAxis] =
    layout === 'NCHW' ? [first, first + 1, first + 2] : [first + 2, first, first + 1];
  const channels = known(cAxis);
  if (channels !== undefined && channels !== 1 && channels !== 3) {
    throw new VerifyError(
      `input ${described} has ${channels} channels (${layout}); images give 1 (grey) or 3 (RGB), so this input cannot take an image folder`,
    );
  }
  const [height, width] = [known(hAxis), known(wAxis)];
  return {
    rank,
    layout,
    ...(channels !== undefined ? { channels } : {}),
    ...(height !== undefined && width !== undefined ? { target: [height, width] as Size } : {}),
    described,
  };
}

/**
 * "assumed: NCHW, grey (1-channel input), resize to 28×28, scale 1/255, no mean/std (no
 * preprocess.json)": every step taken from the model or a default rather than from the file.
 */
function assumedSteps(
  config: PreprocessConfig | undefined,
  input: ImageInput,
  channels: ColorMode,
  integerDtype: string | undefined,
): string | undefined {
  const steps: string[] = [];
  if (!config?.layout) steps.push(input.layout);
  if (!config?.channels) {
    const name = channels === 'grey' ? 'grey' : 'RGB';
    steps.push(input.channels === undefined ? name : `${name} (${input.channels}-channel input)`);
  }
  if (config?.resize === undefined && config?.crop === undefined) {
    steps.push(
      input.target
        ? `resize to ${input.target[0]}×${input.target[1]}`
        : "no resize (the input's H×W are not fixed)",
    );
  }
  if (config?.scale === undefined) {
    steps.push(integerDtype ? `scale 1 (${integerDtype} input)` : 'scale 1/255');
  }
  if (!config?.mean && !config?.std) steps.push('no mean/std');
  if (steps.length === 0) return undefined;
  const why = config ? `not in ${PREPROCESS_FILE}` : `no ${PREPROCESS_FILE}`;
  return `assumed: ${steps.join(', ')} (${why})`;
}

/**
 * Where the channels are: NHWC when the last axis holds 1 or 3 and axis 1 does not; otherwise
 * NCHW, as most ONNX models are (an axis 1 of another known count is refused by the caller).
 */
function guessLayout(atAxis1: number | undefined, atLast: number | undefined): Layout {
  const isChannels = (d: number | undefined): boolean => d === 1 || d === 3;
  return isChannels(atLast) && !isChannels(atAxis1) ? 'NHWC' : 'NCHW';
}

/**
 * One image as the input tensor: float32 values in the pipeline's layout, dims with the batch
 * axis of 1 when the input has one. `file` names the image in messages.
 */
export function preprocessImage(
  image: DecodedImage,
  p: ImagePipeline,
  file: string,
): { data: Float32Array; dims: number[] } {
  const channelCount = p.channels === 'grey' ? 1 : 3;
  let pixels = convertColor(image, p.channels === 'grey');
  let height = image.height;
  let width = image.width;
  if (p.resize) {
    const [h, w] =
      'size' in p.resize ? p.resize.size : shorterSideSize(height, width, p.resize.shorterSide);
    if (h !== height || w !== width) {
      pixels = resizeTriangle(pixels, height, width, channelCount, h, w);
      height = h;
      width = w;
    }
  }
  if (p.crop) {
    const [h, w] = p.crop;
    if (h > height || w > width) {
      throw new VerifyError(
        `${file}: ${width}×${height} (w×h)${p.resize ? ' after the resize' : ''} is smaller than the crop ${w}×${h} of ${PREPROCESS_FILE}`,
      );
    }
    pixels = centreCrop(pixels, height, width, channelCount, h, w);
    height = h;
    width = w;
  }
  if (p.target && (p.target[0] !== height || p.target[1] !== width)) {
    throw new VerifyError(
      `${file}: becomes ${height}×${width} (h×w) with ${PREPROCESS_FILE}, the model's input takes ${p.target[0]}×${p.target[1]}`,
    );
  }
  const n = height * width;
  // A scale of 1/k is a division by k, as ToTensor's div(255): p / 255 is correctly rounded,
  // p * (1 / 255) not always, and a folder of .npy files made with numpy must match exactly.
  const k = Math.round(1 / p.scale);
  const divisor = k > 1 && 1 / k === p.scale ? k : undefined;
  const data = new Float32Array(n * channelCount);
  for (let c = 0; c < channelCount; c++) {
    // BGR: the model's channel c is the image's channel 2 − c.
    const from = p.channels === 'bgr' ? 2 - c : c;
    const mean = p.mean[c];
    const std = p.std[c];
    for (let i = 0; i < n; i++) {
      const pixel = pixels[i * channelCount + from];
      const v = ((divisor ? pixel / divisor : pixel * p.scale) - mean) / std;
      data[p.layout === 'NCHW' ? c * n + i : i * channelCount + c] = v;
    }
  }
  const chw = p.layout === 'NCHW' ? [channelCount, height, width] : [height, width, channelCount];
  return { data, dims: p.rank === 4 ? [1, ...chw] : chw };
}

/**
 * Grey: ITU-R 601-2 luma with PIL's fixed-point weights (convert('L')), so grey images made by
 * PIL from colour ones get the same values. RGB: alpha dropped, as convert('RGB') does.
 */
function convertColor(image: DecodedImage, grey: boolean): Uint8Array {
  const n = image.width * image.height;
  const src = image.rgba;
  if (grey) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * 4;
      out[i] = (src[o] * 19595 + src[o + 1] * 38470 + src[o + 2] * 7471 + 0x8000) >>> 16;
    }
    return out;
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = src[i * 4];
    out[i * 3 + 1] = src[i * 4 + 1];
    out[i * 3 + 2] = src[i * 4 + 2];
  }
  return out;
}

/** torchvision's Resize(int): the shorter side becomes `side`, the longer one int(side·long/short). */
function shorterSideSize(height: number, width: number, side: number): Size {
  if (height <= width) return [side, Math.floor((side * width) / height)];
  return [Math.floor((side * height) / width), side];
}

/**
 * Bilinear resampling with antialiasing, as PIL's resize(BILINEAR) (torchvision's default on
 * images): a triangle filter widened by the reduction factor when shrinking, so every source
 * pixel contributes; separable, rows first. Results are rounded back to 8 bits, as PIL's are.
 * The vertical pass adds whole rows, which keeps memory access sequential (about 4× faster on a
 * 500×375 photo than a pixel-by-pixel loop).
 */
function resizeTriangle(
  src: Uint8Array,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
): Uint8Array {
  const xs = triangleWeights(width, outWidth);
  const ys = triangleWeights(height, outHeight);
  const rowLength = outWidth * channels;
  const rows = new Float32Array(height * rowLength);
  for (let y = 0; y < height; y++) {
    const srcRow = y * width * channels;
    const dstRow = y * rowLength;
    for (let x = 0; x < outWidth; x++) {
      const taps = xs.taps[x];
      const w0 = x * xs.stride;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        let at = srcRow + xs.first[x] * channels + c;
        for (let k = 0; k < taps; k++, at += channels) sum += src[at] * xs.weights[w0 + k];
        rows[dstRow + x * channels + c] = sum;
      }
    }
  }
  const out = new Uint8Array(outHeight * rowLength);
  const sums = new Float64Array(rowLength);
  for (let y = 0; y < outHeight; y++) {
    sums.fill(0);
    for (let k = 0; k < ys.taps[y]; k++) {
      const w = ys.weights[y * ys.stride + k];
      const from = (ys.first[y] + k) * rowLength;
      for (let i = 0; i < rowLength; i++) sums[i] += rows[from + i] * w;
    }
    const to = y * rowLength;
    for (let i = 0; i < rowLength; i++)
      out[to + i] = Math.min(255, Math.max(0, Math.round(sums[i])));
  }
  return out;
}

/**
 * For each output pixel i: the first source pixel it reads (first[i]), how many (taps[i]), and
 * the normalised filter weights at weights[i·stride …].
 */
function triangleWeights(
  inSize: number,
  outSize: number,
): { first: Int32Array; taps: Int32Array; weights: Float64Array; stride: number } {
  const ratio = inSize / outSize;
  // Shrinking widens the filter to cover every source pixel (antialiasing); enlarging keeps ±1.
  const support = Math.max(1, ratio);
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const taps = new Int32Array(outSize);
  const weights = new Float64Array(outSize * stride);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * ratio;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize, Math.ceil(centre + support));
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      weights[i * stride + j - lo] = w;
      total += w;
    }
    for (let k = 0; k < hi - lo; k++) weights[i * stride + k] /= total;
    first[i] = lo;
    taps[i] = hi - lo;
  }
  return { first, taps, weights, stride };
}

/** torchvision's CenterCrop: the offset is round((size − crop) / 2), halves to even as Python. */
function centreCrop(
  src: Uint8Array,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
): Uint8Array {
  const top = roundHalfEven((height - outHeight) / 2);
  const left = roundHalfEven((width - outWidth) / 2);
  const out = new Uint8Array(outHeight * outWidth * channels);
  for (let y = 0; y < outHeight; y++) {
    const from = ((top + y) * width + left) * channels;
    out.set(src.subarray(from, from + outWidth * channels), y * outWidth * channels);
  }
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
