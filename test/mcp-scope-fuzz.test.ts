/**
 * Outcome: the per-message scope decision of `/mcp` (src/control/mcp/http.ts
 * `missingScope`), which reads attacker-controlled JSON before any schema
 * check, never throws and never lets a write tool through on a read-only
 * scope: 20,000 seeded random bodies (objects, batches, odd types, tools/call
 * with random names), each decided against readers, writers and callers
 * without MCP scopes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingScope } from '../src/control/mcp/http.js';
import { TOOLS } from '../src/control/mcp/server.js';
import type { Actor } from '../src/control/services/actor.js';
import type { AuthContext } from '../src/request/principal.js';
import { prng } from './support/prng.js';

const actor = (scopes: string[]): Actor => ({
  id: 'a',
  admin: false,
  ctx: { method: 'api_key', user_id: 'a', tier: 'explorer', features: [], scopes } as AuthContext,
});
const reader = actor(['argus:mcp:read']);
const writer = actor(['argus:mcp:write']);
const nobody = actor(['argus:admin']);
const WRITE_TOOLS = new Set(TOOLS.filter((t) => !t.annotations.readOnlyHint).map((t) => t.name));
const NAMES = [...TOOLS.map((t) => t.name), 'nope', '', '__proto__', 'constructor'];
const METHODS = ['tools/call', 'tools/list', 'initialize', 'resources/read', 'prompts/get', 'notifications/initialized', '', 'tools/call '];

test('missingScope: total, and write tools always need argus:mcp:write', () => {
  const rnd = prng(26);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const junk = (): unknown => pick([null, 0, 'x', true, [], {}, { name: 1 }, { name: pick(NAMES) }, [pick(NAMES)]]);
  const message = (): unknown =>
    rnd() < 0.15
      ? junk()
      : {
          jsonrpc: '2.0',
          id: Math.floor(rnd() * 9),
          method: rnd() < 0.9 ? pick(METHODS) : junk(),
          params: rnd() < 0.8 ? { name: rnd() < 0.9 ? pick(NAMES) : junk() } : junk(),
        };
  for (let i = 0; i < 20000; i++) {
    const body = rnd() < 0.3 ? Array.from({ length: Math.floor(rnd() * 4) }, message) : message();
    const msgs = (Array.isArray(body) ? body : [body]) as Array<{ method?: unknown; params?: { name?: unknown } } | null>;
    const callsWrite = msgs.some((m) => m?.method === 'tools/call' && typeof m.params?.name === 'string' && WRITE_TOOLS.has(m.params.name));
    assert.equal(missingScope(writer, body), null);
    assert.equal(missingScope(reader, body), callsWrite ? 'argus:mcp:write' : null, JSON.stringify(body));
    if (msgs.length > 0) assert.notEqual(missingScope(nobody, body), null, JSON.stringify(body));
  }
});
