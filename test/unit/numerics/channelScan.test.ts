/**
 * The weight scan of the bit-width hints (numerics/channelScan.ts): the WebAssembly kernel against
 * a plain loop, for every layout and storage, and the batch with reads in flight against the
 * one-at-a-time scan, from memory, from the opened file and from a side file, truncated included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  SAMPLE_LIMIT,
  scanChannels,
  scanChannelsBatch,
  type ChannelLayout,
  type ChannelScan,
  type ScanRequest,
} from '../../../src/core/numerics/channelScan';
import { floatToHalfBits } from '../../../src/core/compress/convertFloat';
import { analyzeLoaded, analyzeLoadedAsync } from '../../../src/core/analyze';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { payloadSource } from '../../../src/core/onnx/lazyFile';
import { tensorNumbers } from '../../../src/core/onnx/tensorData';
import { DataType, type Tensor } from '../../../src/core/onnx/types';
import { binarySource, compileScanKernel } from '../../../scripts/buildWasm.mjs';
import { SCAN_KERNEL_WASM } from '../../../src/core/numerics/scanKernelBinary';
import { saveWithSideFile } from '../../helpers/externalData';
import { makeTensor, ModelBuilder, seededRandom } from '../../helpers/modelBuilder';
import { payloadLastModel } from '../../helpers/payloadLast';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-scan-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The scan written out plainly: channel of value i = floor(i / inner) mod channels. */
function reference(values: ArrayLike<number>, { channels, inner }: ChannelLayout): ChannelScan {
  const n = values.length;
  const maxAbs = new Float64Array(channels);
  const sumAbs = new Float64Array(channels);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / inner) % channels;
    const a = Math.abs(values[i]);
    if (a > maxAbs[c]) maxAbs[c] = a;
    sumAbs[c] += a;
  }
  const stride = n > SAMPLE_LIMIT ? Math.ceil(n / SAMPLE_LIMIT) : 1;
  const samples: number[] = [];
  const sampleChannels: number[] = [];
  for (let i = 0; i < n; i += stride) {
    samples.push(values[i]);
    sampleChannels.push(Math.floor(i / inner) % channels);
  }
  return {
    maxAbs,
    sumAbs,
    samples: Float64Array.from(samples),
    sampleChannels: Int32Array.from(sampleChannels),
    sampled: stride > 1,
  };
}

function assertSameScan(actual: ChannelScan, expected: ChannelScan, what: string): void {
  assert.deepEqual(actual.maxAbs, expected.maxAbs, `${what}: maxima`);
  assert.deepEqual(actual.samples, expected.samples, `${what}: sample`);
  assert.deepEqual(actual.sampleChannels, expected.sampleChannels, `${what}: sample channels`);
  assert.equal(actual.sampled, expected.sampled, `${what}: sampled`);
  for (let c = 0; c < expected.sumAbs.length; c++) {
    // The kernel adds four lanes apart; the order changes only the last bits.
    const e = expected.sumAbs[c];
    const a = actual.sumAbs[c];
    const same = Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= 1e-12 * Math.max(1, e);
    assert.ok(same, `${what}: sum ${c}: ${a} vs ${e}`);
  }
}

/** Values of varied scale per position, with exact zeros, a negative zero and a NaN. */
function values(n: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * 10 ** Math.floor(rand() * 4 - 2);
  out[1] = 0;
  out[2] = -0;
  if (n > 7) out[7] = NaN;
  return out;
}

test('the kernel binary is what scripts/buildWasm.mjs makes of scanKernel.wat', async () => {
  const source = binarySource(await compileScanKernel());
  assert.equal(source.match(/'([^']+)'/)![1], SCAN_KERNEL_WASM);
});

test('per-channel max and sum match a plain loop for every layout, across read blocks', () => {
  // Shapes around the channel axis: runs (inner ≥ 16) and columns (inner < 16, outer > 1),
  // tensors past one 1 MiB block (262,144 floats) with runs cut by the block edge, and tails
  // shorter than four values.
  const cases: Array<{ dims: number[]; axis: number }> = [
    { dims: [7, 3, 5, 5], axis: 0 },
    { dims: [64, 4099], axis: 0 },
    { dims: [300, 1001], axis: 0 },
    { dims: [1001, 300], axis: 1 },
    { dims: [3, 17, 7], axis: 1 },
    { dims: [90, 33, 3, 3], axis: 1 },
    { dims: [5, 7], axis: 1 },
    { dims: [1, 1, 3, 3], axis: 0 },
    { dims: [13], axis: 0 },
    { dims: [16, 1, 3, 3], axis: 0 },
  ];
  for (const [k, { dims, axis }] of cases.entries()) {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = values(n, k + 1);
    const layout = {
      channels: dims[axis],
      inner: dims.slice(axis + 1).reduce((a, b) => a * b, 1),
    };
    const tensor = makeTensor('w', DataType.FLOAT, dims, data);
    assertSameScan(
      scanChannels(tensor, layout, undefined),
      reference(data, layout),
      `${dims} axis ${axis}`,
    );
  }
});

