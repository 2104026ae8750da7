/**
 * Outcome: `argus-sidecar <command> --help` (and `-h`) prints that command's
 * usage on stdout and exits 0, for every command and for `keys create`, instead
 * of "Unknown option '--help'" and exit 2.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './support/spawn.js';

const COMMANDS = ['proxy', 'worker', 'migrate', 'keys', 'revoke', 'inject-webhook', 'usage', 'demo', 'mcp'];

test('every command answers --help and -h with its usage, exit 0', async () => {
  for (const command of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([command, flag]);
      assert.equal(r.code, 0, `${command} ${flag}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: argus-sidecar ${command}`), `${command} ${flag}`);
      assert.equal(r.stderr, '');
    }
  }
});

test('keys create --help documents --llm, --trading and --standalone', async () => {
  const r = await runCli(['keys', 'create', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--llm JSON', '--trading JSON', '--standalone FILE', '--config FILE']) assert.ok(r.stdout.includes(flag), flag);
});

test('an unknown option is still exit 2, and its hint now works', async () => {
  const r = await runCli(['proxy', '--nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /see "argus-sidecar proxy --help"/);
});
