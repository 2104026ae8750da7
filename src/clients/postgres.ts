/**
 * Postgres access for the worker, `migrate` and the admin CLI (never the proxy's
 * hot path). Migrations are modules in `./migrations/NNN_name.js`, each exporting
 * `sql`; they run in name order, each once, inside a transaction, recorded in
 * `argus_migrations`. An advisory lock lets several `migrate` runs race safely.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

export type Pool = pg.Pool;

const require = createRequire(import.meta.url);

export function createPool(url: string, opts: { max?: number; schema?: string } = {}): pg.Pool {
  // Loaded on first use (~150 ms here): CLI commands without Postgres, like the kill
  // switch's `revoke`, should not pay for it.
  const { Pool: PgPool } = require('pg') as typeof pg;
  const pool = new PgPool({ connectionString: url, max: opts.max ?? 10 });
  if (opts.schema) {
    const schema = opts.schema;
    pool.on('connect', (client) => {
      client.query(`SET search_path TO ${quoteIdent(schema)}`).catch(() => undefined);
    });
  }
  return pool;
}

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const MIGRATION_LOCK = 0x4152_4755; // "ARGU"

/** Apply pending migrations. Returns the names applied now. */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_.*\.js$/.test(f))
    .sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS argus_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM argus_migrations')).rows.map((r) => r.name));
    for (const file of files) {
      const name = file.replace(/\.js$/, '');
      if (done.has(name)) continue;
      const mod = (await import(new URL(`./migrations/${file}`, import.meta.url).href)) as { sql: string };
      await client.query('BEGIN');
      try {
        await client.query(mod.sql);
        await client.query('INSERT INTO argus_migrations (name) VALUES ($1)', [name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${name} failed: ${(err as Error).message}`);
      }
      applied.push(name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}
