/** A bad config or bad usage exits 2 with a message naming the key; nothing starts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, writeConfig } from './support/spawn.js';

const base = 'upstream: { url: http://127.0.0.1:1 }\nroutes:\n  - path: /*\n    auth: none\n';

describe('config errors exit 2 naming the key', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown top-level key', base + 'listn: { port: 1 }\n', /\(root\): unknown key\(s\) "listn"/],
    ['unknown nested key', base.replace('url: http://127.0.0.1:1', 'url: http://127.0.0.1:1, conections: 3'), /upstream: unknown key\(s\) "conections"/],
    ['bad value type', base.replace('auth: none', 'auth: none\n    methods: GET'), /routes\[0\]\.methods: expected array, got string/],
    ['bad enum', base.replace('auth: none', 'auth: sometimes'), /routes\[0\]\.auth: expected one of "none" \| "optional" \| "required", got "sometimes"/],
    ['missing required key', 'routes:\n  - path: /*\n', /upstream: required/],
    ['out of range port', base + 'listen: { port: 70000 }\n', /listen\.port:/],
    ['missing env reference', base + 'redis: { url: "${ARGUS_TEST_UNSET_VAR}" }\n', /redis\.url: environment variable ARGUS_TEST_UNSET_VAR is not set/],
    ['invalid YAML', 'routes: [\n', /not valid YAML/],
    ['billing plan naming an unknown tier', base + 'billing: { plans: { gold: { tier: golden } } }\n', /billing\.plans\.gold\.tier: unknown tier "golden"/],
  ];
  for (const [name, yaml, message] of cases) {
    it(name, async () => {
      const r = await runCli(['proxy', '--config', writeConfig(yaml)]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('substitutes ${ENV} references (a valid one passes validation)', async () => {
    // migrate validates the config, then fails on the missing postgres section: still exit 2, but
    // for postgres.url, proving the ${ENV} value itself was accepted.
    const r = await runCli(['migrate', '--config', writeConfig(base + 'redis: { url: "${ARGUS_TEST_REDIS}" }\n')], {
      ARGUS_TEST_REDIS: 'redis://127.0.0.1:6379',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /postgres\.url: required for migrate/);
  });

  it('missing --config, unknown flag and unknown command exit 2', async () => {
    assert.equal((await runCli(['proxy'])).code, 2);
    assert.match((await runCli(['proxy', '--config', 'x', '--bogus'])).stderr, /bogus/);
    assert.equal((await runCli(['frobnicate'])).code, 2);
    assert.match((await runCli(['proxy', '--config', '/nonexistent/argus.yaml'])).stderr, /cannot read \/nonexistent\/argus\.yaml/);
  });
});
