/**
 * A real Redis Cluster for tests: 3 masters with one replica each (6
 * redis-server processes on free ports, no persistence, a temp dir for the
 * cluster config files), created with `redis-cli --cluster create`. Never the
 * shared Redis on 6379. `stop()` kills every process and removes the dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './meter-env.js';

export interface TestCluster {
  /** Seed URLs of every node (config `redis.cluster`). */
  readonly urls: string[];
  /** The port of the master serving `key`'s slot right now. */
  masterOf(key: string): Promise<number>;
  /** SIGKILL the node on `port` (a crashed master). */
  kill(port: number): Promise<void>;
  /** Resolves once a live node other than `deadPort` serves `key`'s slot as master and the cluster is ok. */
  failedOver(key: string, deadPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/** A port p with p and p + 10000 (the cluster bus) both free. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 25000);
    if (taken.has(p) || taken.has(p + 10000)) continue;
    if ((await canBind(p)) && (await canBind(p + 10000))) {
      taken.add(p);
      taken.add(p + 10000);
      return p;
    }
  }
  throw new Error('no free port pair for a cluster node');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function info(port: number, section: string): Promise<string> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return String(await c.call('CLUSTER', section));
  } finally {
    c.disconnect();
  }
}

async function replicaLinkUp(port: number): Promise<boolean> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.info('replication')).includes('master_link_status:up');
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`))));
  });
}

export async function startTestCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'argus-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) ports.push(await freeClusterPort(taken));
  const procs = new Map<number, ChildProcess>();
  const stop = async (): Promise<void> => {
    await Promise.all([...procs.keys()].map((p) => kill(p)));
    rmSync(dir, { recursive: true, force: true });
  };
  async function kill(port: number): Promise<void> {
    const p = procs.get(port);
    procs.delete(port);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
  try {
    for (const port of ports) {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)];
      args.push('--cluster-node-timeout', '1500', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction');
      procs.set(port, spawn('redis-server', args, { stdio: 'ignore' }));
    }
    for (const port of ports)
      await waitFor(
        `redis-server on ${port}`,
        () =>
          info(port, 'INFO').then(
            () => true,
            () => false,
          ),
        10000,
        50,
      );
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
    for (const port of ports) await waitFor(`cluster_state:ok on ${port}`, async () => (await info(port, 'INFO')).includes('cluster_state:ok'), 30000, 100);
    // A replica that never finished its first sync refuses to fail over: wait for all three links.
    await waitFor('every replica in sync', async () => (await Promise.all(ports.map(replicaLinkUp))).filter(Boolean).length === 3, 30000, 100);
  } catch (err) {
    await stop();
    throw err;
  }

  async function masterOf(key: string): Promise<number> {
    for (const port of procs.keys()) {
      try {
        const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        c.on('error', () => undefined);
        try {
          await c.connect();
          const slot = Number(await c.call('CLUSTER', 'KEYSLOT', key));
          const shards = (await c.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
          for (const [lo, hi, master] of shards) if (slot >= lo && slot <= hi) return Number(master[1]);
        } finally {
          c.disconnect();
        }
      } catch {
        // try the next live node
      }
    }
    throw new Error('no live node answered CLUSTER SLOTS');
  }

  return {
    urls: ports.map((p) => `redis://127.0.0.1:${p}`),
    masterOf,
    kill,
    async failedOver(key, deadPort, timeoutMs = 30000) {
      return waitFor(
        `a replica to take over ${key}'s slot from ${deadPort}`,
        async () => {
          const m = await masterOf(key).catch(() => deadPort);
          if (m === deadPort || !procs.has(m)) return undefined;
          return (await info(m, 'INFO').catch(() => '')).includes('cluster_state:ok') ? m : undefined;
        },
        timeoutMs,
        100,
      );
    },
    stop,
  };
}
