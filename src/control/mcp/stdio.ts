/**
 * MCP over stdio (`argus-sidecar mcp --stdio`): one server for the process's
 * life, on its own service deps (Postgres, Redis, the sidecar's authenticator,
 * Stripe and the usage producer, as the control process builds them). The
 * process acts as one caller: the credential from the environment
 * (`ARGUS_MCP_TOKEN` or `ARGUS_MCP_API_KEY`, read by src/config.ts),
 * re-verified on every tool call so a revocation takes effect at once.
 * stdout carries only the protocol; logs go to stderr. It ends when stdin
 * closes (the agent is gone) or on SIGTERM/SIGINT.
 */
import { join } from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createAuthenticator } from '../../authenticate/index.js';
import { createPool } from '../../clients/postgres.js';
import { closeRedis, createRedis } from '../../clients/redis.js';
import type { Config } from '../../config.js';
import { createMeter } from '../../meter/producer.js';
import type { Logger } from '../../observe/log.js';
import { Metrics } from '../../observe/metrics.js';
import { StartupError } from '../../startup.js';
import { createBillingStripe } from '../billing/stripe-api.js';
import { createUserCache } from '../services/user-cache.js';
import { authenticateHeaders } from './scopes.js';
import { createMcpServer, TOOLS } from './server.js';
import type { McpDeps } from './tool.js';

export interface StdioCredential {
  readonly token?: string;
  readonly api_key?: string;
}

/** How long the start-up credential check waits for Redis to connect. */
const REDIS_READY_WAIT_MS = 5000;

/** Serve MCP on stdin/stdout until stdin closes or `stop` resolves; then close everything. */
export async function serveStdio(cfg: Readonly<Config>, credential: StdioCredential, opts: { log: Logger; stop: Promise<unknown> }): Promise<void> {
  if (!cfg.postgres) throw new StartupError('config: postgres.url: required for mcp');
  const log = opts.log;
  const metrics = new Metrics({ defaultMetrics: false });
  const pool = createPool(cfg.postgres.url, { max: 4 });
  pool.on('error', (err) => log.warn('mcp: postgres connection error', { err }));
  const redis = cfg.redis ? createRedis(cfg.redis, { connectionName: 'argus-mcp' }) : null;
  redis?.on('error', (err: Error) => log.debug('mcp: redis error', { err }));
  const authn = await createAuthenticator(cfg, { ...(redis && { redis }), metrics, log });
  const stripe = cfg.stripe?.api_key
    ? createBillingStripe({ stripe: cfg.stripe, webhookSecret: cfg.billing.webhook_secret, toleranceS: cfg.billing.webhook_tolerance_s })
    : null;
  // Its own spool directory: one owner per directory (one `mcp --stdio` per metering.spool_dir).
  const meter = cfg.metering.enabled
    ? createMeter({ ...cfg, metering: { ...cfg.metering, spool_dir: join(cfg.metering.spool_dir, 'mcp-stdio') } }, { metrics, log })
    : null;
  const prefix = cfg.redis?.key_prefix ?? 'argus:';
  // No change subscription here: entitlement checks read Postgres every time (ttl 0), so tier changes show at once.
  const userCache = createUserCache(pool, { ttlMs: 0 });
  const deps: McpDeps = { cfg, pool, redis, prefix, log, authn, now: Date.now, userCache, billing: { stripe, meter } };
  const close = async () => {
    await meter?.close();
    await stripe?.close();
    await authn.close();
    if (redis) await closeRedis(redis);
    await pool.end().catch(() => undefined);
  };
  const headers: string[] = [];
  if (credential.token !== undefined) headers.push('authorization', `Bearer ${credential.token}`);
  if (credential.api_key !== undefined) headers.push(cfg.auth.api_keys.header.toLowerCase(), credential.api_key);
  const caller = () => authenticateHeaders(deps, headers, 'stdio');
  // The start-up check reads Redis (API keys, revocations), whose client queues nothing
  // while it connects: checked before the connection is up, a wrong key was reported as
  // "authentication is temporarily unavailable" instead of refused. Wait for it (bounded).
  if (redis && redis.status !== 'ready') {
    // Not events.once: it rejects on the 'error' a failed connect attempt emits, and ioredis retries.
    let onReady = (): void => undefined;
    let timer: NodeJS.Timeout | undefined;
    const ready = await new Promise<boolean>((resolve) => {
      onReady = () => resolve(true);
      redis.once('ready', onReady);
      timer = setTimeout(() => resolve(false), REDIS_READY_WAIT_MS);
    });
    clearTimeout(timer);
    redis.off('ready', onReady);
    if (!ready) log.warn('mcp: Redis not connected yet; checking the credential anyway', { waited_ms: REDIS_READY_WAIT_MS });
  }
  const first = await caller();
  if (!first.ok) {
    await close();
    throw new StartupError(`mcp: the credential from the environment is refused: ${first.denial.code}: ${first.denial.message}`);
  }
  const server = createMcpServer(deps, { caller, meter });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    process.stdin.once('end', resolve);
  });
  await server.connect(transport);
  log.info('mcp: serving on stdio', { user_id: first.value.id, tools: TOOLS.length });
  await Promise.race([closed, opts.stop]);
  await server.close();
  await close();
  log.info('mcp: stopped');
}
