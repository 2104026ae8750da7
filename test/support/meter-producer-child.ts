/**
 * A stand-in proxy process for the SIGTERM test: records N usage events that
 * stay buffered (long flush interval), says so on stdout, and on SIGTERM closes
 * the meter (flush to queue or spool) and exits 0 — the proxy's shutdown path.
 * argv: <config.yaml> <count> <request-id prefix>
 */
import { loadConfig } from '../../src/config.js';
import { buildUsageEvents } from '../../src/meter/build.js';
import { createMeter } from '../../src/meter/producer.js';
import { createLogger } from '../../src/observe/log.js';
import { Metrics } from '../../src/observe/metrics.js';

const [file, countArg, idPrefix] = process.argv.slice(2);
const cfg = loadConfig(file as string, {});
const meter = createMeter(cfg, { metrics: new Metrics({ defaultMetrics: false }), log: createLogger('error') });
const count = Number(countArg);
for (let i = 0; i < count; i++) {
  const { events } = buildUsageEvents({
    requestId: `${idPrefix}-${i}`,
    route: { path: '/v1/predictions/*' },
    service: 'sibyl',
    auth: { method: 'session', user_id: 'u-term', tier: 'explorer', features: [], scopes: [] },
    method: 'GET',
    status: 200,
    bytesIn: 0,
    bytesOut: 1,
    latencyMs: 1,
    occurredAt: Date.now(),
  });
  for (const ev of events) meter.record(ev);
}
process.once('SIGTERM', () => {
  meter.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
process.stdout.write(`buffered ${count}\n`);
// Keep the process alive until the signal (the meter's timers are unref'd).
setInterval(() => undefined, 60000);
