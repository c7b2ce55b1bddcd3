/**
 * Image data folders read through readInputsDir give exactly the tensors that the same
 * normalised pixels give as .npy files, with labels from the class folders (or classes.txt),
 * and the preprocessing that was assumed said in one sentence.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { decode as decodeJpeg, encode as encodeJpeg } from 'jpeg-js';
import { DataType, type Dim } from '../../../src/core/onnx/types';
import {
  inputsDirNotes,
  readInputsDir,
  writeNpy,
  type FolderInputs,
  type InputSpec,
} from '../../../src/core/verify';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-images-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function spec(declared: Dim[], dtype = 'float32'): InputSpec {
  return {
    name: 'x',
    dataType: dtype === 'uint8' ? DataType.UINT8 : DataType.FLOAT,
    dtype,
    declared,
    dims: declared.map((d) => (typeof d === 'number' ? d : 1)),
    intBound: 100,
  };
}

/** An image's pixels: `channels` bytes per pixel (1 grey, 3 RGB), row by row. */
interface Pixels {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** A deterministic pattern, different for each `seed`, using the whole 0–255 range. */
function pattern(width: number, height: number, channels: 1 | 3, seed: number): Pixels {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + seed * 101 + (i >> 3) * 11) % 256;
  return { width, height, channels, data };
}

function rgba(p: Pixels): Buffer {
  const out = Buffer.alloc(p.width * p.height * 4);
  for (let i = 0; i < p.width * p.height; i++) {
    for (let c = 0; c < 3; c++)
      out[i * 4 + c] = p.data[i * p.channels + (p.channels === 1 ? 0 : c)];
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** Written with pngjs's encoder: 8-bit grey or RGB as the pixels are. */
function writePng(file: string, p: Pixels): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const png = new PNG({ width: p.width, height: p.height });
  png.data = rgba(p);
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: p.channels === 1 ? 0 : 2 }));
}

/** The .npy layout of the same samples: one subfolder per sample holding x.npy. */
function writeNpySamples(
  dir: string,
  tensors: Float32Array[],
  dims: number[],
  labels?: number[],
): void {
  tensors.forEach((data, i) => {
    fs.mkdirSync(path.join(dir, String(i)), { recursive: true });
    fs.writeFileSync(
      path.join(dir, String(i), 'x.npy'),
      writeNpy({ dtype: 'float32', dims, data }),
    );
  });
  if (labels) fs.writeFileSync(path.join(dir, 'labels.txt'), labels.join('\n'));
}

/** NCHW (or NHWC) float32 of (pixel / 255 − mean) / std, the documented formula. */
function normalised(
  p: Pixels,
  { mean = [0, 0, 0], std = [1, 1, 1], bgr = false, nhwc = false } = {},
): Float32Array {
  const n = p.width * p.height;
  const out = new Float32Array(n * p.channels);
  for (let c = 0; c < p.channels; c++) {
    const from = bgr ? 2 - c : c;
    for (let i = 0; i < n; i++) {
      const v = (p.data[i * p.channels + from] / 255 - mean[c]) / std[c];
      out[nhwc ? i * p.channels + c : c * n + i] = v;
    }
  }
  return out;
}

function assertSameInputs(images: FolderInputs, npy: FolderInputs): void {
  assert.equal(images.sets.length, npy.sets.length);
  images.sets.forEach((set, i) => {
    assert.deepEqual(set.x.dims, npy.sets[i].x.dims, `sample ${i} dims`);
    assert.equal(set.x.dtype, npy.sets[i].x.dtype);
    assert.deepEqual(set.x.data, npy.sets[i].x.data, `sample ${i} values`);
  });
  assert.deepEqual(images.labels, npy.labels);
}

