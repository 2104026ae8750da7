/**
 * Outcome: one port, one owner. A `proxy` whose listen port another process holds
 * (another sidecar, with one thread or several, or any other server) exits 1
 * with one line naming the port, instead of sharing it through SO_REUSEPORT; the
 * sidecar that owns it keeps serving. A taken admin port is the same. `threads: 2`
 * still shares its port between its own threads.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { get } from './support/http.js';
import { runCli, startCli, writeConfig, type StartedChild } from './support/spawn.js';
import { startUpstream, type RecordingUpstream } from './support/upstream.js';

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const config = (upstream: string, port: number, threads: number, adminPort = 0) =>
  writeConfig(
    `listen: { host: 127.0.0.1, port: ${port} }\nadmin: { host: 127.0.0.1, port: ${adminPort} }\nthreads: ${threads}\nmetering: { enabled: false }\nserver: { drain_delay_ms: 0 }\nupstream: { url: ${upstream} }\nroutes:\n  - path: /*\n    auth: none\n`,
  );

/** stderr is one line naming what failed. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
}

describe('one port, one owner', () => {
  let up: RecordingUpstream;
  let owner: StartedChild;
  let port: number;
  before(async () => {
    up = await startUpstream();
    port = await freePort();
    owner = startCli(['proxy', '--config', config(up.url, port, 2)]);
    await owner.waitForLog('proxy listening');
  });
  after(async () => {
    owner.child.kill('SIGTERM');
    await owner.exited;
    await up.close();
  });

  for (const threads of [1, 2]) {
    it(`a second sidecar (threads: ${threads}) on a port a sidecar holds exits 1 naming the port`, async () => {
      const r = await runCli(['proxy', '--config', config(up.url, port, threads)]);
      assert.equal(r.code, 1, r.stderr);
      assertOneLine(r.stderr, new RegExp(`^argus-sidecar proxy: listen\\.port ${port} \\(127\\.0\\.0\\.1\\): address already in use`));
      // The owner still serves every request (none went to a second listener).
      for (let i = 0; i < 5; i++) assert.equal((await get(`http://127.0.0.1:${port}/echo`)).status, 200);
    });
  }

  it('a port held by another program: exit 1 naming the port', async () => {
    const other = net.createServer().listen(0, '127.0.0.1');
    await once(other, 'listening');
    const taken = (other.address() as net.AddressInfo).port;
    try {
      const r = await runCli(['proxy', '--config', config(up.url, taken, 1)]);
      assert.equal(r.code, 1, r.stderr);
      assertOneLine(r.stderr, new RegExp(`listen\\.port ${taken} \\(127\\.0\\.0\\.1\\): address already in use`));
    } finally {
      other.close();
    }
  });

  it('a taken admin port: exit 1 naming admin.port, nothing left listening', async () => {
    const other = net.createServer().listen(0, '127.0.0.1');
    await once(other, 'listening');
    const taken = (other.address() as net.AddressInfo).port;
    const mine = await freePort();
    try {
      const r = await runCli(['proxy', '--config', config(up.url, mine, 2, taken)]);
      assert.equal(r.code, 1, r.stderr);
      assertOneLine(r.stderr, new RegExp(`^argus-sidecar proxy: admin\\.port ${taken} \\(127\\.0\\.0\\.1\\): address already in use`));
      // The proxy port was never taken (or was released): a plain server can bind it.
      const probe = net.createServer().listen(mine, '127.0.0.1');
      await once(probe, 'listening');
      probe.close();
    } finally {
      other.close();
    }
  });
});
