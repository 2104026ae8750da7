/**
 * The control process (`argus-sidecar control`): the REST API on
 * `control.internal`, public endpoints on `control.public`, `/healthz`,
 * `/readyz`, `/metrics` on `control.admin` (src/admin/server.ts), the
 * reconciler and the projection watch. Start-up: admin port first (a taken
 * port exits 1 naming the key), Postgres, Redis, the authenticator, the
 * change subscription, then the listeners.
 *
 * Stop (SIGTERM): readiness false, stop accepting, let in-flight requests
 * finish up to `control.drain_timeout_ms`, then close the reconciler, the
 * watch, the authenticator, Redis, Postgres and the admin port, in that order.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { AdminServer } from '../admin/server.js';
import { createAuthenticator } from '../authenticate/index.js';
import { createPool } from '../clients/postgres.js';
import { closeRedis, createRedis, type Redis } from '../clients/redis.js';
import type { Config } from '../config.js';
import { UsageError } from '../errors.js';
import { changeKeys, type ChangeMessage } from '../identity-admin/changes.js';
import { startProjectionWatch } from '../identity-admin/projection-watch.js';
import type { Logger } from '../observe/log.js';
import { Metrics } from '../observe/metrics.js';
import { portFailure } from '../startup.js';
import { createMeter, type Meter } from '../meter/producer.js';
import { createApi, type ApiDeps } from './api/app.js';
import { billingPublicRoutes } from './api/routes-billing.js';
import { createBillingMetrics } from './billing/metrics.js';
import { createBillingStripe } from './billing/stripe-api.js';
import { startGraceSweeper, type Sweeper } from './billing/sweeper.js';
import { createControlMetrics } from './metrics.js';
import { startReconciler, type Reconciler } from './reconciler.js';
import { createUserCache } from './services/user-cache.js';

export interface RunningControl {
  readonly internalPort: number;
  readonly publicPort: number;
  readonly adminPort: number;
  readonly deps: ApiDeps;
  readonly reconciler: Reconciler | null;
  readonly sweeper: Sweeper;
  /** Drain and close everything; idempotent. */
  stop(): Promise<void>;
}

