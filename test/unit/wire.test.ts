import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireReader, WireWriter, ProtoError } from '../../src/core/onnx/wire';

test('varints round-trip, including negative int64 and values beyond 32 bits', () => {
  const values = [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, 2 ** 52, -1, -5, -(2 ** 40)];
  const w = new WireWriter();
  for (const v of values) w.varint(v);
  const r = new WireReader(w.finish());
  for (const v of values) assert.equal(r.varint(), v);
  assert.ok(r.done());
});

test('a truncated varint is a ProtoError, not a crash', () => {
  const r = new WireReader(new Uint8Array([0x80, 0x80]));
  assert.throws(() => r.varint(), ProtoError);
});

test('a length prefix running past the end is rejected', () => {
  const r = new WireReader(new Uint8Array([0x0a, 0x05, 1, 2]));
  r.nextTag();
  assert.throws(() => r.bytes(), /runs past the end/);
});