test('other types are converted a chunk at a time and scanned the same way', () => {
  const data = values(3 * 70_000, 4).map((v) => (Number.isNaN(v) ? 0 : v));
  const layout = { channels: 3, inner: 70_000 };
  const float16 = makeTensor('h', DataType.FLOAT16, [3, 70_000], Array.from(data, floatToHalfBits));
  const halves = tensorNumbers(float16);
  assertSameScan(scanChannels(float16, layout, undefined), reference(halves, layout), 'float16');
  const ints = Array.from(data, (v) => Math.max(-127, Math.min(127, Math.round(v * 50))) + 0);
  const int8 = makeTensor('q', DataType.INT8, [3, 70_000], ints);
  assertSameScan(scanChannels(int8, layout, undefined), reference(ints, layout), 'int8');
  const double = makeTensor('d', DataType.DOUBLE, [3, 70_000], Array.from(data));
  assertSameScan(scanChannels(double, layout, undefined), reference(data, layout), 'double');
});

/** A model of three MatMul weights, two of them past one read block. */
function threeWeights(): ReturnType<ModelBuilder['build']> {
  const b = new ModelBuilder({ seed: 3 });
  const x = b.input('x', DataType.FLOAT, [1, 600]);
  const [h1] = b.node('MatMul', [x, b.weight('w1', [600, 700])]);
  const [h2] = b.node('MatMul', [h1, b.weight('w2', [700, 40])]);
  const [y] = b.node('MatMul', [h2, b.weight('w3', [40, 500])]);
  b.output(y);
  return b.build();
}

async function batch(
  tensors: readonly Tensor[],
  ext: Parameters<typeof scanChannels>[2],
): Promise<Map<string, ChannelScan | Error>> {
  const requests: ScanRequest[] = tensors.map((tensor) => ({
    tensor,
    layout: { channels: tensor.dims[1], inner: 1 },
  }));
  const out = new Map<string, ChannelScan | Error>();
  await scanChannelsBatch(requests, ext, (r, result) => out.set(r.tensor.name, result));
  return out;
}

test('the batch with reads in flight equals one scan at a time: memory, the opened file, a side file', async (t) => {
  const dir = tempDir(t);
  const model = threeWeights();
  const inline = path.join(dir, 'inline.onnx');
  saveModelFile(model, inline);
  const side = path.join(dir, 'side.onnx');
  saveWithSideFile(model, side);
  for (const [what, loaded] of [
    ['memory', { model, external: undefined }],
    ['file', loadModelFile(inline)],
    ['side file', loadModelFile(side)],
  ] as const) {
    const tensors = loaded.model.graph.initializers;
    if (what === 'file') assert.ok(payloadSource(tensors[0].rawData!), 'w1 is left in the file');
    const results = await batch(tensors, loaded.external);
    assert.equal(results.size, 3);
    for (const tensor of tensors) {
      const expected = scanChannels(
        tensor,
        { channels: tensor.dims[1], inner: 1 },
        loaded.external,
      );
      const got = results.get(tensor.name)!;
      assert.ok(!(got instanceof Error), `${what}: ${tensor.name} scanned`);
      assertSameScan(got, expected, `${what}: ${tensor.name}`);
    }
  }
});

test('a truncated payload stops its own weight only, and the async analysis reports it as the sync one', async (t) => {
  const dir = tempDir(t);
  const bytes = payloadLastModel(threeWeights(), 'w1');
  const file = path.join(dir, 'cut.onnx');
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 1000));
  const loaded = loadModelFile(file);
  const results = await batch(loaded.model.graph.initializers, undefined);
  assert.match(String(results.get('w1')), /tensor 'w1'.*truncated/);
  assert.ok(!(results.get('w2') instanceof Error) && !(results.get('w3') instanceof Error));

  const sync = analyzeLoaded(loadModelFile(file), { weightFormats: true });
  const async = await analyzeLoadedAsync(loadModelFile(file), { weightFormats: true });
  assert.deepEqual(async, sync);
  assert.ok(
    async.diagnostics.some((d) => /w1/.test(d.message) && /truncated/.test(d.message)),
    'the unreadable weight is a diagnostic',
  );
});

test('a side file shorter than its offsets: the async analysis reports it as the sync one', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'm.onnx');
  saveWithSideFile(threeWeights(), file);
  fs.truncateSync(`${file}.data`, fs.statSync(`${file}.data`).size - 100);
  const sync = analyzeLoaded(loadModelFile(file));
  const async = await analyzeLoadedAsync(loadModelFile(file));
  assert.deepEqual(async, sync);
  assert.ok(async.diagnostics.some((d) => /runs past the end/.test(d.message)));
});