export async function startControl(cfg: Readonly<Config>, opts: { log: Logger; defaultMetrics?: boolean }): Promise<RunningControl> {
  if (!cfg.postgres) throw new UsageError('config: postgres.url: required for control');
  const c = cfg.control;
  const log = opts.log;
  const metrics = new Metrics({ defaultMetrics: opts.defaultMetrics ?? true });
  const cm = createControlMetrics(metrics);
  let ready = false;
  const admin = new AdminServer({
    host: c.admin.host,
    port: c.admin.port,
    metrics,
    readiness: () => ({ control: ready, redis: redis === null || redis.status === 'ready', auth: authn.ready() }),
  });
  const adminPort = await admin.listen().catch((err: NodeJS.ErrnoException) => {
    throw portFailure('control.admin.port', c.admin.host, c.admin.port, err);
  });
  const pool = createPool(cfg.postgres.url, { max: c.max_connections });
  pool.on('error', (err) => log.warn('control: postgres connection error', { err }));
  const redis: Redis | null = cfg.redis ? createRedis(cfg.redis, { connectionName: 'argus-control' }) : null;
  redis?.on('error', (err: Error) => log.debug('control: redis error', { err }));
  const authn = await createAuthenticator(cfg, { ...(redis && { redis }), metrics, log });
  const prefix = cfg.redis?.key_prefix ?? 'argus:';
  const userCache = createUserCache(pool, { ttlMs: cfg.auth.cache.ttl_ms });
  const bm = createBillingMetrics(metrics);
  const stripe = cfg.stripe?.api_key
    ? createBillingStripe({ stripe: cfg.stripe, webhookSecret: cfg.billing.webhook_secret, toleranceS: cfg.billing.webhook_tolerance_s })
    : null;
  // `POST /v1/usage/events` spools in its own directory: never one a proxy thread owns.
  const meter: Meter | null = cfg.metering.enabled
    ? createMeter({ ...cfg, metering: { ...cfg.metering, spool_dir: join(cfg.metering.spool_dir, 'control') } }, { metrics, log })
    : null;
  const billing = { stripe, meter, onWebhook: bm.webhook };
  const deps: ApiDeps = { cfg, pool, redis, prefix, log, authn, now: Date.now, onProjection: cm.projection, userCache, billing };
  const subscriber = redis ? await subscribeChanges(redis, prefix, (m) => m.kind === 'user' && userCache.evict(m.id), log) : null;
  const reconciler = redis ? startReconciler(deps, { intervalMs: c.reconcile_interval_ms, sweepMs: c.sweep_interval_ms, metrics: cm }) : null;
  const watch = redis ? startProjectionWatch(cfg, { pool, metrics, log }) : null;
  const sweeper = startGraceSweeper(deps, bm, cfg.billing.sweep_interval_ms);

  const api = createApi(() => deps, { observe: cm.observe, onError: (err) => log.error('control: request failed', { err }) });
  const internal = createServer(getRequestListener(api.fetch));
  const pub = new Hono().get('/healthz', (ctx) => ctx.json({ status: 'ok' }));
  billingPublicRoutes(pub, () => deps);
  // Imported only when configured: without a dashboard the OAuth client is never loaded.
  if (c.dashboard) (await import('./dashboard/index.js')).mountDashboard(pub, { ...deps, authn }, c.dashboard);
  pub.notFound((ctx) => ctx.json({ error: { code: 'ARGUS_NOT_FOUND', message: 'no such endpoint', request_id: '' } }, 404));
  const publicServer = createServer(getRequestListener(pub.fetch));
  const internalPort = await listen(internal, 'control.internal.port', c.internal.host, c.internal.port);
  const publicPort = await listen(publicServer, 'control.public.port', c.public.host, c.public.port);
  ready = true;
  log.info('control: started', { internal_port: internalPort, public_port: publicPort, admin_port: adminPort, redis: redis !== null });

  let stopping: Promise<void> | null = null;
  return {
    internalPort,
    publicPort,
    adminPort,
    deps,
    reconciler,
    sweeper,
    stop() {
      stopping ??= (async () => {
        ready = false;
        await Promise.all([drain(internal, c.drain_timeout_ms), drain(publicServer, c.drain_timeout_ms)]);
        await sweeper.close();
        await reconciler?.close();
        await meter?.close();
        await stripe?.close();
        await watch?.close();
        await authn.close();
        if (subscriber) await closeRedis(subscriber);
        if (redis) await closeRedis(redis);
        await pool.end().catch(() => undefined);
        await admin.close();
        log.info('control: stopped');
      })();
      return stopping;
    },
  };
}

function listen(server: Server, key: string, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(portFailure(key, host, port, err)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Stop accepting, close idle keep-alive connections, wait for in-flight requests up to `ms`, then cut the rest. */
function drain(server: Server, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, ms);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Follow `<prefix>auth:changes` (the control process's own caches evict like the sidecars'). */
async function subscribeChanges(redis: Redis, prefix: string, on: (m: ChangeMessage) => void, log: Logger): Promise<Redis> {
  const sub = redis.duplicate({ connectionName: 'argus-control-changes', enableOfflineQueue: true });
  sub.on('error', (err: Error) => log.debug('control: change subscription error', { err }));
  sub.on('message', (_channel: string, text: string) => {
    try {
      const m = JSON.parse(text) as ChangeMessage;
      if (typeof m.id === 'string') on(m);
    } catch {
      // not ours
    }
  });
  await sub.subscribe(changeKeys(prefix).channel).catch((err: unknown) => log.warn('control: change subscription not confirmed yet', { err }));
  return sub;
}
