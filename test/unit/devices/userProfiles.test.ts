import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILTIN_DEVICES,
  DeviceProfileError,
  findDevice,
  loadDeviceProfiles,
  parseSize,
  readDeviceProfiles,
} from '../../../src/core/devices';

const myMcu = {
  id: 'my-mcu',
  name: 'My MCU',
  ramBytes: '512KiB',
  flashBytes: '2MB',
  macsPerSecond: { int8: 1e9 },
  supportedWeightBits: [8],
  supportedActivationBits: [8],
};

test('a good profile loads after the built-ins, with sizes parsed', () => {
  const profiles = loadDeviceProfiles(JSON.stringify([myMcu]), 'devices.json');
  assert.equal(profiles.length, BUILTIN_DEVICES.length + 1);
  assert.deepEqual(profiles[profiles.length - 1], {
    id: 'my-mcu',
    name: 'My MCU',
    ramBytes: 512 * 1024,
    flashBytes: 2_000_000,
    macsPerSecond: { int8: 1e9 },
    supportedWeightBits: [8],
    supportedActivationBits: [8],
    source: 'user profile from devices.json',
  });
});

test('profiles may also come as { devices: [...] }', () => {
  const profiles = loadDeviceProfiles(JSON.stringify({ devices: [myMcu] }), 'settings');
  assert.equal(findDevice('my-mcu', profiles).ramBytes, 524_288);
});

test('a user profile with a built-in id replaces the built-in in place', () => {
  const override = { ...myMcu, id: 'stm32h743', ramBytes: '864KiB' };
  const profiles = loadDeviceProfiles(JSON.stringify([override]), 'devices.json');
  assert.equal(profiles.length, BUILTIN_DEVICES.length);
  assert.equal(findDevice('stm32h743', profiles).ramBytes, 864 * 1024);
  assert.equal(findDevice('stm32h743', profiles).name, 'My MCU');
});

test('size strings: KB/MB/GB are 1000-based, KiB/MiB/GiB 1024-based', () => {
  assert.equal(parseSize('512KiB'), 524_288);
  assert.equal(parseSize('2MB'), 2_000_000);
  assert.equal(parseSize('1.5GiB'), 1_610_612_736);
  assert.equal(parseSize('1.5 GB'), 1_500_000_000);
  assert.equal(parseSize('64 kib'), 65_536);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('100B'), 100);
  assert.equal(parseSize(1024), 1024);
  assert.equal(parseSize('2 MiBs'), undefined);
  assert.equal(parseSize('lots'), undefined);
  assert.equal(parseSize('-1KB'), undefined);
  assert.equal(parseSize(null), undefined);
});

test('each problem is one line naming the file, the profile and the field', () => {
  const bad = [
    { ...myMcu, ramBytes: -5, flashBytes: '2 MiBs' },
    { ...myMcu, id: undefined, macsPerSecond: { int16: 1e9 } },
    { ...myMcu, id: 'x', supportedWeightBits: [], watts: 0, vectorWidth: 2.5, ramByte: 1 },
    { ...myMcu, id: 'y', macsPerSecond: {} },
    'not a profile',
  ];
  const { profiles, problems } = readDeviceProfiles(JSON.stringify(bad), 'devices.json');
  assert.deepEqual(problems, [
    `devices.json: profile 'my-mcu': ramBytes must be a positive number of bytes or a size such as "512KiB" or "2MB", not -5`,
    `devices.json: profile 'my-mcu': flashBytes must be a positive number of bytes or a size such as "512KiB" or "2MB", not "2 MiBs"`,
    `devices.json: profile #2: id must be a non-empty string`,
    `devices.json: profile #2: macsPerSecond.int16 is not a known precision (fp32, fp16, int8, int4)`,
    `devices.json: profile 'x': unknown field 'ramByte'`,
    `devices.json: profile 'x': supportedWeightBits must be a non-empty array of bit widths from 1 to 64, e.g. [8, 32]`,
    `devices.json: profile 'x': watts must be a positive number`,
    `devices.json: profile 'x': vectorWidth must be a positive whole number`,
    `devices.json: profile 'y': macsPerSecond must give at least one of fp32, fp16, int8, int4`,
    `devices.json: profile #5: must be an object`,
  ]);
  // Bad profiles are skipped; the built-ins are still there.
  assert.equal(profiles.length, BUILTIN_DEVICES.length);
});

test('a missing required size says so', () => {
  const { problems } = readDeviceProfiles(
    JSON.stringify([{ ...myMcu, flashBytes: undefined }]),
    'devices.json',
  );
  assert.deepEqual(problems, [
    `devices.json: profile 'my-mcu': flashBytes must be a positive number of bytes or a size such as "512KiB" or "2MB" (it is missing)`,
  ]);
});

test('an id defined twice in one file is a problem on the second', () => {
  const { problems } = readDeviceProfiles(JSON.stringify([myMcu, myMcu]), 'devices.json');
  assert.deepEqual(problems, [
    `devices.json: profile 'my-mcu': id 'my-mcu' is defined more than once`,
  ]);
});

test('loadDeviceProfiles refuses a file with problems, listing them all', () => {
  assert.throws(
    () => loadDeviceProfiles(JSON.stringify([{ ...myMcu, ramBytes: 0 }]), 'devices.json'),
    (error: unknown) =>
      error instanceof DeviceProfileError &&
      error.problems.length === 1 &&
      error.message.startsWith(`devices.json: profile 'my-mcu': ramBytes must be a positive`),
  );
});

test('text that is not JSON, or not a list of profiles, is one clear problem', () => {
  assert.match(
    readDeviceProfiles('[{', 'devices.json').problems[0],
    /^devices\.json: not valid JSON: /,
  );
  assert.deepEqual(readDeviceProfiles('{"id": "a"}', 'devices.json').problems, [
    'devices.json: expected an array of device profiles or { "devices": [...] }',
  ]);
});

test('findDevice lists the known ids when the id is unknown, and ignores case', () => {
  assert.equal(findDevice('STM32H743', BUILTIN_DEVICES).id, 'stm32h743');
  assert.throws(
    () => findDevice('stm32h7', BUILTIN_DEVICES),
    /^UnknownDeviceError: unknown device 'stm32h7' \(known devices: jetson-agx-xavier, .*stm32h743.*\)$/,
  );
});
