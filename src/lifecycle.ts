/**
 * Start and stop the sidecar: the proxy (one core in this thread, or one per
 * worker thread with `threads: N`), then the admin port. Shutdown reverses it:
 * readiness false → stop accepting → drain in-flight → close → admin port.
 */
import { performance } from 'node:perf_hooks';
import { featuresRoute } from './admin/features.js';
import { AdminServer, type AdminRoute } from './admin/server.js';
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './cli-args.js';
import { availableCores, type Config } from './config.js';
import { createLogger, type Logger } from './observe/log.js';
import { Metrics } from './observe/metrics.js';
import { startCore } from './proxy-core.js';
import { startThreadPool } from './threads/main.js';
import { createAuthenticator } from './authenticate/index.js';

/** What the admin port scrapes (one thread's Metrics, or the threads' aggregate). */
export interface MetricsView {
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
}

export interface RunningProxy {
  readonly port: number;
  readonly adminPort: number;
  readonly threads: number;
  readonly metrics: MetricsView;
  /** Requests being served now (all threads). */
  inflight(): Promise<number>;
  /** Drain and close everything. Idempotent. Resolves true when the drain finished in time. */
  stop(): Promise<boolean>;
}

export interface StartOptions {
  readonly log?: Logger;
  /** Milliseconds clock (monotonic). */
  readonly now?: () => number;
  /** Collect prom-client default process metrics (off in tests running several proxies). */
  readonly defaultMetrics?: boolean;
}

/** `threads: auto` → the cores this process may use. */
export function threadCount(cfg: Readonly<Config>): number {
  return cfg.threads === 'auto' ? availableCores() : cfg.threads;
}

export async function startProxy(cfg: Readonly<Config>, opts: StartOptions = {}): Promise<RunningProxy> {
  const log = opts.log ?? createLogger(cfg.log.level, { component: 'proxy' });
  const threads = threadCount(cfg);
  let draining = false;

  let proxy: { port: number; metrics: MetricsView; readiness(): Record<string, boolean> | Promise<Record<string, boolean>>; inflight(): number | Promise<number>; stop(): Promise<boolean> };
  let features: AdminRoute;
  let jwksStatus: () => unknown = () => null;
  let closeExtra: () => Promise<void> = async () => undefined;
  if (threads === 1) {
    const metrics = new Metrics({ defaultMetrics: opts.defaultMetrics ?? true });
    const core = await startCore(cfg, { log, metrics, now: opts.now ?? (() => performance.now()) });
    proxy = core;
    features = featuresRoute(core.authenticator);
    jwksStatus = () => core.authenticator.jwksStatus();
  } else {
    const pool = await startThreadPool(cfg, threads, log);
    proxy = { port: pool.port, metrics: pool, readiness: () => pool.readiness(), inflight: () => pool.inflight(), stop: () => pool.stop() };
    // The batch feature check reads Redis records: the main thread keeps its own small authenticator for it.
    const auth = await createAuthenticator(cfg, { metrics: new Metrics({ defaultMetrics: false }), log });
    features = featuresRoute(auth);
    // The main thread's key set refreshes from the same source as the threads' (what /readyz shows).
    jwksStatus = () => auth.jwksStatus();
    closeExtra = () => auth.close();
  }

  const admin = new AdminServer({
    host: cfg.admin.host,
    port: cfg.admin.port,
    metrics: proxy.metrics,
    readiness: async () => ({ ...(await proxy.readiness()), accepting: !draining }),
    routes: { '/v1/features': features },
    readinessDetail: () => {
      const jwks = jwksStatus();
      return jwks === null ? {} : { jwks };
    },
  });
  const adminPort = await admin.listen();
  log.info('proxy listening', { port: proxy.port, admin_port: adminPort, threads, upstream: cfg.upstream.url });

  let stopping: Promise<boolean> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      draining = true;
      const drained = await proxy.stop();
      await closeExtra();
      await admin.close();
      return drained;
    })());

  return { port: proxy.port, adminPort, threads, metrics: proxy.metrics, inflight: async () => proxy.inflight(), stop };
}

/** `argus-sidecar proxy --config FILE`: run until SIGTERM/SIGINT, then drain and exit 0. */
export async function runProxyCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('proxy', argv, CONFIG_OPTION);
  const cfg = configFromArgs(values);
  const log = createLogger(cfg.log.level, { component: 'proxy' });
  const proxy = await startProxy(cfg, { log });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info('draining', { signal });
  const drained = await proxy.stop();
  log.info('stopped', { drained });
  // uWS keeps idle keep-alive sockets open; everything worth finishing is finished.
  process.exit(0);
}
