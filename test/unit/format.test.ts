import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCount, formatPercent } from '../../src/core/format';

test('bytes use binary units with at most one decimal', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(1.5 * 2 ** 20), '1.5 MiB');
  assert.equal(formatBytes(2 * 2 ** 20), '2 MiB');
  assert.equal(formatBytes(44.6 * 2 ** 20), '44.6 MiB');
  assert.equal(formatBytes(150.4 * 2 ** 20), '150 MiB');
  assert.equal(formatBytes(16 * 2 ** 30), '16 GiB');
});

test('a value that rounds up to the next unit is shown in it', () => {
  assert.equal(formatBytes(1023.6), '1 KiB');
  assert.equal(formatBytes(2 ** 20 - 1), '1 MiB');
  assert.equal(formatCount(999_960), '1 M');
});

test('counts use decimal prefixes', () => {
  assert.equal(formatCount(950), '950');
  assert.equal(formatCount(1_800_000_000), '1.8 G');
  assert.equal(formatCount(11_689_512), '11.7 M');
  assert.equal(formatCount(4e12), '4 T');
});

test('percentages keep one decimal below 10%', () => {
  assert.equal(formatPercent(22.3), '2230%');
  assert.equal(formatPercent(0.75), '75%');
  assert.equal(formatPercent(0.0456), '4.6%');
  assert.equal(formatPercent(0), '0%');
});

test('negative and non-finite values do not crash', () => {
  assert.equal(formatBytes(-1536), '-1.5 KiB');
  assert.equal(formatBytes(Number.NaN), '?');
  assert.equal(formatCount(Number.POSITIVE_INFINITY), '?');
  assert.equal(formatPercent(Number.NaN), '?%');
});
