/**
 * `argus-sidecar worker --config FILE`: the billing workers (queue → ledger,
 * ledger → Stripe), the projection watch (keys, revocations and users back into
 * a Redis that lost them) plus /metrics, /healthz and /readyz on its own admin
 * address, `metering.worker.admin` (default 0.0.0.0:9091, so one config serves a
 * proxy on admin 9090 and a worker beside it).
 *
 * Needs `redis` and `postgres` (exit 2 naming the key otherwise). The admin port
 * binds first: a port in use exits 1 with one line before any job is taken.
 * Stripe reporting runs only when `stripe.api_key` is set (else rows stay
 * unreported). SIGTERM/SIGINT (from the first one on, even during startup) stop
 * taking jobs, finish the running ones and exit 0. Run as many replicas as wanted.
 */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../observe/log.js';
import { Metrics } from '../observe/metrics.js';
import { portFailure } from '../startup.js';
import { createPool } from '../clients/postgres.js';
import { AdminServer } from '../admin/server.js';
import { createBillingWorker } from '../billing/billing-worker.js';
import { startProjectionWatch } from '../identity-admin/projection-watch.js';
import { createStripeSender } from '../billing/stripe-client.js';
import { createStripeReporter } from '../billing/stripe-reporter.js';
import { startLedgerMaintenance } from '../billing/ledger-maintenance.js';

export async function runWorkerCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('worker', argv, CONFIG_OPTION);
  const cfg = configFromArgs(values);
  if (!cfg.redis) throw new UsageError('config: redis.url: required for worker');
  if (!cfg.postgres) throw new UsageError('config: postgres.url: required for worker');
  const log = createLogger(cfg.log.level, { process: 'worker', pid: process.pid });

  const stop = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });

  let ready = (): boolean => false;
  const metrics = new Metrics();
  const addr = cfg.metering.worker.admin;
  // The proxy's admin server (src/admin/server.ts), with the worker's one readiness check.
  const admin = new AdminServer({ host: addr.host, port: addr.port, metrics, readiness: () => ({ worker: ready() }) });
  const adminPort = await admin.listen().catch((err: NodeJS.ErrnoException) => {
    throw portFailure('metering.worker.admin.port', addr.host, addr.port, err);
  });

  const pool = createPool(cfg.postgres.url, { max: cfg.metering.worker.concurrency + 2 });
  pool.on('error', (err) => log.warn('worker: postgres connection error', { err }));
  // Daily partitions ahead and retention (src/billing/ledger-maintenance.ts), before the first batch needs them.
  const maintenance = startLedgerMaintenance(cfg.billing.ledger, { pool, metrics, log });
  const worker = createBillingWorker(cfg, { pool, metrics, log });
  // Re-projects keys, revocations and users when Redis lost them (src/identity-admin/projection-watch.ts).
  const projection = startProjectionWatch(cfg, { pool, metrics, log });
  ready = () => worker.ready();
  const reporter = cfg.stripe?.api_key ? createStripeReporter(cfg.stripe, { pool, sender: createStripeSender(cfg.stripe), metrics, log }) : null;
  reporter?.start();
  log.info('worker: started', { queue: cfg.metering.queue, stripe: reporter !== null, admin_port: adminPort });

  const signal = await stop;
  log.info('worker: stopping', { signal });
  // Reverse order of startup, each step awaited: no new work, finish running work, then connections.
  await reporter?.close();
  await projection.close();
  await worker.close();
  await maintenance.close();
  await pool.end().catch(() => undefined);
  await admin.close();
  log.info('worker: stopped');
  return 0;
}
