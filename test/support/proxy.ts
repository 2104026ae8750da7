/** Start a real proxy (uWS + the h1 upstream client) in this process on port 0, from a config object. */
import { parseConfig, type Config } from '../../src/config.js';
import { startProxy, type RunningProxy } from '../../src/lifecycle.js';
import { createLogger } from '../../src/observe/log.js';

export interface TestProxy extends RunningProxy {
  readonly url: string;
  readonly adminUrl: string;
  readonly cfg: Readonly<Config>;
  readonly logs: string[];
  /** Access log lines (observability.access_log). */
  readonly access: string[];
}

/**
 * Metering is off unless the test configures `metering` itself (then give it its own
 * queue name and spool dir): proxies in one test process must not share a spool.
 */
export async function startTestProxy(raw: Record<string, unknown>): Promise<TestProxy> {
  const cfg = parseConfig({ listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, metering: { enabled: false }, threads: 1, ...raw });
  const logs: string[] = [];
  const access: string[] = [];
  const proxy = await startProxy(cfg, { log: createLogger('debug', {}, (l) => logs.push(l)), defaultMetrics: false, accessLog: (l) => access.push(l) });
  return { ...proxy, url: `http://127.0.0.1:${proxy.port}`, adminUrl: `http://127.0.0.1:${proxy.adminPort}`, cfg, logs, access };
}
