/**
 * Outcome: docs/configuration.md cannot drift from the zod schema in
 * src/config.ts. Every key path the schema accepts (objects `a.b`, arrays of
 * objects `a[].b`, records `a.<name>.b`, through optional/default/effects) is
 * named in the doc, and every key path the doc names in backticks exists in
 * the schema. `node scripts/config-keys.mjs` prints the rows for a new key.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { configSchema } from '../src/config.js';
import { configKeyPaths } from './support/config-keys.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
const keys = configKeyPaths(configSchema);
const TOP = new Set(keys.filter((k) => !k.path.includes('.') && !k.path.includes('[')).map((k) => k.path));
/** `<provider>`, `<tier>`, `<name>`: any record key. */
const norm = (p: string) => p.replace(/<[^>]*>/g, '<>');
const schemaPaths = new Map(keys.map((k) => [norm(k.path), k]));

/** Backticked key paths in the doc: `server.max_headers`, `routes[].llm.provider`, `trading.order.*`. */
function documentedPaths(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/`([a-z_]+(?:\[\])?(?:\.(?:[a-z0-9_]+|<[a-z_]+>|\*)(?:\[\])?)*)`/g)) {
    const p = m[1]!;
    const top = p.split(/[.[]/)[0]!;
    if (TOP.has(top) && (p.includes('.') || p.includes('['))) out.add(p);
  }
  return [...out];
}

function exists(p: string): boolean {
  const n = norm(p);
  if (schemaPaths.has(n)) return true;
  if (n.endsWith('.*')) {
    const base = n.slice(0, -2);
    return [...schemaPaths.keys()].some((k) => k.startsWith(`${base}.`));
  }
  // `llm.prices.<provider>.<model>`: keys inside a record of plain values.
  let base = n;
  while (base.endsWith('.<>')) {
    base = base.slice(0, -3);
    if (schemaPaths.get(base)?.type === 'record') return true;
  }
  return false;
}

describe('docs/configuration.md against the zod schema in src/config.ts', () => {
  it('the walker sees nested objects, arrays of objects and records', () => {
    const paths = keys.map((k) => k.path);
    for (const p of ['listen.port', 'routes[].llm.usage.input_path', 'tiers.<name>.requests_per_minute', 'metering.worker.admin.port']) {
      assert.ok(paths.includes(p), `schema walk found ${p}`);
    }
    assert.ok(keys.length > 150, `schema walk found ${keys.length} key paths`);
  });

  it('every key path in the schema is documented', () => {
    const missing = keys.filter((k) => !DOC.includes(`\`${k.path}\``)).map((k) => k.path);
    assert.deepEqual(
      missing,
      [],
      `docs/configuration.md does not name (in backticks) these schema keys:\n  ${missing.join('\n  ')}\n(node scripts/config-keys.mjs prints their rows)`,
    );
  });

  it('every key path the doc names exists in the schema', () => {
    const documented = documentedPaths(DOC);
    const nested = keys.filter((k) => k.path.includes('.') || k.path.includes('['));
    assert.ok(documented.length >= nested.length, `the doc names ${documented.length} nested key paths of ${nested.length}`);
    const unknown = documented.filter((p) => !exists(p));
    assert.deepEqual(unknown, [], `docs/configuration.md names keys the schema does not have:\n  ${unknown.join('\n  ')}`);
  });
});