describe('an image folder reads as the same tensors as .npy files of its pixels', () => {
  test('grey class folders, no preprocess.json: labels from the sorted folders, values /255', (t) => {
    const root = tempDir(t);
    const images = path.join(root, 'images');
    const s = spec(['N', 1, 4, 5]);
    // Sorted as Python's sorted(): "10_boot" before "2_shirt".
    const classes = ['2_shirt', '10_boot', 'bag'];
    const samples: Pixels[] = [];
    const labels: number[] = [];
    for (const [id, name] of [...classes].sort().entries()) {
      for (let k = 0; k < 2; k++) {
        const p = pattern(5, 4, 1, samples.length);
        writePng(path.join(images, name, `img${k}.png`), p);
        samples.push(p);
        labels.push(id);
      }
    }
    const npyDir = path.join(root, 'npy');
    writeNpySamples(
      npyDir,
      samples.map((p) => normalised(p)),
      [1, 1, 4, 5],
      labels,
    );

    const fromImages = readInputsDir(images, [s]);
    assertSameInputs(fromImages, readInputsDir(npyDir, [s]));
    assert.deepEqual(fromImages.labels, [0, 0, 1, 1, 2, 2]);
    assert.equal(path.basename(path.dirname(fromImages.sampleNames[0])), '10_boot');
    const sentence =
      'assumed: NCHW, grey (1-channel input), resize to 4×5, scale 1/255, no mean/std (no preprocess.json)';
    assert.deepEqual(fromImages.notes, [sentence]);
    assert.deepEqual(inputsDirNotes(images, [s]), [sentence]);
    assert.deepEqual(inputsDirNotes(npyDir, [s]), []);
  });

  test('classes.txt gives the ids: line index, whatever the folder order', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'cat', 'a.png'), pattern(3, 3, 1, 1));
    writePng(path.join(root, 'dog', 'a.png'), pattern(3, 3, 1, 2));
    fs.writeFileSync(path.join(root, 'classes.txt'), 'bird\ndog\ncat\n');
    assert.deepEqual(readInputsDir(root, [spec([1, 1, 3, 3])]).labels, [2, 1]);
  });

  test('RGB PNG and JPEG, flat, preprocess.json with BGR, NHWC, mean and std', (t) => {
    const root = tempDir(t);
    const images = path.join(root, 'images');
    const s = spec([1, 4, 6, 3]);
    const png = pattern(6, 4, 3, 7);
    writePng(path.join(images, 'a.png'), png);
    // JPEG is lossy: the expected pixels are what the decoder gives back.
    const jpegBytes = encodeJpeg({ width: 6, height: 4, data: rgba(pattern(6, 4, 3, 8)) }, 95).data;
    fs.writeFileSync(path.join(images, 'b.jpg'), jpegBytes);
    const decoded = decodeJpeg(jpegBytes, { useTArray: true, formatAsRGBA: false });
    const jpg: Pixels = { width: 6, height: 4, channels: 3, data: decoded.data };
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    fs.writeFileSync(
      path.join(images, 'preprocess.json'),
      JSON.stringify({
        scale: '1/255',
        mean,
        std,
        channels: 'bgr',
        layout: 'NHWC',
        resize: [4, 6],
      }),
    );
    const npyDir = path.join(root, 'npy');
    const options = { mean, std, bgr: true, nhwc: true };
    writeNpySamples(npyDir, [normalised(png, options), normalised(jpg, options)], [1, 4, 6, 3]);

    const fromImages = readInputsDir(images, [s]);
    assertSameInputs(fromImages, readInputsDir(npyDir, [s]));
    assert.deepEqual(fromImages.notes, [], 'preprocess.json said everything');
  });

  test('RGB images for a 1-channel input become grey (PIL luma), and the note says so', (t) => {
    const root = tempDir(t);
    const p: Pixels = {
      width: 2,
      height: 1,
      channels: 3,
      data: Uint8Array.from([255, 0, 0, 10, 200, 30]),
    };
    writePng(path.join(root, 'a.png'), p);
    const read = readInputsDir(root, [spec([1, 1, 1, 2])]);
    // L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
    assert.deepEqual(
      [...read.sets[0].x.data].map((v) => Math.round(Number(v) * 255)),
      [76, 124],
    );
    assert.match(read.notes![0], /grey \(1-channel input\)/);
  });

  test('resize and centre crop as torchvision: a constant image stays constant, offsets round', (t) => {
    const root = tempDir(t);
    const flat: Pixels = {
      width: 40,
      height: 30,
      channels: 3,
      data: new Uint8Array(40 * 30 * 3).fill(51),
    };
    writePng(path.join(root, 'flat.png'), flat);
    fs.writeFileSync(path.join(root, 'preprocess.json'), '{"resize": 16, "crop": 12}');
    const read = readInputsDir(root, [spec(['N', 3, 12, 12])]);
    assert.deepEqual(read.sets[0].x.dims, [1, 3, 12, 12]);
    assert.ok(read.sets[0].x.data.every((v) => v === Math.fround(51 / 255)));

    // Halving [0, 60, 120, 180]: triangle weights ¾, ¾, ¼ around each centre, clipped at the
    // border and normalised (PIL's BILINEAR), → 75 / 1.75 and 240 / 1.75.
    const halve = path.join(root, 'halve');
    writePng(path.join(halve, 'row.png'), {
      width: 4,
      height: 1,
      channels: 1,
      data: Uint8Array.of(0, 60, 120, 180),
    });
    const halved = readInputsDir(halve, [spec([1, 1, 1, 2])]);
    assert.deepEqual(
      [...halved.sets[0].x.data],
      [43, 137].map((p) => Math.fround(p / 255)),
    );

    // Crop alone picks the middle: (5 − 3) / 2 = 1 row and column in.
    const crop = path.join(root, 'crop');
    const grid: Pixels = {
      width: 5,
      height: 5,
      channels: 1,
      data: Uint8Array.from({ length: 25 }, (_, i) => i),
    };
    writePng(path.join(crop, 'g.png'), grid);
    fs.writeFileSync(path.join(crop, 'preprocess.json'), '{"crop": 3, "scale": 1}');
    const cropped = readInputsDir(crop, [spec([1, 1, 3, 3])]);
    assert.deepEqual([...cropped.sets[0].x.data], [6, 7, 8, 11, 12, 13, 16, 17, 18]);
  });

  test('a uint8 input gets raw pixel values', (t) => {
    const root = tempDir(t);
    const p = pattern(2, 2, 1, 3);
    writePng(path.join(root, 'a.png'), p);
    const read = readInputsDir(root, [spec([1, 1, 2, 2], 'uint8')]);
    assert.equal(read.sets[0].x.dtype, 'uint8');
    assert.deepEqual([...read.sets[0].x.data], [...p.data]);
    assert.match(read.notes![0], /scale 1 \(uint8 input\)/);
  });
});

