/** The uWS native binding is in use; the pure-JS fallback is refused unless allowed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isNative, loadUws } from '../src/server/uws.js';
import { runCli, writeConfig } from './support/spawn.js';

describe('uWebSockets.js native binding', () => {
  it('loads natively on this machine', () => {
    assert.equal(isNative(loadUws()), true);
  });

  it('refuses to start on the pure-JS fallback, with a clear message', async () => {
    const cfg = writeConfig(
      'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nupstream: { url: http://127.0.0.1:1 }\nroutes:\n  - path: /*\n    auth: none\n',
    );
    // The package's own switch forces its fallback, as a wrong ABI/glibc would.
    const r = await runCli(['proxy', '--config', cfg], { UWS_USE_FALLBACK: '1' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /native binding did not load/);
    assert.match(r.stderr, /allow_js_fallback/);
  });
});
