/**
 * `argus-sidecar inject-webhook --config FILE`: the sidecar injection webhook.
 * FILE is the injector's own YAML (see schema.ts and helm/argus-sidecar/README.md).
 * Runs until SIGTERM/SIGINT, then stops accepting and finishes in-flight reviews.
 */
import { CONFIG_OPTION, parseCommandArgs } from './args.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../observe/log.js';
import { loadInjectorConfig } from '../inject/schema.js';
import { startInjectorServer } from '../inject/server.js';

export async function runInjectWebhookCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('inject-webhook', argv, CONFIG_OPTION);
  if (typeof values.config !== 'string' || values.config === '') throw new UsageError('--config FILE is required');
  const cfg = loadInjectorConfig(values.config);
  const log = createLogger(cfg.log.level, { component: 'inject-webhook' });
  const server = await startInjectorServer(cfg, log);
  log.info('inject: listening', { host: cfg.listen.host, port: server.port, native_sidecar: cfg.sidecar.native });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info('inject: shutting down', { signal });
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await server.close();
  return 0;
}