describe('a bad image folder is one message naming the file', () => {
  const throwsNaming = (fn: () => unknown, pattern: RegExp): void => {
    assert.throws(fn, (e: Error) => {
      assert.equal(e.name, 'VerifyError');
      assert.match(e.message, pattern);
      return true;
    });
  };

  test('images of mixed sizes when nothing resizes them', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'a.png'), pattern(5, 4, 1, 1));
    writePng(path.join(root, 'b.png'), pattern(6, 4, 1, 2));
    throwsNaming(
      () => readInputsDir(root, [spec(['N', 1, 'H', 'W'])]),
      /b\.png: 1×1×4×6 after preprocessing, but .*a\.png gives 1×1×4×5; images of mixed sizes need an exact "resize": \[h, w\] or a "crop"/,
    );
  });

  test('an empty class folder', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'cat', 'a.png'), pattern(3, 3, 1, 1));
    fs.mkdirSync(path.join(root, 'dog'));
    fs.writeFileSync(path.join(root, 'dog', 'notes.txt'), 'no images here');
    throwsNaming(() => readInputsDir(root, [spec([1, 1, 3, 3])]), /dog: an empty class folder/);
  });

  test('labels outside the classes of classes.txt', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'a.png'), pattern(3, 3, 1, 1));
    writePng(path.join(root, 'b.png'), pattern(3, 3, 1, 2));
    fs.writeFileSync(path.join(root, 'classes.txt'), 'shirt\nboot\n');
    fs.writeFileSync(path.join(root, 'labels.txt'), '1 2');
    throwsNaming(
      () => readInputsDir(root, [spec([1, 1, 3, 3])]),
      /labels\.txt: label 2 \(entry 2\) is outside the 2 classes of classes\.txt \(0–1\)/,
    );
  });

  test('a class folder that classes.txt does not list', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'cat', 'a.png'), pattern(3, 3, 1, 1));
    fs.writeFileSync(path.join(root, 'classes.txt'), 'dog\n');
    throwsNaming(
      () => readInputsDir(root, [spec([1, 1, 3, 3])]),
      /cat: a class folder not listed in .*classes\.txt/,
    );
  });

  test('a preprocess.json that does not parse: where and what', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'a.png'), pattern(3, 3, 1, 1));
    fs.writeFileSync(path.join(root, 'preprocess.json'), '{\n  "resize": 3,\n  "crop": 3,\n}\n');
    throwsNaming(
      () => readInputsDir(root, [spec([1, 1, 3, 3])]),
      /preprocess\.json: not valid JSON, line 4, column 1 \(/,
    );
  });

  test('a preprocess.json field of the wrong kind, with its line', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'a.png'), pattern(3, 3, 1, 1));
    fs.writeFileSync(
      path.join(root, 'preprocess.json'),
      '{\n  "resize": 3,\n  "std": [0, 1, 1]\n}',
    );
    throwsNaming(
      () => readInputsDir(root, [spec([1, 1, 3, 3])]),
      /preprocess\.json, line 3: "std" must be a number or 3 numbers, one per channel, above 0/,
    );
  });

  test('preprocess.json channels that the input cannot take', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'a.png'), pattern(3, 3, 3, 1));
    fs.writeFileSync(path.join(root, 'preprocess.json'), '{"channels": "rgb"}');
    throwsNaming(
      () => readInputsDir(root, [spec([1, 1, 3, 3])]),
      /preprocess\.json: "channels": "rgb" gives 3 channels, input 'x' \(1×1×3×3\) takes 1/,
    );
  });

  test('a 5-channel input cannot take images', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'a.png'), pattern(3, 3, 3, 1));
    throwsNaming(
      () => readInputsDir(root, [spec(['N', 5, 8, 8])]),
      /input 'x' \(N×5×8×8\) has 5 channels \(NCHW\); images give 1 \(grey\) or 3 \(RGB\)/,
    );
  });

  test('images smaller than the crop', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'small.png'), pattern(3, 3, 1, 1));
    fs.writeFileSync(path.join(root, 'preprocess.json'), '{"crop": 4}');
    throwsNaming(
      () => readInputsDir(root, [spec([1, 1, 4, 4])]),
      /small\.png: 3×3 \(w×h\) is smaller than the crop 4×4/,
    );
  });

  test('a file with an image extension that is not an image', (t) => {
    const root = tempDir(t);
    fs.writeFileSync(path.join(root, 'a.png'), 'not a picture');
    throwsNaming(() => readInputsDir(root, [spec([1, 1, 3, 3])]), /a\.png: not a PNG or JPEG file/);
  });

  test('images for a model with two inputs', (t) => {
    const root = tempDir(t);
    writePng(path.join(root, 'a.png'), pattern(3, 3, 1, 1));
    const two = [spec([1, 1, 3, 3]), { ...spec([1, 4]), name: 'y' }];
    throwsNaming(
      () => readInputsDir(root, two),
      /feeds a model with one input; this one has 2 \(x, y\)/,
    );
  });
});
