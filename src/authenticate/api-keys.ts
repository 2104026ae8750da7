/**
 * API keys: `ak_live_<43 base62 chars>` (256 bits of entropy behind a visible
 * prefix, so leaked keys are easy to grep for), stored only as a SHA-256 digest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseYaml } from '../yaml.js';
import { UsageError } from '../errors.js';
import type { AuthContext } from '../request/principal.js';
import { entitlementsOf, keyRecordSchema, type KeyRecord } from './records.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Shape check before any lookup: prefix, environment, then base62 only. */
export const API_KEY_PATTERN = /^ak_(live|test)_[0-9A-Za-z]{32,128}$/;

/** Random base62 string of `length` chars (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248) out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Hex SHA-256 of a full API key: the only form in which keys are stored. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * A new key. Show `key` to its owner once; store `sha256` and `key_id`.
 * @param env `live` (default) or `test`, visible in the prefix.
 */
export function generateApiKey(env: 'live' | 'test' = 'live'): { key_id: string; key: string; sha256: string } {
  const key = `ak_${env}_${randomBase62(43)}`;
  return { key_id: `key_${randomBase62(16)}`, key, sha256: hashApiKey(key) };
}

/**
 * Read the standalone key file (format: TSDoc of src/authenticate/schema.ts).
 * Throws UsageError naming the file and the bad record.
 */
export function loadKeyFile(file: string): Map<string, KeyRecord> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`config: auth.api_keys.file: cannot read ${file}: ${(err as Error).message}`);
  }
  // A file with no records yet (only comments) holds no keys: every request with a key is 401.
  const list = raw === null || raw === undefined ? [] : Array.isArray(raw) ? raw : (raw as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new UsageError(`config: auth.api_keys.file: ${file} must hold a list of key records (or {keys: [...]})`);
  const out = new Map<string, KeyRecord>();
  list.forEach((item, i) => {
    const r = keyRecordSchema.safeParse(item);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new UsageError(`config: auth.api_keys.file: ${file}: record [${i}] ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
    }
    if (r.data.sha256 === undefined) throw new UsageError(`config: auth.api_keys.file: ${file}: record [${i}] sha256: required`);
    out.set(r.data.sha256, r.data);
  });
  return out;
}

/** The AuthContext of an active key record. */
export function keyContext(rec: KeyRecord, tier: string): AuthContext {
  return {
    method: 'api_key',
    user_id: rec.user_id,
    tier,
    ...(rec.role !== undefined && { role: rec.role }),
    features: rec.features,
    scopes: rec.scopes,
    key_id: rec.key_id,
    ...(rec.org_id !== undefined && { org_id: rec.org_id }),
    ...(rec.created_at !== undefined && { issued_at: rec.created_at }),
    ...(rec.requests_per_minute !== undefined && { requests_per_minute: rec.requests_per_minute }),
    ...entitlementsOf(rec),
    ...(rec.stripe_customer !== undefined && { stripe_customer: rec.stripe_customer }),
  };
}
