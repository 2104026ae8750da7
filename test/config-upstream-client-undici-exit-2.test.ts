/** `upstream.client: undici` was removed: such a config exits 2 naming the key; `h1` (the only client) is still accepted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, writeConfig } from './support/spawn.js';

const config = (client: string) => `upstream: { url: http://127.0.0.1:1, client: ${client} }\nroutes:\n  - path: /*\n    auth: none\n`;

describe('upstream.client', () => {
  it('undici exits 2 naming upstream.client and saying h1 is the only client', async () => {
    const r = await runCli(['proxy', '--config', writeConfig(config('undici'))]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /upstream\.client: the only upstream client is "h1" \(undici was removed\)/);
  });

  it('h1 passes validation (migrate then stops at the missing postgres section)', async () => {
    const r = await runCli(['migrate', '--config', writeConfig(config('h1'))]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /postgres\.url: required for migrate/);
    assert.doesNotMatch(r.stderr, /upstream\.client/);
  });
});
