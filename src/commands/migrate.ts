/** `argus-sidecar migrate --config FILE`: apply pending Postgres migrations. */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import { createPool, migrate } from '../clients/postgres.js';

export async function runMigrateCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('migrate', argv, CONFIG_OPTION);
  const cfg = configFromArgs(values);
  if (!cfg.postgres) throw new UsageError('config: postgres.url: required for migrate');
  const pool = createPool(cfg.postgres.url, { max: 1 });
  try {
    const applied = await migrate(pool);
    process.stdout.write(JSON.stringify({ applied }) + '\n');
    return 0;
  } finally {
    await pool.end();
  }
}
