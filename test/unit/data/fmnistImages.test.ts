/**
 * The trained Fashion-MNIST model on real images: the first test1000 samples written back as
 * PNG class folders (pixel = round((x·0.3530 + 0.2860)·255), the inverse of the documented
 * normalisation), read with a preprocess.json of that mean and std, reach the model as the
 * same inputs as the .npy rows and get the same predictions. Skips without ../shared.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { loadModelFile } from '../../../src/core/onnx/load';
import {
  inputSpecs,
  readInputsDir,
  readNpy,
  verifyModels,
  writeNpy,
} from '../../../src/core/verify';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const MODEL = path.join(SHARED_MODELS_DIR, 'fmnist_vgg.onnx');
const TEST1000 = path.resolve(SHARED_MODELS_DIR, '../data/fashion-mnist/test1000');
const skip =
  fs.existsSync(MODEL) && fs.existsSync(path.join(TEST1000, 'input.npy'))
    ? false
    : 'no ../shared/models/fmnist_vgg.onnx or ../shared/data/fashion-mnist in this clone';

const CLASSES = [
  'T-shirt_top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle_boot',
];
const COUNT = 40;
const PIXELS = 28 * 28;

describe('Fashion-MNIST test images as PNG class folders', { skip }, () => {
  test('reach fmnist_vgg as the same inputs as test1000/input.npy, with the same predictions', async (t) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-fmnist-'));
    t.after(() => fs.rmSync(root, { recursive: true, force: true }));
    const npy = readNpy(fs.readFileSync(path.join(TEST1000, 'input.npy')), 'input.npy');
    const rows = npy.data as Float32Array;
    const labels = fs
      .readFileSync(path.join(TEST1000, 'labels.txt'), 'utf8')
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number)
      .slice(0, COUNT);

    const images = path.join(root, 'images');
    for (let i = 0; i < COUNT; i++) {
      const png = new PNG({ width: 28, height: 28 });
      for (let j = 0; j < PIXELS; j++) {
        const p = Math.round((rows[i * PIXELS + j] * 0.353 + 0.286) * 255);
        png.data.set([p, p, p, 255], j * 4);
      }
      const file = path.join(images, CLASSES[labels[i]], `${String(i).padStart(3, '0')}.png`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, PNG.sync.write(png, { colorType: 0 }));
    }
    // Ids from classes.txt: sorted folder names would give other ids than the dataset's.
    fs.writeFileSync(path.join(images, 'classes.txt'), CLASSES.join('\n'));
    fs.writeFileSync(path.join(images, 'preprocess.json'), '{"mean": 0.2860, "std": 0.3530}');

    const specs = inputSpecs(loadModelFile(MODEL));
    const folder = readInputsDir(images, specs);
    assert.equal(folder.sets.length, COUNT);
    assert.deepEqual(folder.notes, [
      'assumed: NCHW, grey (1-channel input), resize to 28×28, scale 1/255 (not in preprocess.json)',
    ]);
    folder.sets.forEach((set, k) => {
      const i = Number(path.basename(folder.sampleNames[k], '.png'));
      assert.equal(folder.labels![k], labels[i]);
      const tensor = set[specs[0].name];
      assert.deepEqual(tensor.dims, [1, 1, 28, 28]);
      const row = rows.subarray(i * PIXELS, (i + 1) * PIXELS);
      // numpy normalised in float32, we in float64: the same value up to float32 rounding.
      for (let j = 0; j < PIXELS; j++) {
        assert.ok(Math.abs(Number(tensor.data[j]) - row[j]) <= 1e-6, `image ${i} pixel ${j}`);
      }
    });

    // The same rows as one .npy batch: the model's predictions agree sample for sample
    // (the confusion matrix does not depend on the order).
    const npyDir = path.join(root, 'npy');
    fs.mkdirSync(npyDir);
    fs.writeFileSync(
      path.join(npyDir, `${specs[0].name}.npy`),
      writeNpy({ dtype: 'float32', dims: [COUNT, 1, 28, 28], data: rows.slice(0, COUNT * PIXELS) }),
    );
    fs.writeFileSync(path.join(npyDir, 'labels.txt'), labels.join(' '));
    const fromImages = await verifyModels(MODEL, MODEL, { inputsDir: images, hostKernels: false });
    const fromNpy = await verifyModels(MODEL, MODEL, { inputsDir: npyDir, hostKernels: false });
    assert.equal(fromImages.samples, COUNT);
    assert.deepEqual(fromImages.labelled?.confusion, fromNpy.labelled?.confusion);
    assert.equal(fromImages.labelled?.accuracyOriginal, fromNpy.labelled?.accuracyOriginal);
  });
});
