/**
 * Kill-switch latency: how long a revoked user's live WebSocket session survives.
 * Opens `users` sessions through a sidecar (one API key and user each, projected
 * into Redis under the sidecar's key prefix), then revokes the users one by one:
 * 1. with the real CLI, `node dist/src/cli.js revoke --user ID --config FILE`
 *    (Redis only, no Postgres): spawn → close frame 4403, and spawn → CLI exit;
 * 2. the same with `postgres` configured (a throwaway schema): the production path;
 * 3. in-process with publishRevocation (deny state + PUBLISH in one MULTI):
 *    call → close frame 4403.
 * Reported: p50 / p99 / max per path (nearest rank; with 50 samples p99 = max).
 *
 * The sidecar's route heartbeat is set to 60 s so that only the pub/sub path can
 * close a session: the numbers are the kill switch, not the heartbeat's poll.
 *
 * Alone: `node dist/bench/killswitch.js` (Redis at 127.0.0.1:6379, Postgres at 127.0.0.1:5432; env
 * BENCH_KILL_USERS, default 50) writes bench/results/<date>-<sha>/killswitch.json and .md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type WebSocket from 'ws';
import { generateApiKey } from '../src/authenticate/index.js';
import { redisKeys } from '../src/authenticate/store.js';
import { projectKey, publishRevocation } from '../src/identity-admin/publish.js';
import { createTestDb, type TestDb } from '../test/support/meter-env.js';
import { DIST } from './harness.js';
import {
  markdownTable,
  openWs,
  pct,
  pinSelfToCore0,
  round,
  startWsStack,
  writeSuiteResults,
  type BenchOutput,
  type BenchTargets,
  type Row,
} from './streams.js';

export interface KillSwitchOptions {
  /** Sessions (= users) per revocation path. Default 50. */
  readonly users?: number;
  /** Give up on a close frame after this long. Default 10000 ms. */
  readonly timeoutMs?: number;
}

interface Session {
  readonly ws: WebSocket;
  readonly userId: string;
  /** Resolves with the close code and performance.now() of the client's close event. */
  readonly closed: Promise<{ code: number; at: number }>;
}

const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
/** Heartbeat of the lost-pub/sub scenario's route. */
const HEARTBEAT_MS = 1000;

/** Spawn `node ...argv` pinned to core 0 (the operator's side, not the sidecar's core). */
function spawnNode(argv: string[]): Promise<{ code: number | null; stderr: string; at: number }> {
  const child = HAS_TASKSET
    ? spawn('taskset', ['-c', '0', process.execPath, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr, at: performance.now() })));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

function summary(scenario: string, samples: number[]): Row {
  const s = [...samples].sort((a, b) => a - b);
  return {
    scenario,
    samples: s.length,
    p50_ms: round(pct(s, 50), 2),
    p99_ms: round(pct(s, 99), 2),
    max_ms: round(pct(s, 100), 2),
    mean_ms: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), 2),
  };
}

/**
 * Kill-switch latency through its own sidecar + `ws` echo upstream
 * (streams.startWsStack; Redis `t.redisUrl`, keys and deny state under `t.prefix`,
 * removed afterwards). Throws if a session closes with anything but 4403, closes
 * before its own revocation, or the CLI exits non-zero.
 */
