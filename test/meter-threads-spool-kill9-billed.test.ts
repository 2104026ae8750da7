/**
 * Outcome: with `threads: 2` every thread spools its own usage, and a proxy killed
 * with SIGKILL bills every answered request exactly once after a restart, whether
 * it comes back with the same thread count or a different one (a rollout that
 * changes `threads`, or an older release's spool layout): no thread's spool
 * directory is left behind unread. Real spawned proxy and worker, real Postgres
 * schema, the shared Redis under a random prefix.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { segmentFiles } from '../src/meter/spool.js';
import { SHARED_REDIS, meterFixture, spawnWorker, waitFor, writeConfig, type WorkerProcess } from './support/meter-env.js';
import { startCli, type StartedChild } from './support/spawn.js';

const fx = meterFixture();
let app: http.Server;
let appUrl: string;
let worker: WorkerProcess | undefined;

before(async () => {
  app = http.createServer((_req, res) => res.end('served'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
});

after(async () => {
  worker?.proc.kill('SIGTERM');
  await worker?.exited;
  await new Promise((r) => app.close(r));
});

/** The billing worker, started by the first test (the fixture's database exists only inside tests). */
async function ensureWorker(): Promise<void> {
  if (worker) return worker.started;
  worker = spawnWorker(
    writeConfig(fx.tmp.dir, {
      admin: { host: '127.0.0.1', port: 0 },
      upstream: { url: 'http://127.0.0.1:1' },
      routes: [{ path: '/*', auth: 'none' }],
      redis: { url: SHARED_REDIS, key_prefix: fx.prefix },
      postgres: { url: fx.db.url },
      metering: { queue: fx.queue, spool_dir: `${fx.tmp.dir}/unused`, worker: { lock_ms: 2000, stalled_interval_ms: 1000 } },
    }),
  );
  return worker.started;
}

function proxyConfig(spool: string, threads: number): string {
  return writeConfig(fx.tmp.dir, {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    threads,
    upstream: { url: appUrl },
    redis: { url: SHARED_REDIS, key_prefix: fx.prefix },
    // A minute between batches: whatever is billed after the kill came from the spool.
    metering: { queue: fx.queue, spool_dir: spool, service: 'sibyl', flush_interval_ms: 60000, ack_interval_ms: 100, queue_timeout_ms: 500 },
    routes: [{ path: '/*', auth: 'none', meter: true }],
    log: { level: 'info' },
  });
}

async function startProxy(file: string): Promise<{ proc: StartedChild; port: number }> {
  const proc = startCli(['proxy', '--config', file]);
  const rec = await proc.waitForLog('proxy listening', 30000);
  return { proc, port: rec['port'] as number };
}

/** One request on its own connection (SO_REUSEPORT spreads connections, not requests, over the threads). */
function hit(port: number, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/p/${id}`, headers: { 'x-request-id': id }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/** Thread spool directories under `spool` that hold at least one segment. */
function spooledDirs(spool: string): string[] {
  if (!existsSync(spool)) return [];
  return readdirSync(spool).filter((d) => segmentFiles(join(spool, d)).length > 0);
}

async function billed(prefix: string): Promise<string[]> {
  const { rows } = await fx.db.pool.query(`SELECT request_id FROM usage_events WHERE request_id LIKE $1 ORDER BY request_id`, [`${prefix}-%`]);
  return rows.map((r: { request_id: string }) => r.request_id);
}

for (const [label, restartThreads] of [
  ['the same thread count', 2],
  ['threads: 1', 1],
] as const) {
  test(`threads: 2 killed with SIGKILL, restarted with ${label}: every answered request billed once`, async (t) => {
    await ensureWorker();
    const tag = `thr2to${restartThreads}`;
    const spool = `${fx.tmp.dir}/spool-${tag}`;
    const first = await startProxy(proxyConfig(spool, 2));
    const ids: string[] = [];
    // Enough connections that both threads take some (each lands on either thread by the kernel's hash).
    for (let i = 0; i < 40; i++) {
      const id = `${tag}-${String(i).padStart(2, '0')}`;
      assert.equal(await hit(first.port, id), 200);
      ids.push(id);
    }
    await waitFor('both threads spooled usage', () => spooledDirs(spool).length >= 2 || undefined, 10000, 50);
    first.proc.child.kill('SIGKILL');
    assert.equal((await first.proc.exited).signal, 'SIGKILL');
    assert.deepEqual(await billed(tag), [], 'the batches were not due: nothing reached the ledger before the kill');

    const second = await startProxy(proxyConfig(spool, restartThreads));
    t.after(async () => {
      second.proc.child.kill('SIGTERM');
      await second.proc.exited;
    });
    await waitFor('every answered request in the ledger', async () => ((await billed(tag)).length >= ids.length ? true : undefined), 30000, 100);
    await waitFor('every spool directory emptied once acknowledged', () => spooledDirs(spool).length === 0 || undefined, 20000, 100);
    assert.deepEqual(await billed(tag), ids, 'each request exactly once');
  });
}
