import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { makeTensor } from '../../../src/core/onnx/build';
import { writeTensor } from '../../../src/core/onnx/encode';
import { DataType } from '../../../src/core/onnx/types';
import { WireWriter } from '../../../src/core/onnx/wire';
import {
  readNpy,
  readTensorFile,
  runModel,
  verifyModels,
  VerifyError,
  writeNpy,
} from '../../../src/core/verify';
import { ModelBuilder } from '../../helpers/modelBuilder';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-inputs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function pb(name: string, dtype: DataType, dims: number[], values: number[]): Uint8Array {
  const w = new WireWriter();
  writeTensor(w, makeTensor(name, dtype, dims, values));
  return Buffer.concat(w.parts());
}

/** logits = x·M + bias·ones, with x [1,3]: the class is argmax of x·M. */
function classifier(m: readonly number[]): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('x', DataType.FLOAT, [1, 3]);
  const w = b.initializer('m', DataType.FLOAT, [3, 3], m);
  b.node('MatMul', [x, w], {}, { outputs: ['logits'] });
  b.output('logits', DataType.FLOAT, [1, 3]);
  return b.bytes();
}
const IDENTITY = [1, 0, 0, 0, 1, 0, 0, 0, 1];
const SWAP_1_2 = [1, 0, 0, 0, 0, 1, 0, 1, 0];

describe('.npy', () => {
  it('round-trips every supported dtype', () => {
    const cases = [
      { dtype: 'float32', data: Float32Array.from([1.5, -2, 3]) },
      { dtype: 'float64', data: Float64Array.from([1.5, -2, 3]) },
      { dtype: 'int64', data: BigInt64Array.from([1n, -2n, 3n]) },
      { dtype: 'int32', data: Int32Array.from([1, -2, 3]) },
      { dtype: 'uint8', data: Uint8Array.from([1, 2, 255]) },
      { dtype: 'bool', data: Uint8Array.from([1, 0, 1]) },
    ] as const;
    for (const c of cases) {
      const bytes = writeNpy({ dtype: c.dtype, dims: [1, 3], data: c.data });
      assert.equal((bytes.length - c.data.byteLength) % 64, 0, 'data aligned to 64 bytes');
      const back = readNpy(bytes);
      assert.equal(back.dtype, c.dtype);
      assert.deepEqual(back.dims, [1, 3]);
      assert.deepEqual(
        Array.from(back.data as ArrayLike<unknown>),
        Array.from(c.data as ArrayLike<unknown>),
      );
    }
  });

  it('reads a version 2 header and a 1-D shape', () => {
    const header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".padEnd(51, ' ') + '\n';
    const bytes = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]),
      Buffer.from(new Uint32Array([header.length]).buffer),
      Buffer.from(header),
      Buffer.from(Float32Array.from([7, 8]).buffer),
    ]);
    const a = readNpy(bytes);
    assert.deepEqual(a.dims, [2]);
    assert.deepEqual(Array.from(a.data as Float32Array), [7, 8]);
  });

  it('refuses big-endian, Fortran order, other dtypes and truncation with clear messages', () => {
    const good = writeNpy({ dtype: 'float32', dims: [2], data: Float32Array.from([1, 2]) });
    const text = Buffer.from(good).toString('latin1');
    const patch = (from: string, to: string): Uint8Array =>
      Buffer.from(text.replace(from, to), 'latin1');
    assert.throws(() => readNpy(patch("'<f4'", "'>f4'")), /big-endian/);
    assert.throws(() => readNpy(patch("'<f4'", "'<c8'")), /'<c8' is not supported/);
    assert.throws(() => readNpy(patch('False', 'True ')), /Fortran order/);
    assert.throws(() => readNpy(good.subarray(0, good.length - 1)), /needs 8/);
    assert.throws(() => readNpy(Buffer.from('hello world')), VerifyError);
  });
});

