import { CONFIG_OPTION, configFromArgs, parseCommandArgs } from './args.js';
import { startProxy, type RunningProxy } from '../lifecycle.js';
import { createLogger } from '../observe/log.js';
import { lowerHelperThreads } from '../server/helper-threads.js';

/**
 * `argus-sidecar proxy --config FILE`: run until SIGTERM/SIGINT, then drain
 * (`server.drain_delay_ms` still serving with `Connection: close`, then in-flight
 * requests until `server.drain_timeout_ms` after the signal) and exit 0.
 */
export async function runProxyCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('proxy', argv, CONFIG_OPTION);
  const cfg = configFromArgs(values);
  const log = createLogger(cfg.log.level, { component: 'proxy' });
  // Signals during startup are remembered and end the process once it is up. A
  // second one cuts the drain delay short (in-flight requests still finish).
  let proxy: RunningProxy | undefined;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    let first: NodeJS.Signals | undefined;
    const on = (s: NodeJS.Signals) => {
      if (!first) {
        first = s;
        return resolve(s);
      }
      log.warn('second signal: skipping the rest of the drain delay', { signal: s });
      proxy?.hurry();
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
  // Before any worker thread starts: those inherit this thread's priority, the helpers do not.
  const helpers = await lowerHelperThreads(cfg.server.helper_thread_nice);
  log.debug('helper threads', { ...helpers });
  proxy = await startProxy(cfg, { log });
  const received = await signal;
  const deadline = Date.now() + cfg.server.drain_timeout_ms;
  log.info('draining', { signal: received, drain_delay_ms: cfg.server.drain_delay_ms, drain_timeout_ms: cfg.server.drain_timeout_ms });
  // Whatever happens, the process is gone within a second past the deadline.
  setTimeout(() => {
    log.error('shutdown overran server.drain_timeout_ms + 1 s: exiting');
    process.exit(1);
  }, cfg.server.drain_timeout_ms + 1000).unref();
  const drained = await proxy.stop({ delayMs: cfg.server.drain_delay_ms, deadline });
  log.info('stopped', { drained });
  // uWS keeps idle keep-alive sockets open; everything worth finishing is finished.
  process.exit(0);
}
