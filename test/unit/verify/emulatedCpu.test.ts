/**
 * The verifier's figure does not depend on the CPU, shown on two CPUs: this one, and an emulated
 * AVX2 CPU without VNNI (`qemu-x86_64 -cpu Haswell`), where ONNX Runtime's fused u8s8 kernels
 * saturate (16-bit sums of two u8·s8 products). The as-written figure is the same on both; the
 * fused one drops there, with the warning, and `--reduce-range` removes the drop.
 * Runs where qemu-user is installed (scripts/testData.sh installs it as root).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder, seededRandom } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const cli = path.resolve(__dirname, '../../../dist/cli.js');
const qemu = spawnSync('sh', ['-c', 'command -v qemu-x86_64'], { encoding: 'utf8' }).stdout.trim();

interface VerifyJson {
  sqnrDb: number;
  top1Agreement: number;
  hostKernels?: { sqnrDb: number; top1Agreement: number; warning?: string };
}

/** `model-lens verify --json`, natively or on the emulated Haswell CPU. */
function verify(emulated: boolean, ...args: string[]): VerifyJson {
  const node = [process.execPath, cli, 'verify', ...args, '--json'];
  const [cmd, ...rest] = emulated ? [qemu, '-cpu', 'Haswell', ...node] : node;
  const r = spawnSync(cmd, rest, { encoding: 'utf8', timeout: 300_000 });
  assert.equal(
    r.status,
    0,
    r.stderr
      .split('\n')
      .filter((l) => !l.includes('TCG'))
      .join('\n'),
  );
  return JSON.parse(r.stdout) as VerifyJson;
}

function compress(model: string, out: string, ...args: string[]): void {
  const r = spawnSync(process.execPath, [cli, 'compress', model, '-o', out, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
}

/**
 * Sigmoid → Conv with positive weights → ReLU → Conv: the first Conv's input is uint8 in
 * [0, 255] and mostly above 128, its weights int8 near 127, so adjacent u8·s8 products sum past
 * 32767 everywhere.
 */
function saturatingNet(file: string): void {
  const b = new ModelBuilder({ opset: 13 });
  const random = seededRandom(5);
  const x = b.input('x', DataType.FLOAT, [1, 16, 8, 8]);
  const [s] = b.node('Sigmoid', [x]);
  const w = b.initializer(
    'w',
    DataType.FLOAT,
    [8, 16, 3, 3],
    Array.from({ length: 8 * 16 * 9 }, () => 0.6 + 0.4 * random()),
  );
  const [c] = b.node('Conv', [s, w], { pads: [1, 1, 1, 1] });
  // A quantized reader after the Conv, so that ORT fuses DQ → Conv → Q into QLinearConv.
  const [r] = b.node('Relu', [c]);
  const [c2] = b.node('Conv', [r, b.weight('w2', [8, 8, 1, 1])]);
  b.classifierHead(c2, 8);
  saveModelFile(b.build(), file);
}

describe(
  'verification on an emulated AVX2 CPU without VNNI',
  {
    skip: !qemu
      ? 'qemu-x86_64 is not installed (apt-get install qemu-user)'
      : !fs.existsSync(cli)
        ? 'dist/cli.js not built'
        : false,
  },
  () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-haswell-'));
    });

    test('W8A8: the same as-written figure on both CPUs; the fused one drops there with the warning, and not with --reduce-range', () => {
      const model = path.join(dir, 'net.onnx');
      saturatingNet(model);
      const w8a8 = path.join(dir, 'net.w8a8.onnx');
      const reduced = path.join(dir, 'net.w8a8r.onnx');
      compress(model, w8a8, '--quantize', 'int8', '--per-channel', '--activations', 'auto');
      const r = ['--reduce-range', '--per-channel', '--activations', 'auto'];
      compress(model, reduced, '--quantize', 'int8', ...r);

      const native = verify(false, model, w8a8);
      const haswell = verify(true, model, w8a8);
      const haswellReduced = verify(true, model, reduced);
      const db = (v: number | undefined) => v?.toFixed(1);
      console.log(
        `as written: ${db(native.sqnrDb)} dB here, ${db(haswell.sqnrDb)} dB on Haswell; fused kernels: ${db(native.hostKernels?.sqnrDb)} dB here, ${db(haswell.hostKernels?.sqnrDb)} dB on Haswell, ${db(haswellReduced.hostKernels?.sqnrDb)} dB with --reduce-range`,
      );
      assert.ok(Math.abs(native.sqnrDb - haswell.sqnrDb) < 0.05, 'as written: the same on both');
      assert.ok(haswell.sqnrDb > 30, `as written ${haswell.sqnrDb} dB`);
      assert.ok(haswell.hostKernels!.sqnrDb < haswell.sqnrDb - 1, 'the fused kernels saturate');
      assert.match(haswell.hostKernels!.warning ?? '', /without VNNI.*--reduce-range/);
      assert.equal(haswellReduced.hostKernels!.warning, undefined);
      assert.ok(Math.abs(haswellReduced.hostKernels!.sqnrDb - haswellReduced.sqnrDb) <= 1);
    });

    const vgg = path.join(SHARED_MODELS_DIR, 'fmnist_vgg.onnx');
    const calib = path.resolve(SHARED_MODELS_DIR, '../data/fashion-mnist/calib64');
    test(
      'the trained fmnist_vgg, W8A8 calibrated on calib64: the same as-written figure and top-1 on both CPUs; the fused Haswell kernels warn',
      { skip: fs.existsSync(vgg) && fs.existsSync(calib) ? false : 'no ../shared/models or data' },
      () => {
        const w8a8 = path.join(dir, 'vgg.w8a8.onnx');
        compress(
          vgg,
          w8a8,
          '--quantize',
          'int8',
          '--per-channel',
          '--activations',
          'auto',
          '--calibration',
          calib,
        );
        // Four real images are enough to show it and keep the emulated run short.
        const samples = path.join(dir, 'four');
        for (const s of fs.readdirSync(calib).sort().slice(0, 4)) {
          fs.cpSync(path.join(calib, s), path.join(samples, s), { recursive: true });
        }
        const native = verify(false, vgg, w8a8, '--samples', samples);
        const haswell = verify(true, vgg, w8a8, '--samples', samples);
        console.log(
          `fmnist_vgg W8A8 on 4 images: as written ${native.sqnrDb.toFixed(1)} / ${haswell.sqnrDb.toFixed(1)} dB, fused on Haswell ${haswell.hostKernels?.sqnrDb.toFixed(1)} dB`,
        );
        assert.ok(Math.abs(native.sqnrDb - haswell.sqnrDb) < 0.05);
        assert.equal(haswell.top1Agreement, 1);
        assert.ok(haswell.hostKernels!.warning);
      },
    );
  },
);