describe('input folders', () => {
  it('reads numbered sample folders of .npy files with labels, and the labelled metrics', async () => {
    // Original predictions (argmax of x): 0 0 1 1 2 2. The compressed model swaps classes 1
    // and 2, so it predicts 0 0 2 2 1 1. Labels: 0 1 1 1 2 0.
    const xs = [
      [3, 1, 0],
      [2, 0, 1],
      [0, 5, 1],
      [1, 2, 0],
      [0, 1, 4],
      [1, 0, 2],
    ];
    const labels = [0, 1, 1, 1, 2, 0];
    const dir = path.join(root, 'npy');
    xs.forEach((x, i) => {
      fs.mkdirSync(path.join(dir, String(i)), { recursive: true });
      fs.writeFileSync(
        path.join(dir, String(i), 'x.npy'),
        writeNpy({ dtype: 'float32', dims: [1, 3], data: Float32Array.from(x) }),
      );
    });
    fs.writeFileSync(path.join(dir, 'labels.json'), JSON.stringify(labels));
    const r = await verifyModels(classifier(IDENTITY), classifier(SWAP_1_2), { inputsDir: dir });
    assert.equal(r.samples, 6);
    assert.equal(r.inputSource, 'folder');
    assert.equal(r.top1Agreement, 2 / 6);
    const l = r.labelled!;
    assert.ok(l);
    assert.equal(l.accuracyOriginal, 4 / 6);
    assert.equal(l.accuracyCompressed, 1 / 6);
    // confusion[label][predicted] of the compressed model.
    assert.deepEqual(l.confusion, [
      [1, 1, 0],
      [1, 0, 2],
      [0, 1, 0],
    ]);
    assert.deepEqual(l.recall, [1 / 2, 0, 0]);
    // p_o = 1/6; p_e = (2·2 + 3·2 + 1·2) / 36 = 1/3; κ = (1/6 − 1/3) / (1 − 1/3) = −1/4.
    assert.ok(Math.abs(l.kappa - -0.25) < 1e-12, String(l.kappa));

    // Labels given in the options override the folder's, and must match the row count.
    const same = await verifyModels(classifier(IDENTITY), classifier(IDENTITY), {
      inputsDir: dir,
      labels: [0, 0, 1, 1, 2, 2],
    });
    assert.equal(same.labelled!.accuracyCompressed, 1);
    assert.equal(same.labelled!.kappa, 1);
    await assert.rejects(
      verifyModels(classifier(IDENTITY), classifier(IDENTITY), { inputsDir: dir, labels: [0] }),
      /1 labels for 6 predictions/,
    );
  });

  it('reads TensorProto .pb files by tensor name, stem or input_K, converting dtypes', async () => {
    const b = new ModelBuilder();
    const ids = b.input('input_ids', DataType.INT64, [1, 3]);
    const scale = b.input('scale', DataType.FLOAT, [1, 3]);
    const f = b.node('Cast', [ids], { to: DataType.FLOAT })[0];
    b.node('Mul', [f, scale], {}, { outputs: ['y'] });
    b.output('y', DataType.FLOAT, [1, 3]);
    const model = b.bytes();

    const dir = path.join(root, 'pb');
    // ONNX test-data layout: the tensor's own name decides, file names are positional.
    fs.mkdirSync(path.join(dir, 'test_data_set_0'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'test_data_set_0', 'input_0.pb'),
      pb('scale', DataType.FLOAT, [1, 3], [1, 2, 3]),
    );
    fs.writeFileSync(
      path.join(dir, 'test_data_set_0', 'input_1.pb'),
      pb('input_ids', DataType.INT64, [1, 3], [4, 5, 6]),
    );
    // Unnamed tensors: by file stem; int32 ids converted to the model's int64.
    fs.mkdirSync(path.join(dir, 'test_data_set_1'));
    fs.writeFileSync(
      path.join(dir, 'test_data_set_1', 'input_ids.pb'),
      pb('', DataType.INT32, [1, 3], [1, 1, 1]),
    );
    fs.writeFileSync(
      path.join(dir, 'test_data_set_1', 'scale.npy'),
      writeNpy({ dtype: 'float64', dims: [1, 3], data: Float64Array.from([0.5, 0.5, 0.5]) }),
    );
    const read = readTensorFile(path.join(dir, 'test_data_set_0', 'input_1.pb'));
    assert.equal(read.tensorName, 'input_ids');
    assert.deepEqual(Array.from(read.tensor.data as BigInt64Array), [4n, 5n, 6n]);

    const r = await verifyModels(model, model, { inputsDir: dir });
    assert.equal(r.samples, 2);
    assert.equal(r.sqnrDb, Infinity);

    const out = await runModel(model, {
      input_ids: readTensorFile(path.join(dir, 'test_data_set_0', 'input_1.pb')).tensor,
      scale: readTensorFile(path.join(dir, 'test_data_set_0', 'input_0.pb')).tensor,
    });
    assert.deepEqual(Array.from(out.y.data), [4, 10, 18]);
  });

  it('reads one sample from files directly in the folder', async () => {
    const dir = path.join(root, 'flat');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'x.npy'),
      writeNpy({ dtype: 'float32', dims: [1, 3], data: Float32Array.from([0, 0, 1]) }),
    );
    const r = await verifyModels(classifier(IDENTITY), classifier(SWAP_1_2), { inputsDir: dir });
    assert.equal(r.samples, 1);
    assert.equal(r.top1Agreement, 0);
  });

  it('explains folder mistakes in one line', async () => {
    const model = classifier(IDENTITY);
    const bad = path.join(root, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(
      path.join(bad, 'x.npy'),
      writeNpy({ dtype: 'float32', dims: [1, 4], data: new Float32Array(4) }),
    );
    await assert.rejects(
      verifyModels(model, model, { inputsDir: bad }),
      /shape 1x4 does not fit input 'x' \(1x3\)/,
    );
    fs.renameSync(path.join(bad, 'x.npy'), path.join(bad, 'image.npy'));
    await assert.rejects(verifyModels(model, model, { inputsDir: bad }), /matches no model input/);
    await assert.rejects(
      verifyModels(model, model, { inputsDir: path.join(root, 'missing') }),
      /no such folder/,
    );
    const empty = path.join(root, 'empty');
    fs.mkdirSync(empty);
    await assert.rejects(verifyModels(model, model, { inputsDir: empty }), /no .npy or .pb/);
  });
});
