/**
 * `model-lens devices FILE`: every device profile with the model's verdict on it, the same as
 * `check --device` gives one device at a time; without a file, the plain list as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BUILTIN_DEVICES } from '../../../src/core/devices';
import { saveModelFile } from '../../../src/core/onnx/load';
import { DataType } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';

const CLI = path.resolve(__dirname, '../../../dist/cli.js');
const skip = fs.existsSync(CLI) ? false : 'dist/cli.js not built (npm run build)';

const run = (...args: string[]): { code: number; out: string } => {
  try {
    return { code: 0, out: execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' }) };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { code: err.status, out: err.stdout };
  }
};

test('devices FILE: each profile with the verdict check gives for it', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-devices-'));
  try {
    // A 1 M-parameter Gemm: 4 MB of float weights, too much flash for the small MCUs.
    const b = new ModelBuilder({ seed: 2 });
    const x = b.input('x', DataType.FLOAT, [1, 1024]);
    const [y] = b.node('Gemm', [x, b.weight('w', [1024, 1024])], { transB: 1 });
    b.output(y, DataType.FLOAT, [1, 1024]);
    const file = path.join(dir, 'big.onnx');
    saveModelFile(b.build(), file);

    const listed = JSON.parse(run('devices', file, '--json').out) as {
      id: string;
      fit?: { fits: boolean; weightUse: number };
    }[];
    assert.deepEqual(
      listed.map((d) => d.id),
      BUILTIN_DEVICES.map((d) => d.id),
    );
    for (const id of ['stm32h743', 'nrf52840', 'raspberry-pi-4']) {
      const d = listed.find((l) => l.id === id)!;
      const check = run('check', file, '--device', id, '--json');
      const verdict = JSON.parse(check.out) as { device: { fits: boolean; weightUse: number } };
      assert.equal(d.fit?.fits, verdict.device.fits, id);
      assert.equal(check.code, verdict.device.fits ? 0 : 1);
      assert.ok(Math.abs(d.fit!.weightUse - verdict.device.weightUse) < 1e-12, id);
    }
    assert.equal(listed.find((l) => l.id === 'nrf52840')?.fit?.fits, false);
    const table = run('devices', file).out;
    assert.match(table, /verdict/);
    assert.match(table.split('\n').find((l) => l.startsWith('nrf52840')) ?? '', /DOES NOT FIT/);
    // Without a model: the profiles alone, no verdict column.
    assert.doesNotMatch(run('devices').out, /verdict/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
