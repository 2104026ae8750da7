/**
 * Entry of one proxy worker thread (see ./main.ts): build a proxy core on the
 * shared port with the shared rate-limit buckets, then answer the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../observe/log.js';
import { Metrics } from '../observe/metrics.js';
import { attachBucketStore } from '../ratelimit/index.js';
import { startCore } from '../proxy-core.js';
import type { FromThread, ThreadData, ToThread } from './main.js';

const data = workerData as ThreadData;
const port = parentPort!;
const log = createLogger(data.cfg.log.level, { component: 'proxy', thread: data.index });
const metrics = new Metrics({ defaultMetrics: false });
const post = (m: FromThread) => port.postMessage(m);

try {
  const core = await startCore(data.cfg, {
    log,
    metrics,
    store: attachBucketStore(data.buffer),
    port: data.port,
    sharePort: true,
    thread: { index: data.index, count: data.count },
  });
  port.on('message', (m: ToThread) => {
    const reply = (value: unknown) => post({ type: 'reply', id: m.id, value });
    if (m.type === 'metrics') void metrics.registry.getMetricsAsJSON().then(reply, () => reply([]));
    else if (m.type === 'readiness') reply(core.readiness());
    else if (m.type === 'inflight') reply(core.inflight());
    else if (m.type === 'stop') void core.stop(m.plan).then(reply, () => reply(false));
    else if (m.type === 'hurry') reply(core.hurry());
  });
  post({ type: 'listening', port: core.port });
} catch (err) {
  post({ type: 'failed', message: (err as Error).message });
}
