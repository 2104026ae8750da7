/**
 * `argus-sidecar mcp --stdio --config FILE`: the MCP server for a local agent
 * (src/control/mcp/, docs/mcp.md) on stdin/stdout, acting with the credential in
 * `ARGUS_MCP_TOKEN` or `ARGUS_MCP_API_KEY` (neither: exit 2). Needs `postgres`.
 * Over HTTP the same server is `/mcp` on the control process. Loaded only for
 * this verb: the proxy never imports it.
 */
import { UsageError } from '../errors.js';
import { mcpCredential } from '../config.js';
import { createLogger } from '../observe/log.js';
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';

export async function runMcpCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('mcp', argv, { ...CONFIG_OPTION, stdio: { type: 'boolean' } });
  if (values.stdio !== true) throw new UsageError('--stdio is required (over HTTP, MCP is /mcp on `argus-sidecar control`)');
  const cfg = configFromArgs(values);
  if (!cfg.postgres) throw new UsageError('config: postgres.url: required for mcp');
  const credential = mcpCredential();
  if (credential === undefined) throw new UsageError('ARGUS_MCP_TOKEN or ARGUS_MCP_API_KEY: required (the credential the agent acts with)');
  const log = createLogger(cfg.log.level, { process: 'mcp', pid: process.pid });
  const stop = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const { serveStdio } = await import('../control/mcp/stdio.js');
  await serveStdio(cfg, credential, { log, stop });
  return 0;
}
