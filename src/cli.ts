#!/usr/bin/env node
/**
 * `argus-sidecar <command> [options]` (commands: README.md, "Command line").
 * `argus-sidecar <command> --help` (or `-h`) prints that command's usage and exits 0.
 * Exit codes: 0 ok, 2 bad usage or config (the message names the key), 1 runtime failure.
 */
import { UsageError } from './errors.js';
import { StartupError } from './startup.js';
import { entitlementHelp, entitlementUsage } from './commands/entitlement-flags.js';

type Command = (argv: string[]) => Promise<number>;

/** Each command lives in its own module, loaded only when used. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  proxy: { summary: 'run the sidecar proxy (--config FILE)', load: async () => (await import('./commands/proxy.js')).runProxyCommand },
  migrate: { summary: 'create or upgrade the Postgres schema (--config FILE)', load: async () => (await import('./commands/migrate.js')).runMigrateCommand },
  keys: { summary: 'API keys: create | revoke KEY_ID | list | sync (--config FILE)', load: async () => (await import('./commands/keys.js')).runKeysCommand },
  users: { summary: 'user records: set | get | delete --user ID (--config FILE)', load: async () => (await import('./commands/users.js')).runUsersCommand },
  revoke: {
    summary: 'kill switch: revoke (--user ID | --session SID | --key KEY_ID) --config FILE',
    load: async () => (await import('./commands/revoke.js')).runRevokeCommand,
  },
  'inject-webhook': {
    summary: 'Kubernetes sidecar injection webhook, HTTPS (--config FILE)',
    load: async () => (await import('./commands/inject-webhook.js')).runInjectWebhookCommand,
  },
  control: {
    summary: 'run the control plane: REST API, reconciler (--config FILE)',
    load: async () => (await import('./commands/control.js')).runControlCommand,
  },
  mcp: {
    summary: 'MCP server for a local agent on stdio (--stdio --config FILE; ARGUS_MCP_TOKEN)',
    load: async () => (await import('./commands/mcp.js')).runMcpCommand,
  },
  worker: {
    summary: 'run the billing workers: usage queue -> ledger -> Stripe (--config FILE)',
    load: async () => (await import('./commands/worker.js')).runWorkerCommand,
  },
  usage: {
    summary: 'usage: failed | replay-failed | unbillable | review | resolve ID (--config FILE)',
    load: async () => (await import('./commands/usage.js')).runUsageCommand,
  },
  'auth-events': {
    summary: 'auth event log: refusals, revocations, closes (--user U --from T --to T --config FILE)',
    load: async () => (await import('./commands/auth-events.js')).runAuthEventsCommand,
  },
  demo: { summary: 'standalone demo: upstream + sidecar + a demo API key', load: async () => (await import('./commands/demo.js')).runDemoCommand },
};

/** `argus-sidecar <command> --help`: the command's full usage (the summary above when absent). */
const COMMAND_USAGE: Record<string, string> = {
  proxy: 'argus-sidecar proxy --config FILE\n  Run the sidecar: listen.port for clients, admin.port for /healthz, /readyz, /metrics.',
  worker: 'argus-sidecar worker --config FILE\n  Run the billing workers: usage queue -> Postgres ledger -> Stripe meter events.',
  control:
    'argus-sidecar control --config FILE\n  Run the control plane: /v1 REST API and /openapi.json on control.internal, control.public, /healthz /readyz /metrics on control.admin.',
  mcp: [
    'argus-sidecar mcp --stdio --config FILE',
    '  The MCP server (tools, resources, prompts: docs/mcp.md) on stdin/stdout for a local agent, acting with',
    '  ARGUS_MCP_TOKEN (a JWT or ak_ key, sent as a bearer) or ARGUS_MCP_API_KEY. Logs go to stderr.',
  ].join('\n'),
  migrate: 'argus-sidecar migrate --config FILE\n  Create or upgrade the Postgres schema (postgres.url).',
  keys: [
    'argus-sidecar keys create --user ID --tier TIER [--role R] [--scopes a,b] [--features x,y]',
    `                          [--requests-per-minute N]${entitlementUsage()} --config FILE`,
    '  Create a key in Postgres (and Redis); prints {"key_id":…,"key":…} once.',
    ...entitlementHelp(),
    'argus-sidecar keys create --standalone FILE --user ID --tier TIER [same options, no --config]',
    "  Standalone mode (auth.api_keys.file): append the key's record (SHA-256 only) to FILE and print the key once.",
    'argus-sidecar keys revoke KEY_ID --config FILE',
    'argus-sidecar keys list --user ID --config FILE',
    'argus-sidecar keys sync --config FILE',
  ].join('\n'),
  revoke:
    'argus-sidecar revoke (--user ID | --session SID | --key KEY_ID) --config FILE\n  Kill switch: revoke everywhere at once (needs Redis; Postgres optional).',
  'inject-webhook': 'argus-sidecar inject-webhook --config FILE\n  The Kubernetes sidecar injection webhook (HTTPS; see helm/argus-sidecar/README.md).',
  usage:
    'argus-sidecar usage failed [--limit N] --config FILE\nargus-sidecar usage replay-failed [--limit N] --config FILE\n  List / replay usage batches that failed for good.',
  'auth-events':
    'argus-sidecar auth-events [--user U] [--from T] [--to T] [--kind refusal|ws_close|revocation|tier_change] [--limit N] [--cursor C] --config FILE\n  The auth event log from Postgres, oldest first, JSON lines (T: ISO 8601 or epoch ms; --to exclusive; more rows: next_cursor C on stderr).',
  demo: 'argus-sidecar demo\n  Standalone demo: a demo upstream behind the sidecar, a demo API key and curl lines.',
};

const USAGE = `usage: argus-sidecar <command> [options]\n\ncommands:\n${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`)
  .join('\n')}\n\n"argus-sidecar <command> --help" prints a command's usage.\n`;

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
  // --help anywhere before a "--" (so `keys create --help` works too).
  const end = rest.indexOf('--');
  if ((end < 0 ? rest : rest.slice(0, end)).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`usage: ${COMMAND_USAGE[name] ?? `argus-sidecar ${name}: ${command.summary}`}\n`);
    return 0;
  }
  try {
    return await (await command.load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`argus-sidecar ${name}: ${err.message}\n`);
      return 2;
    }
    // One line naming what failed (a port, a dependency); a bug keeps its stack.
    const oneLine =
      err instanceof StartupError || typeof (err as NodeJS.ErrnoException).code === 'string' ? (err as Error).message : ((err as Error).stack ?? String(err));
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
