import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveExchanges, type Slotted } from '../src/server/live-exchanges.js';

const item = (n: number): Slotted & { n: number } => ({ n, liveSlot: -1 });

test('add and delete in any order keep exactly the members still in flight', () => {
  const live = new LiveExchanges<Slotted & { n: number }>();
  const all = Array.from({ length: 200 }, (_, i) => item(i));
  const inside = new Set<number>();
  // A seeded walk of adds and deletes (middle, last, first, twice), checked against a Set.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let step = 0; step < 5000; step++) {
    const x = all[Math.floor(rnd() * all.length)]!;
    if (rnd() < 0.5) {
      if (!inside.has(x.n)) {
        live.add(x);
        inside.add(x.n);
      }
    } else {
      live.delete(x);
      inside.delete(x.n);
    }
    assert.equal(live.size, inside.size);
  }
  const members = live.snapshot().map((x) => x.n);
  assert.deepEqual(new Set(members), inside);
  assert.equal(members.length, inside.size, 'no member twice');
  for (const x of all) assert.equal(x.liveSlot >= 0, inside.has(x.n), `slot of ${x.n}`);
});

test('deleting a member that is not in the list changes nothing', () => {
  const live = new LiveExchanges<Slotted & { n: number }>();
  const a = item(1);
  const b = item(2);
  live.add(a);
  live.delete(b);
  live.delete(b);
  assert.deepEqual(
    live.snapshot().map((x) => x.n),
    [1],
  );
  live.delete(a);
  live.delete(a);
  assert.equal(live.size, 0);
  assert.equal(a.liveSlot, -1);
});

test('a snapshot can be walked while its members leave', () => {
  const live = new LiveExchanges<Slotted & { n: number }>();
  const xs = [item(1), item(2), item(3), item(4)];
  for (const x of xs) live.add(x);
  const seen: number[] = [];
  for (const x of live.snapshot()) {
    seen.push(x.n);
    live.delete(x);
  }
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.equal(live.size, 0);
});
