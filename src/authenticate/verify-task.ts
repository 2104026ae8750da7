/**
 * Piscina task: verify one JWT off the event loop (auth.jwt.verify_threads > 0).
 * The main thread resolves the key from its JWKS and sends the public JWK; each
 * worker imports a given key once and keeps it.
 */
import type { JWK } from 'jose';
import { importPublicJwk, verifyWithKey, type ClaimOptions, type VerifyVerdict } from './jwt-verify.js';

export interface VerifyTask {
  readonly token: string;
  readonly jwk: JWK;
  /** Stable identity of the JWK (kid + key material digest) for the per-worker key cache. */
  readonly keyId: string;
  readonly alg: string;
  readonly opts: ClaimOptions;
  readonly nowMs: number;
}

const keys = new Map<string, Awaited<ReturnType<typeof importPublicJwk>>>();

export default async function verifyTask(task: VerifyTask): Promise<VerifyVerdict> {
  const id = `${task.keyId}|${task.alg}`;
  let key = keys.get(id);
  if (key === undefined) {
    try {
      key = await importPublicJwk(task.jwk, task.alg);
    } catch {
      return { ok: false, expired: false, reason: 'key_alg_mismatch' };
    }
    if (keys.size > 256) keys.clear(); // rotation leaves old keys behind; a bound is enough
    keys.set(id, key);
  }
  return verifyWithKey(task.token, key, task.alg, task.opts, task.nowMs);
}
