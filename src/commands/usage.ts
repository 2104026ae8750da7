/**
 * `argus-sidecar usage <sub> --config FILE`: operate on the usage queue.
 *   usage failed         [--limit N]  list failed batches (kept by the worker) as JSON lines
 *   usage replay-failed  [--limit N]  move failed batches back to the queue, same job ids
 * Replaying is always safe: the ledger insert ignores events it already has.
 * `usage unbillable | review | resolve` read the Postgres ledger: usage-ledger.ts.
 */
import { Queue } from 'bullmq';
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import { bullPrefix } from '../meter/queue.js';
import { batchSize } from '../meter/wire.js';
import { StartupError } from '../startup.js';
import { closeRedis, createBullRedis, type Redis } from '../clients/redis.js';
import { LEDGER_SUBCOMMANDS, runUsageLedgerCommand } from './usage-ledger.js';

const SUBCOMMANDS = ['failed', 'replay-failed'] as const;

export async function runUsageCommand(argv: string[]): Promise<number> {
  if ((LEDGER_SUBCOMMANDS as readonly string[]).includes(firstPositional(argv) ?? '')) return runUsageLedgerCommand(argv);
  const { values, positionals } = parseCommandArgs('usage', argv, { ...CONFIG_OPTION, limit: { type: 'string' } }, true);
  const sub = positionals[0];
  if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub) || positionals.length > 1) {
    throw new UsageError(`usage: argus-sidecar usage (${[...SUBCOMMANDS, ...LEDGER_SUBCOMMANDS].join(' | ')}) [--limit N] --config FILE`);
  }
  const limit = values.limit === undefined ? 10000 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: expected a positive integer');
  const cfg = configFromArgs(values);
  if (!cfg.redis) throw new UsageError('config: redis.url: required for usage');
  const connection = createBullRedis(cfg.redis, { maxRetriesPerRequest: 3 });
  // A one-shot command: Redis down is a one-line failure, not a wait forever.
  await whenReady(connection, 5000).catch(async (err: Error) => {
    await closeRedis(connection);
    throw new StartupError(`redis.url: Redis not reachable (${err.message})`);
  });
  const queue = new Queue(cfg.metering.queue, { connection, prefix: bullPrefix(cfg) });
  try {
    const failed = await queue.getFailed(0, limit - 1);
    if (sub === 'failed') {
      for (const job of failed) {
        process.stdout.write(
          JSON.stringify({ job_id: job.id, events: batchSize(job.name, job.data), attempts_made: job.attemptsMade, failed_reason: job.failedReason }) + '\n',
        );
      }
      return 0;
    }
    let retried = 0;
    for (const job of failed) {
      // A fresh set of attempts with the same backoff: the batch gets the full retry policy again.
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      retried++;
    }
    process.stdout.write(JSON.stringify({ retried }) + '\n');
    return 0;
  } finally {
    await queue.close();
    await closeRedis(connection);
  }
}

/** The subcommand: the first argument that is neither a flag nor a flag's value. */
function firstPositional(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config' || a === '--limit') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let last = 'no answer';
    const onError = (err: Error) => (last = err.message);
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      redis.off('error', onError);
      reject(new Error(`${last} after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      redis.off('error', onError);
      resolve();
    };
    redis.once('ready', onReady);
    redis.on('error', onError);
  });
}
