/** SIGTERM: readiness false, in-flight requests finish, new connections are refused, exit 0. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';
import { runCli, startCli, writeConfig } from './support/spawn.js';
import { waitFor } from './support/raw.js';
import { get } from './support/http.js';

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

describe('drain on SIGTERM', () => {
  let up: RecordingUpstream;
  before(async () => {
    up = await startUpstream();
  });
  after(() => up.close());

  it('finishes the in-flight request, refuses new connections, exits 0', async () => {
    const cfg = writeConfig(
      `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nserver: { drain_timeout_ms: 10000, drain_delay_ms: 0 }\nupstream: { url: ${up.url} }\nroutes:\n  - path: /*\n    auth: none\n`,
    );
    const proc = startCli(['proxy', '--config', cfg]);
    const listening = await proc.waitForLog('proxy listening');
    const port = listening['port'] as number;
    const adminPort = listening['admin_port'] as number;
    assert.equal((await get(`http://127.0.0.1:${adminPort}/readyz`)).status, 200);

    const seenBefore = up.seen.length;
    const slow = get(`http://127.0.0.1:${port}/slow/1500`);
    await waitFor(() => up.seen.length > seenBefore, 5000, 'slow request to reach the upstream');
    proc.child.kill('SIGTERM');
    await proc.waitForLog('draining');
    // The listener is closed at once: a new connection is refused while the slow one drains.
    await waitFor(async () => !(await connects(port)), 3000, 'listener to close');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'slow done');
    const exit = await proc.exited;
    assert.equal(exit.code, 0);
    assert.ok(
      proc.logs.some((l) => l.includes('"msg":"stopped"') && l.includes('"drained":true')),
      proc.logs.join('\n'),
    );
  });

  it('a second SIGTERM cuts a long drain delay short; the process still drains and exits 0', async () => {
    const cfg = writeConfig(
      `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nthreads: 2\nmetering: { enabled: false }\nserver: { drain_delay_ms: 600000, drain_timeout_ms: 600000 }\nupstream: { url: ${up.url} }\nroutes:\n  - path: /*\n    auth: none\n`,
    );
    const proc = startCli(['proxy', '--config', cfg]);
    const listening = await proc.waitForLog('proxy listening');
    const adminPort = listening['admin_port'] as number;
    proc.child.kill('SIGTERM');
    await proc.waitForLog('draining');
    await waitFor(async () => (await get(`http://127.0.0.1:${adminPort}/readyz`)).status === 503, 5000, 'readiness 503');
    // Still serving during the delay, with Connection: close.
    const during = await get(`http://127.0.0.1:${listening['port'] as number}/echo`);
    assert.equal(during.status, 200);
    assert.equal(during.headers.connection, 'close');
    proc.child.kill('SIGTERM');
    await proc.waitForLog('second signal: skipping the rest of the drain delay');
    const exit = await proc.exited;
    assert.equal(exit.code, 0, proc.logs.join('\n'));
  });

  it('a drain delay longer than the drain timeout is a config error naming the key (exit 2)', async () => {
    const r = await runCli([
      'proxy',
      '--config',
      writeConfig(`server: { drain_delay_ms: 9000, drain_timeout_ms: 1000 }\nupstream: { url: ${up.url} }\nroutes:\n  - path: /*\n    auth: none\n`),
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /server\.drain_delay_ms: must not exceed server\.drain_timeout_ms/);
  });
});
