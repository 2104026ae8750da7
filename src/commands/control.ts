/**
 * `argus-sidecar control --config FILE`: the control plane (src/control/,
 * docs/control-plane.md): REST API on `control.internal`, public endpoints on
 * `control.public`, admin on `control.admin`. Needs `postgres` (exit 2 naming
 * the key otherwise). SIGTERM/SIGINT drain in-flight requests
 * (`control.drain_timeout_ms`) and exit 0. Loaded only for this verb: the proxy
 * never imports it.
 */
import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { createLogger } from '../observe/log.js';

export async function runControlCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('control', argv, CONFIG_OPTION);
  const cfg = configFromArgs(values);
  const log = createLogger(cfg.log.level, { process: 'control', pid: process.pid });
  const signal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const { startControl } = await import('../control/main.js');
  const control = await startControl(cfg, { log });
  const received = await signal;
  log.info('control: draining', { signal: received, drain_timeout_ms: cfg.control.drain_timeout_ms });
  setTimeout(() => {
    log.error('control: shutdown overran control.drain_timeout_ms + 5 s: exiting');
    process.exit(1);
  }, cfg.control.drain_timeout_ms + 5000).unref();
  await control.stop();
  return 0;
}
