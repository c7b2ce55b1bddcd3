import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_DEVICES, loadDeviceProfiles } from '../../../src/core/devices';

test('every built-in has positive sizes and rates, bit widths and a source', () => {
  for (const d of BUILTIN_DEVICES) {
    const where = `built-in '${d.id}'`;
    assert.match(d.id, /^[a-z0-9-]+$/, where);
    assert.ok(d.name.length > 0, where);
    assert.ok(d.ramBytes > 0 && d.flashBytes > 0, where);
    assert.ok(d.onChipBytes === undefined || d.onChipBytes > 0, where);
    const rates = Object.values(d.macsPerSecond);
    assert.ok(rates.length > 0 && rates.every((r) => r > 0), where);
    assert.ok(d.supportedWeightBits.length > 0 && d.supportedActivationBits.length > 0, where);
    assert.ok(d.watts === undefined || d.watts > 0, where);
    assert.ok(d.source.length > 10, where);
  }
});

test('built-in ids are unique', () => {
  const ids = BUILTIN_DEVICES.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length);
});

test('the devices conventions.md asks for are all there', () => {
  const ids = new Set(BUILTIN_DEVICES.map((d) => d.id));
  for (const id of [
    'jetson-agx-xavier',
    'zynq-zu19eg',
    'raspberry-pi-3b-plus',
    'stm32h743',
    'stm32f746',
    'nrf52840',
    'esp32-s3',
    'rp2040',
    'ethos-u55-256',
    'coral-edge-tpu',
    'jetson-nano',
    'raspberry-pi-4',
    'raspberry-pi-5',
    'phone-npu',
  ]) {
    assert.ok(ids.has(id), id);
  }
});

test('the seed and datasheet figures conventions.md quotes are kept', () => {
  const byId = new Map(BUILTIN_DEVICES.map((d) => [d.id, d]));
  const xavier = byId.get('jetson-agx-xavier');
  assert.equal(xavier?.watts, 30);
  assert.equal(xavier?.macsPerSecond.fp32, 1300e9 / 2);
  assert.equal(xavier?.ramBytes, 16 * 2 ** 30);
  assert.equal(xavier?.onChipBytes, 2.9e6);
  assert.equal(byId.get('stm32h743')?.ramBytes, 2 ** 20);
  assert.equal(byId.get('stm32h743')?.flashBytes, 2 * 2 ** 20);
  assert.equal(byId.get('nrf52840')?.ramBytes, 256 * 1024);
  assert.equal(byId.get('coral-edge-tpu')?.onChipBytes, 8 * 2 ** 20);
  assert.deepEqual(byId.get('coral-edge-tpu')?.supportedWeightBits, [8]);
});

test('every built-in, written out as a user profile, passes user validation unchanged', () => {
  const loaded = loadDeviceProfiles(JSON.stringify(BUILTIN_DEVICES), 'builtins.json');
  assert.deepEqual(loaded, [...BUILTIN_DEVICES]);
});