export async function benchKillSwitch(t: Pick<BenchTargets, 'redisUrl' | 'prefix'>, opts: KillSwitchOptions = {}): Promise<BenchOutput> {
  const users = opts.users ?? 50;
  const timeoutMs = opts.timeoutMs ?? 10000;
  const tag = randomBytes(3).toString('hex');
  const redis = new Redis(t.redisUrl);
  const k = redisKeys(t.prefix);
  const cleanup: string[] = [];
  const stack = await startWsStack(t.redisUrl, t.prefix, 60000).catch((err: unknown) => {
    redis.disconnect();
    throw err;
  });
  const url = `ws://127.0.0.1:${stack.sidecar.port}/ws/killswitch`;

  const openSessions = async (path: string): Promise<Session[]> => {
    const keys = Array.from({ length: users }, (_, i) => ({ key: generateApiKey(), userId: `ks-${tag}-${path}-${i}` }));
    await Promise.all(
      keys.map(({ key, userId }) => {
        cleanup.push(k.key(key.sha256), k.user(userId), k.deny('user', userId));
        return projectKey(redis, t.prefix, key.sha256, { key_id: key.key_id, user_id: userId, tier: 'business', scopes: [], features: [], status: 'active' });
      }),
    );
    return Promise.all(
      keys.map(async ({ key, userId }) => {
        const ws = await openWs(url, { 'x-api-key': key.key });
        const closed = new Promise<{ code: number; at: number }>((r) => ws.once('close', (code) => r({ code, at: performance.now() })));
        return { ws, userId, closed };
      }),
    );
  };
  const expectRevoked = async (s: Session, t0: number) => {
    const c = await withTimeout(s.closed, timeoutMs, `close frame for ${s.userId}`);
    if (c.code !== 4403) throw new Error(`${s.userId}: closed with ${c.code}, expected 4403`);
    if (c.at < t0) throw new Error(`${s.userId}: closed before its revocation`);
    return c.at - t0;
  };

  const nodeExit: number[] = [];
  const cliClose: number[] = [];
  const cliExit: number[] = [];
  const pgClose: number[] = [];
  const pgExit: number[] = [];
  const pubClose: number[] = [];
  const open: Session[] = [];
  let db: TestDb | null = null;
  try {
    // Baseline: what a bare Node process costs to spawn and exit on this machine.
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      nodeExit.push((await spawnNode(['-e', ''])).at - t0);
    }
    const revokeViaCli = async (path: string, configFile: string, close: number[], exited: number[]) => {
      const sessions = await openSessions(path);
      open.push(...sessions);
      for (const s of sessions) {
        const t0 = performance.now();
        const exit = spawnNode([`${DIST}src/cli.js`, 'revoke', '--user', s.userId, '--config', configFile]);
        close.push(await expectRevoked(s, t0));
        const e = await withTimeout(exit, timeoutMs, 'revoke CLI exit');
        if (e.code !== 0) throw new Error(`revoke CLI exited ${e.code}: ${e.stderr}`);
        exited.push(e.at - t0);
      }
    };
    await revokeViaCli('cli', stack.configFile, cliClose, cliExit);
    // The production path: Redis written first (it closes the sessions), then Postgres (the source of truth).
    db = await createTestDb();
    const pgConfig = join(dirname(stack.configFile), 'ws-pg.yaml');
    writeFileSync(pgConfig, `${readFileSync(stack.configFile, 'utf8')}\npostgres: { url: ${JSON.stringify(db.url)} }\n`);
    await revokeViaCli('clipg', pgConfig, pgClose, pgExit);
    const viaPublish = await openSessions('pub');
    open.push(...viaPublish);
    for (const s of viaPublish) {
      const t0 = performance.now();
      const reached = await publishRevocation(redis, t.prefix, { kind: 'user', id: s.userId, at: Date.now() / 1000 });
      if (reached < 1) throw new Error('PUBLISH reached no subscriber: the sidecar is not listening');
      pubClose.push(await expectRevoked(s, t0));
    }
  } finally {
    for (const s of open) s.ws.terminate();
    await stack.stop();
    await db?.drop();
  }

  // Lost pub/sub: the deny state is written but never published; only the heartbeat
  // (every HEARTBEAT_MS, re-checking Redis) can close the session. Bound: heartbeat_ms + 100 ms.
  const hbClose: number[] = [];
  const hbStack = await startWsStack(t.redisUrl, t.prefix, HEARTBEAT_MS);
  const hbOpen: Session[] = [];
  try {
    const hbUrl = `ws://127.0.0.1:${hbStack.sidecar.port}/ws/killswitch`;
    const keys = Array.from({ length: Math.min(users, 20) }, (_, i) => ({ key: generateApiKey(), userId: `ks-${tag}-hb-${i}` }));
    await Promise.all(
      keys.map(({ key, userId }) => {
        cleanup.push(k.key(key.sha256), k.user(userId), k.deny('user', userId));
        return projectKey(redis, t.prefix, key.sha256, { key_id: key.key_id, user_id: userId, tier: 'business', scopes: [], features: [], status: 'active' });
      }),
    );
    for (const { key, userId } of keys) {
      const ws = await openWs(hbUrl, { 'x-api-key': key.key });
      const closed = new Promise<{ code: number; at: number }>((r) => ws.once('close', (code) => r({ code, at: performance.now() })));
      const s = { ws, userId, closed };
      hbOpen.push(s);
      // A random phase against the heartbeat: the worst case is a write just after a check.
      await new Promise((r) => setTimeout(r, Math.random() * HEARTBEAT_MS));
      const t0 = performance.now();
      await redis.set(k.deny('user', userId), String(Date.now() / 1000));
      hbClose.push(await expectRevoked(s, t0));
    }
  } finally {
    for (const s of hbOpen) s.ws.terminate();
    await hbStack.stop();
    if (cleanup.length > 0) await redis.del(cleanup);
    redis.disconnect();
  }
  const hbRow = summary(`lost pub/sub: deny state only → close 4403 by the heartbeat (heartbeat_ms ${HEARTBEAT_MS}, bound ${HEARTBEAT_MS + 100} ms)`, hbClose);
  const rows = [
    summary('revoke CLI: spawn → close 4403', cliClose),
    summary('revoke CLI: spawn → CLI exit', cliExit),
    summary('revoke CLI with Postgres: spawn → close 4403', pgClose),
    summary('revoke CLI with Postgres: spawn → CLI exit', pgExit),
    summary('publishRevocation (MULTI SET+PUBLISH) → close 4403', pubClose),
    hbRow,
    summary('baseline: spawn `node -e ""` → exit', nodeExit),
  ];
  const notes = [
    `Kill switch: ${users} sessions per path, one user each, revoked one at a time; the other sessions stay open meanwhile. Close time = the client's \`close\` event (close frame received and answered, loopback).`,
    `Lost pub/sub: ${hbClose.length} sessions on a sidecar with heartbeat_ms ${HEARTBEAT_MS}; deny key SET without PUBLISH at a random phase of the heartbeat; max ${hbRow.max_ms} ms against the ${HEARTBEAT_MS + 100} ms bound.`,
    'Kill switch: the CLI path includes Node start-up, config load (YAML + full zod validation) and the Redis connection of `argus-sidecar revoke`: Redis deny state + PUBLISH in one MULTI/EXEC write over the lean RESP client (no ioredis); with Postgres configured, the revocation row (the source of truth) is written after Redis, once pg has loaded. Route heartbeat 60 s so only pub/sub closes sessions.',
  ];
  return { rows, markdown: markdownTable(rows), notes };
}

async function main(): Promise<void> {
  const pinned = pinSelfToCore0();
  const prefix = `argus-bench:${randomBytes(4).toString('hex')}:`;
  const redisUrl = 'redis://127.0.0.1:6379';
  let out: BenchOutput;
  try {
    out = await benchKillSwitch({ redisUrl, prefix }, { users: Number(process.env['BENCH_KILL_USERS'] ?? 50) });
  } finally {
    // The sidecar may leave its own keys (rate-limit buckets) under the throwaway prefix.
    const { dropPrefix } = await import('../test/support/auth-harness.js');
    const redis = new Redis(redisUrl);
    await dropPrefix(redis, prefix);
    redis.disconnect();
  }
  writeSuiteResults('killswitch', 'node dist/bench/killswitch.js', { 'Kill switch': out }, [
    `${pinned}; sidecar and echo upstream pinned to core 1; revoke CLI pinned to core 0.`,
  ]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
