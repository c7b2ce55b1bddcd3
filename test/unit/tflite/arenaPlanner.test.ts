import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planGreedyArena } from '../../../src/core/tflite/arenaPlanner';
import type { ArenaBuffer } from '../../../src/core/tflite/arenaPlanner';

const buffer = (bytes: number, firstScope: number, lastScope: number, offlineOffset?: number) =>
  offlineOffset === undefined
    ? { bytes, firstScope, lastScope }
    : { bytes, firstScope, lastScope, offlineOffset };

const offsetsOf = (buffers: ArenaBuffer[], alignment?: number) =>
  planGreedyArena(buffers, alignment).placements.map((p) => p.offset);

test('largest first, each at the lowest gap among buffers alive at the same time', () => {
  // By hand, alignment 1: 50 [0,1] at 0; 40 [3,4] at 0 (no overlap in time); 30 [2,3] overlaps
  // 40 only: after it at 40; 20 [1,2] overlaps 50 (0-50) and 30 (40-70): the gap 0-40 is taken
  // by 50, so after both at 70; 10 [0,1] overlaps 50 and 20 (70-90): 50-70 is free, so at 50.
  const buffers = [buffer(10, 0, 1), buffer(20, 1, 2), buffer(30, 2, 3), buffer(40, 3, 4)];
  buffers.push(buffer(50, 0, 1));
  const plan = planGreedyArena(buffers, 1);
  assert.deepEqual(
    plan.placements.map((p) => p.offset),
    [50, 70, 40, 0, 0],
  );
  assert.equal(plan.arenaBytes, 90);
  assert.deepEqual(
    plan.placements.map((p) => p.placedAs),
    [4, 3, 2, 1, 0],
  );
});

test('buffers alive at different times share bytes, and the arena is the highest end', () => {
  // 100 [0,1] at 0; 50 [2,3] at 0; 20 [1,2] overlaps both: after the 100 at 100.
  const plan = planGreedyArena([buffer(100, 0, 1), buffer(50, 2, 3), buffer(20, 1, 2)], 1);
  assert.deepEqual(
    plan.placements.map((p) => p.offset),
    [0, 0, 100],
  );
  assert.equal(plan.arenaBytes, 120);
});

test('equal sizes: the buffer added last is placed first (TFLM fills its sort from the tail)', () => {
  // t0 -> op0 -> t1, t0 -> op1 -> t2, (t1, t2) -> op2 -> t3; scopes: t0 [0,2], t1 [1,3],
  // t2 [2,3], t3 [3,3]. Order t3, t2, t1, t0: t3 at 0; t2 meets t3: 48; t1 meets t3 and t2:
  // 96; t0 meets t2 (48) and t1 but not t3, so the gap 0-48 takes it.
  const buffers = [buffer(48, 0, 2), buffer(48, 1, 3), buffer(48, 2, 3), buffer(48, 3, 3)];
  assert.deepEqual(offsetsOf(buffers), [0, 96, 48, 0]);
  // Ties by first index instead would give t0 0, t1 48, t2 96, t3 0: not what TFLM does.
});

test('sizes are padded to 16 bytes before sorting and fitting', () => {
  // Three buffers alive together: 33 -> 48, 17 -> 32, 1 -> 16, stacked largest first.
  const buffers = [buffer(1, 0, 0), buffer(17, 0, 0), buffer(33, 0, 0)];
  const plan = planGreedyArena(buffers);
  assert.deepEqual(
    plan.placements.map((p) => [p.offset, p.alignedBytes]),
    [
      [80, 16],
      [48, 32],
      [0, 48],
    ],
  );
  assert.equal(plan.arenaBytes, 96);
  // Unpadded, they would take 51 bytes.
  assert.equal(planGreedyArena(buffers, 1).arenaBytes, 51);
});

test('padding can make sizes equal, and then the later buffer goes first', () => {
  // 20 and 30 both pad to 32; the 30 was added first, so the 20 takes offset 0.
  assert.deepEqual(offsetsOf([buffer(30, 0, 1), buffer(20, 0, 1)]), [32, 0]);
});

