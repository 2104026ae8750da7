/**
 * Phased migration (issue 3 §10): `mode: shadow` never enforces (the pipeline
 * records the decision and forwards); `enforce_percent` enforces for a stable,
 * hash-selected share of subjects, so one user sees one behaviour across
 * requests and sidecars.
 */
import type { RouteConfig } from '../request/route.js';

/** FNV-1a 32-bit: stable across processes and versions, cheap, well spread for ids. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Should this route's auth decisions be enforced for `subject` (user id, or the
 * client address for anonymous callers)? Bucket = hash mod 10,000, so
 * enforce_percent has 0.01 % resolution.
 */
export function shouldEnforce(route: RouteConfig, subject: string): boolean {
  if (route.mode === 'shadow') return false;
  const pct = route.enforce_percent;
  if (pct >= 100) return true;
  if (pct <= 0) return false;
  return fnv1a(subject) % 10_000 < pct * 100;
}
