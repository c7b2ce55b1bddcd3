/**
 * PNG and JPEG files decoded to 8-bit RGBA pixels.
 *
 * Why pngjs + jpeg-js (pure JavaScript) rather than sharp (libvips):
 * - The same pixels on every machine. A verification figure must not depend on the machine
 *   (conventions.md, "Verification"); a JS decoder is exact arithmetic in every engine, while
 *   libvips and libjpeg-turbo pick SIMD paths by CPU.
 * - Nothing native to ship: esbuild bundles both into dist/*.js, so the VSIX keeps one native
 *   binary (ONNX Runtime's) and `npm run package -- --target …` still packs other platforms.
 *   sharp does install offline (its binaries are the registry packages @img/sharp-<platform> and
 *   @img/sharp-libvips-<platform>), but npm installs only this machine's, and libvips alone is
 *   18 MB per platform, about the size of the whole VSIX today.
 * - Fast where it matters. Measured on this project's 2-core machine (Node 20, shared): 1,000
 *   28×28 PNGs decode in 0.1 s with pngjs against 1.2–1.6 s with sharp, whose per-call
 *   overhead dominates small images; readInputsDir turns the 1,000 Fashion-MNIST test images
 *   into tensors in 0.1–0.3 s. A 500×375 photo through resize 256 + crop 224 takes about 15 ms
 *   (PNG) to 30 ms (JPEG: jpeg-js decodes in about 15 ms) against about 4.5 ms with sharp:
 *   slower, but small beside running an ImageNet-size model on it twice.
 */
import type * as Pngjs from 'pngjs';
import type * as JpegJs from 'jpeg-js';
import { VerifyError } from '../verify/npy';

// Required on first decode, not imported: this module is reached from the analysis (analyze →
// weightSqnr → verify/inputs → data), and evaluating pngjs (with zlib, stream, assert) and jpeg-js
// cost every CLI run ~6 ms of its start-up for images it never reads.
let pngModule: typeof Pngjs | undefined;
let jpegModule: typeof JpegJs | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pngjs = (): typeof Pngjs => (pngModule ??= require('pngjs') as typeof Pngjs);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jpegJs = (): typeof JpegJs => (jpegModule ??= require('jpeg-js') as typeof JpegJs);

export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  /** Interleaved R, G, B, A bytes, row by row (grey images have R = G = B). */
  readonly rgba: Uint8Array;
}

export const IMAGE_FILE = /\.(png|jpe?g)$/i;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

const startsWith = (bytes: Uint8Array, magic: readonly number[]): boolean =>
  magic.every((b, i) => bytes[i] === b);

/** Decodes by content, not by extension: a `.jpg` that is really a PNG still reads. */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  try {
    if (startsWith(bytes, PNG_MAGIC)) {
      // 16-bit PNGs are scaled to 8 bits (pngjs's default), as PIL's convert('RGB'/'L') does.
      const png = pngjs().PNG.sync.read(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      );
      return { width: png.width, height: png.height, rgba: png.data };
    }
    if (startsWith(bytes, JPEG_MAGIC)) {
      const jpg = jpegJs().decode(bytes, { useTArray: true, formatAsRGBA: true });
      return { width: jpg.width, height: jpg.height, rgba: jpg.data };
    }
  } catch (e) {
    throw new VerifyError(`${file}: cannot decode the image (${(e as Error).message})`);
  }
  throw new VerifyError(`${file}: not a PNG or JPEG file`);
}
