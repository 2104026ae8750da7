/**
 * The L1 cache's map key (src/authenticate/cache.ts): a 31-bit number from the
 * credential's last 32 characters. Two credentials with the same key are only a
 * miss for each other: an entry answers only for the exact credential it was
 * made for, and the newer one replaces the older (owner index included).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createL1, KEY_CHARS, keyOf } from '../src/authenticate/cache.js';
import type { AuthContext } from '../src/request/principal.js';

const ctx = (user: string): AuthContext => ({ method: 'jwt', user_id: user, tier: 'explorer', features: [], scopes: [] });

/** Two different credentials with one key (a birthday search over random 20-character strings). */
function collidingPair(): [string, string] {
  const seen = new Map<number, string>();
  for (;;) {
    const c = randomBytes(15).toString('base64url');
    const k = keyOf(c);
    const other = seen.get(k);
    if (other !== undefined && other !== c) return [other, c];
    seen.set(k, c);
  }
}

test('the key is a small non-negative integer, read from the last 32 characters only', () => {
  const tail = 'x'.repeat(KEY_CHARS);
  for (const v of ['', 'a', tail, `head1.${tail}`, `another-head.${tail}`]) {
    const k = keyOf(v);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 2 ** 31, `${v}: ${k}`);
  }
  assert.equal(keyOf(`head1.${tail}`), keyOf(`another-head.${tail}`), 'the head does not enter the key');
  assert.notEqual(keyOf(`${tail}a`), keyOf(`${tail}b`), 'the last character does');
});

test('two credentials with one key: each is a miss for the other, the newer entry replaces the older', () => {
  const [a, b] = collidingPair();
  assert.notEqual(a, b);
  assert.equal(keyOf(a), keyOf(b));
  const l1 = createL1({ maxEntries: 100, ttlMs: 1000, negativeTtlMs: 100, maxStaleMs: 0 });
  l1.putPositive('jwt', a, ctx('ua'), 0);
  assert.equal(l1.get('jwt', a, 1)?.ctx?.user_id, 'ua');
  assert.equal(l1.get('jwt', b, 1), undefined, "b gets nothing from a's entry");
  l1.putPositive('jwt', b, ctx('ub'), 1);
  assert.equal(l1.get('jwt', b, 2)?.ctx?.user_id, 'ub');
  assert.equal(l1.get('jwt', a, 2), undefined, "a's entry was replaced: a is checked again");
  assert.equal(l1.size(), 1);
  assert.equal(l1.indexSize(), 1, "ua's index line left with its entry");
  assert.equal(l1.evictOwner('user', 'ua'), 0);
  assert.equal(l1.evictOwner('user', 'ub'), 1);
  assert.equal(l1.get('jwt', b, 3), undefined);
});
