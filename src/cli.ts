#!/usr/bin/env node
/**
 * `argus-sidecar <command> [options]` (contract: ARCHITECTURE.md §4).
 * Exit codes: 0 ok, 2 bad usage or config (the message names the key), 1 runtime failure.
 */
import { UsageError } from './errors.js';
import { StartupError } from './startup.js';

type Command = (argv: string[]) => Promise<number>;

/** Each command lives in its own module, loaded only when used. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  proxy: { summary: 'run the sidecar proxy (--config FILE)', load: async () => (await import('./lifecycle.js')).runProxyCommand },
  migrate: { summary: 'create or upgrade the Postgres schema (--config FILE)', load: async () => (await import('./store/migrate-command.js')).runMigrateCommand },
  keys: { summary: 'API keys: create | revoke KEY_ID | list | sync (--config FILE)', load: async () => (await import('./authenticate/keys-command.js')).runKeysCommand },
  revoke: { summary: 'kill switch: revoke (--user ID | --session SID | --key KEY_ID) --config FILE', load: async () => (await import('./authenticate/revoke-command.js')).runRevokeCommand },
  'inject-webhook': { summary: 'Kubernetes sidecar injection webhook, HTTPS (--config FILE)', load: async () => (await import('./inject/command.js')).runInjectWebhookCommand },
  worker: { summary: 'run the billing workers: usage queue -> ledger -> Stripe (--config FILE)', load: async () => (await import('../workers/worker-command.js')).runWorkerCommand },
  usage: { summary: 'usage queue: failed | replay-failed [--limit N] (--config FILE)', load: async () => (await import('../workers/usage-command.js')).runUsageCommand },
  demo: { summary: 'standalone demo: upstream + sidecar + a demo API key', load: async () => (await import('./demo/main.js')).runDemoCommand },
};

const USAGE = `usage: argus-sidecar <command> [options]\n\ncommands:\n${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`)
  .join('\n')}\n`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`argus-sidecar: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`argus-sidecar ${name}: ${err.message}\n`);
      return 2;
    }
    // One line naming what failed (a port, a dependency); a bug keeps its stack.
    const oneLine = err instanceof StartupError || typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as Error).message : (err as Error).stack ?? String(err);
    process.stderr.write(`argus-sidecar ${name}: ${oneLine}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // A command that failed exits now: nothing half-started (a listener, a queue
    // worker) may keep the process alive after its one-line error.
    if (code !== 0) process.exit(code);
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`argus-sidecar: ${String(err)}\n`);
    process.exit(1);
  },
);
