/**
 * Outcome: `worker` and `proxy` run from one config file side by side (the
 * recipe in docs/operations.md, "Running against Redis and Postgres"): the worker serves its admin endpoints on
 * `metering.worker.admin` (default port 9091), not the proxy's `admin.port`.
 * A worker whose admin port is taken exits 1 with one line naming
 * `metering.worker.admin.port`, before it takes a job. SIGTERM stops a running
 * worker promptly with exit 0.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { parseConfig } from '../src/config.js';
import { get } from './support/http.js';
import { freePort, meterFixture, rawConfig, SHARED_REDIS, waitFor } from './support/meter-env.js';
import { runCli, startCli } from './support/spawn.js';
import { stringifyYaml } from '../src/yaml.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const fx = meterFixture();

function configFile(name: string, raw: Record<string, unknown>): string {
  const file = join(fx.tmp.dir, `${name}.yaml`);
  writeFileSync(file, stringifyYaml(raw));
  return file;
}

describe('worker admin port', () => {
  it('defaults to 9091, not the proxy admin port 9090', () => {
    const cfg = parseConfig({ upstream: { url: 'http://127.0.0.1:1' }, routes: [{ path: '/*', auth: 'none' }] });
    assert.equal(cfg.admin.port, 9090);
    assert.equal(cfg.metering.worker.admin.port, 9091);
  });

  it('a proxy and a worker started with the same config both serve their admin endpoints; SIGTERM stops the worker with exit 0', async () => {
    const adminPort = await freePort();
    const workerAdmin = await freePort();
    const raw = rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue: fx.queue, prefix: fx.prefix, spoolDir: `${fx.tmp.dir}/spool` });
    const file = configFile('shared', {
      ...raw,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: adminPort },
      threads: 1,
      server: { drain_delay_ms: 0 },
      metering: { ...(raw['metering'] as object), worker: { admin: { host: '127.0.0.1', port: workerAdmin } } },
    });
    const proxy = startCli(['proxy', '--config', file]);
    const worker = startCli(['worker', '--config', file]);
    try {
      assert.equal((await proxy.waitForLog('proxy listening'))['admin_port'], adminPort);
      assert.equal((await worker.waitForLog('worker: started'))['admin_port'], workerAdmin);
      await waitFor('worker ready', async () => ((await get(`http://127.0.0.1:${workerAdmin}/readyz`)).status === 200 ? true : undefined));
      assert.match((await get(`http://127.0.0.1:${workerAdmin}/metrics`)).body, /argus_ledger_inserted_total/);
      assert.equal((await get(`http://127.0.0.1:${adminPort}/readyz`)).status, 200);

      worker.child.kill('SIGTERM');
      // Prompt: well within Kubernetes' default 30 s grace (not the 35 s seen before).
      const exit = await Promise.race([worker.exited, new Promise<'slow'>((r) => setTimeout(() => r('slow'), 10000).unref())]);
      assert.notEqual(exit, 'slow', 'the worker stopped on the first SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(worker.logs.some((l) => l.includes('"worker: stopped"')));
    } finally {
      proxy.child.kill('SIGTERM');
      worker.child.kill('SIGKILL');
      await proxy.exited;
    }
  });

  it('a taken admin port: exit 1 with one line naming metering.worker.admin.port', async () => {
    const other = net.createServer().listen(0, '127.0.0.1');
    await once(other, 'listening');
    const taken = (other.address() as net.AddressInfo).port;
    try {
      const raw = rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue: fx.queue, prefix: fx.prefix, spoolDir: `${fx.tmp.dir}/spool2` });
      const file = configFile('taken', { ...raw, metering: { ...(raw['metering'] as object), worker: { admin: { host: '127.0.0.1', port: taken } } } });
      const r = await runCli(['worker', '--config', file]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`^argus-sidecar worker: metering\\.worker\\.admin\\.port ${taken} \\(127\\.0\\.0\\.1\\): address already in use`));
    } finally {
      other.close();
    }
  });
});
