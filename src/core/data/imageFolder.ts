/**
 * A data folder of images, in one of two layouts:
 * - class folders, torchvision's ImageFolder convention: `DIR/<class>/**.png|jpg|jpeg`, the
 *   label of an image being its folder's index in `classes.txt` when present, else in the
 *   sorted list of class folders. Sorted as Python's sorted() does (by code point, so "10"
 *   before "2"), which is what ImageFolder gave the model its ids by;
 * - flat: images directly in DIR, labelled (optionally) by labels.txt / labels.json in the
 *   images' order.
 * Each image is one sample, in natural file-name order (class by class). How an image becomes
 * the input tensor is preprocess.ts's, from DIR/preprocess.json or the model's input shape.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InputSpec, InputTensor } from '../verify/inputs';
import { VerifyError } from '../verify/npy';
import { decodeImage, IMAGE_FILE } from './decode';
import { CLASSES_FILE, readClassesFile, readLabelFile } from './labels';
import { imagePipeline, preprocessImage, type ImagePipeline } from './preprocess';
import { PREPROCESS_FILE, readPreprocessConfig } from './preprocessConfig';

export interface ImageListing {
  readonly layout: 'classes' | 'flat';
  /** Every image, in sample order. */
  readonly files: string[];
  /** One per image: from the class folders, or from labels.txt / labels.json. */
  readonly labels?: number[];
}

export interface ImageFolderInputs {
  /** One float32 tensor per image, shaped for the input. */
  readonly tensors: InputTensor[];
  readonly sampleNames: string[];
  readonly labels?: number[];
  /** What was assumed about the preprocessing, for the user. */
  readonly notes: string[];
}

export const byNaturalName = (a: string, b: string): number =>
  a.localeCompare(b, 'en', { numeric: true, sensitivity: 'base' });
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
// Dot folders and files (.ipynb_checkpoints, .DS_Store) are tool litter, never samples.
const visible = (name: string): boolean => !name.startsWith('.');

/** DIR's images and labels, or undefined when DIR holds no images at all. */
export function listImageFolder(dir: string): ImageListing | undefined {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => visible(e.name));
  const top = entries
    .filter((e) => e.isFile() && IMAGE_FILE.test(e.name))
    .map((e) => path.join(dir, e.name))
    .sort(byNaturalName);
  const folders = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort(byCodePoint);
  const imagesIn = new Map(folders.map((f) => [f, imagesUnder(path.join(dir, f))]));
  const classFolders = folders.filter((f) => imagesIn.get(f)!.length > 0);
  if (top.length === 0 && classFolders.length === 0) return undefined;
  if (top.length > 0 && classFolders.length > 0) {
    throw new VerifyError(
      `${dir}: put the images either directly in the folder or in class folders (${classFolders[0]}/ …), not both`,
    );
  }
  const labelFile = readLabelFile(dir);
  const classes = readClassesFile(dir);
  if (top.length > 0) {
    if (labelFile && classes) {
      const bad = labelFile.values.findIndex((v) => v >= classes.names.length);
      if (bad >= 0) {
        throw new VerifyError(
          `${labelFile.file}: label ${labelFile.values[bad]} (entry ${bad + 1}) is outside the ${classes.names.length} classes of ${CLASSES_FILE} (0–${classes.names.length - 1})`,
        );
      }
    }
    if (labelFile && labelFile.values.length !== top.length) {
      throw new VerifyError(
        `${labelFile.file}: ${labelFile.values.length} labels for ${top.length} images (one per image, in file-name order)`,
      );
    }
    return { layout: 'flat', files: top, ...(labelFile ? { labels: labelFile.values } : {}) };
  }
  if (labelFile) {
    throw new VerifyError(
      `${labelFile.file}: the images are in class folders, which give their labels; remove ${path.basename(labelFile.file)}`,
    );
  }
  const empty = folders.find((f) => imagesIn.get(f)!.length === 0);
  if (empty !== undefined) {
    throw new VerifyError(
      `${path.join(dir, empty)}: an empty class folder (no .png, .jpg or .jpeg images)`,
    );
  }
  const ids = new Map((classes?.names ?? classFolders).map((name, i) => [name, i]));
  const files: string[] = [];
  const labels: number[] = [];
  for (const folder of classFolders) {
    const id = ids.get(folder);
    if (id === undefined) {
      throw new VerifyError(
        `${path.join(dir, folder)}: a class folder not listed in ${classes!.file}`,
      );
    }
    for (const file of imagesIn.get(folder)!) {
      files.push(file);
      labels.push(id);
    }
  }
  return { layout: 'classes', files, labels };
}

/** The images anywhere under `folder` (ImageFolder looks into nested folders too). */
function imagesUnder(folder: string): string[] {
  return fs
    .readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((f) => IMAGE_FILE.test(f) && f.split(path.sep).every(visible))
    .sort(byNaturalName)
    .map((f) => path.join(folder, f));
}

/** The preprocessing of DIR's images for the model's only input. */
export function imageFolderPipeline(dir: string, specs: readonly InputSpec[]): ImagePipeline {
  if (specs.length !== 1) {
    throw new VerifyError(
      `${dir}: an image folder feeds a model with one input; this one has ${specs.length} (${specs.map((s) => s.name).join(', ')})`,
    );
  }
  const read = readPreprocessConfig(dir);
  try {
    return imagePipeline(specs[0], read?.config);
  } catch (e) {
    // The pipeline's messages name preprocess.json, or the input: give the whole path.
    if (!(e instanceof VerifyError)) throw e;
    const named = read && e.message.startsWith(PREPROCESS_FILE);
    throw new VerifyError(
      named ? read.file + e.message.slice(PREPROCESS_FILE.length) : `${dir}: ${e.message}`,
    );
  }
}

export function readImageFolder(
  dir: string,
  listing: ImageListing,
  specs: readonly InputSpec[],
): ImageFolderInputs {
  const pipeline = imageFolderPipeline(dir, specs);
  const tensors: InputTensor[] = [];
  let firstDims: number[] | undefined;
  for (const file of listing.files) {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      throw new VerifyError(`${file}: cannot read (${(e as Error).message})`);
    }
    const { data, dims } = preprocessImage(decodeImage(bytes, file), pipeline, file);
    // With no fixed H×W every image must come out the same size, or nothing can batch them.
    if (firstDims && dims.some((d, i) => d !== firstDims![i])) {
      throw new VerifyError(
        `${file}: ${dims.join('×')} after preprocessing, but ${listing.files[0]} gives ${firstDims.join('×')}; images of mixed sizes need an exact "resize": [h, w] or a "crop" in preprocess.json`,
      );
    }
    firstDims ??= dims;
    tensors.push({ data, dims, dtype: 'float32' });
  }
  return {
    tensors,
    sampleNames: [...listing.files],
    ...(listing.labels ? { labels: listing.labels } : {}),
    notes: pipeline.assumed ? [pipeline.assumed] : [],
  };
}