test('offline offsets are kept as given, even overlapping, and placed before the others', () => {
  // t0 at 0, t1 at 48 and t3 at 0 from the plan; t2 [1,2] and t4 [2,2] online (t4 first).
  // t4 meets t3 (0-48) only: 48. t2 meets t0, t1, t3 and t4, which fill 0-96: 96.
  const buffers = [
    buffer(48, 0, 1, 0),
    buffer(48, -1, 1, 48),
    buffer(48, 1, 2),
    buffer(48, 2, 2, 0),
    buffer(48, 2, 2),
  ];
  const plan = planGreedyArena(buffers);
  assert.deepEqual(
    plan.placements.map((p) => p.offset),
    [0, 48, 96, 0, 48],
  );
  assert.deepEqual(
    plan.placements.map((p) => p.placedAs),
    [0, 1, 4, 2, 3],
  );
  assert.deepEqual(
    plan.placements.map((p) => p.offline),
    [true, true, false, true, false],
  );
  assert.equal(plan.arenaBytes, 144);
  // Overlapping offline buffers are the plan's business: both stay at 0.
  assert.deepEqual(offsetsOf([buffer(64, 0, 3, 0), buffer(32, 1, 2, 0)]), [0, 0]);
});

test('online buffers fill the gaps an offline plan leaves, and the arena counts offline ends', () => {
  // Offline 0-16 and 64-80, all alive together; a 32-byte online buffer fits between them.
  const buffers = [buffer(16, 0, 0, 0), buffer(16, 0, 0, 64), buffer(32, 0, 0)];
  const plan = planGreedyArena(buffers);
  assert.deepEqual(
    plan.placements.map((p) => p.offset),
    [0, 64, 16],
  );
  assert.equal(plan.arenaBytes, 80);
  // A 64-byte one does not fit the gap and goes after the last.
  assert.deepEqual(
    offsetsOf([buffer(16, 0, 0, 0), buffer(16, 0, 0, 64), buffer(64, 0, 0)]),
    [0, 64, 80],
  );
});

test('a buffer never marked (first scope -1) overlaps those alive up to its last scope', () => {
  // [-1, 1] meets [0, 0] and [1, 2] but not [2, 3].
  const buffers = [buffer(64, -1, 1), buffer(80, 0, 0), buffer(96, 2, 3), buffer(112, 1, 2)];
  // Order 112, 96, 80, 64: 112 at 0; 96 meets 112: 112; 80 [0,0] meets nothing placed: 0;
  // 64 [-1,1] meets 112 (0-112) and 80 (0-80): 112.
  assert.deepEqual(offsetsOf(buffers), [112, 0, 112, 0]);
});

test('the gap search keeps the furthest end seen, so a small buffer under a big one is no gap', () => {
  // Placed: A 0-96 [0,2], B 16-32 [0,2] (offline), C 48-64 [0,2] (offline). A new 16-byte
  // buffer alive meanwhile: past A's end (96), not in 32-48 which lies inside A.
  const buffers = [buffer(16, 0, 2, 16), buffer(16, 0, 2, 48), buffer(96, 0, 2, 0)];
  buffers.push(buffer(16, 1, 1));
  assert.deepEqual(offsetsOf(buffers), [16, 48, 0, 96]);
});

test('no buffers: an empty arena; bad input is refused', () => {
  assert.deepEqual(planGreedyArena([]), { arenaBytes: 0, placements: [] });
  assert.throws(() => planGreedyArena([buffer(-1, 0, 0)]), /bytes/);
  assert.throws(() => planGreedyArena([buffer(4, -2, 0)]), /lifetime/);
  assert.throws(() => planGreedyArena([buffer(4, 0, 0, -1)]), /offline offset/);
  assert.throws(() => planGreedyArena([buffer(4, 0, 0)], 0), /alignment/);
});

test('random plans never overlap two online buffers alive at the same time', () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 50; round++) {
    const buffers: ArenaBuffer[] = [];
    for (let i = 0; i < 30; i++) {
      const first = random(20) - 1;
      buffers.push(buffer(1 + random(300), first, first + random(6)));
    }
    const plan = planGreedyArena(buffers);
    const live = plan.placements.map((p, i) => ({ ...p, ...buffers[i] }));
    for (const a of live) {
      assert.equal(a.offset % 16, 0);
      for (const b of live) {
        if (a === b || a.firstScope > b.lastScope || b.firstScope > a.lastScope) continue;
        const apart =
          a.offset + a.alignedBytes <= b.offset || b.offset + b.alignedBytes <= a.offset;
        assert.ok(apart, `round ${round}: buffers overlap`);
      }
    }
    const highest = Math.max(...live.map((p) => p.offset + p.alignedBytes));
    assert.equal(plan.arenaBytes, highest);
  }
});
