/**
 * Outcome: the proxy's and the worker's /metrics, scraped from spawned processes,
 * pass `promtool check metrics` (exit 0). No gauge carries the `_total` suffix
 * Prometheus reserves for counters (prom-client's three `nodejs_active_*_total`
 * gauges are renamed `*_all`, see src/observe/process-metrics.ts); that much is
 * checked on every run, promtool itself wherever it is installed, and CI
 * (CI=true) fails when it is not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { startCli, writeConfig } from './support/spawn.js';
import { meterFixture, rawConfig, writeConfig as writeMeterConfig, SHARED_REDIS } from './support/meter-env.js';

const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
const fx = meterFixture();

/** Start `command`, read its admin port from the startup log, scrape /metrics, stop it. */
async function scrape(args: string[], startedMsg: string): Promise<string> {
  const proc = startCli(args);
  try {
    const rec = await proc.waitForLog(startedMsg, 30000);
    const port = Number(rec['admin_port']);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    return await res.text();
  } finally {
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
}

function check(name: string, text: string): void {
  // What promtool's lint says about `_total`, checked without it.
  const bad = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)]
    .filter(([, metric, type]) => type !== 'counter' && metric!.endsWith('_total'))
    .map(([, metric]) => metric);
  assert.deepEqual(bad, [], `${name}: non-counter metrics with a _total suffix`);
  assert.match(text, /^argus_process_nodejs_active_handles_all \d+/m, `${name}: the renamed gauge is exported`);
  if (!promtool) {
    assert.notEqual(process.env['CI'], 'true', 'promtool is not on PATH: CI must install it (.ci/run)');
    return;
  }
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `${name}: promtool check metrics exited ${r.status}:\n${r.stdout}${r.stderr}`);
}

test('the proxy /metrics passes promtool check metrics', async () => {
  const file = writeConfig(`
listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
threads: 1
upstream: { url: "http://127.0.0.1:9" }
routes:
  - path: /*
    auth: none
metering: { enabled: false }
`);
  check('proxy', await scrape(['proxy', '--config', file], 'proxy listening'));
});

test('the worker /metrics passes promtool check metrics', async () => {
  const raw = {
    ...rawConfig({ redisUrl: SHARED_REDIS, pgUrl: fx.db.url, queue: fx.queue, prefix: fx.prefix, spoolDir: fx.tmp.dir }),
    admin: { host: '127.0.0.1', port: 0 },
  };
  const file = writeMeterConfig(fx.tmp.dir, raw);
  check('worker', await scrape(['worker', '--config', file], 'worker: started'));
});
