/**
 * Control plane throughput and change propagation (issue 24), against a spawned
 * `argus-sidecar control` and a spawned `proxy` on real Postgres and Redis:
 * 1. `POST /v1/auth/validate` (an API key whose decision the control process has
 *    cached) and `POST /v1/entitlements/check` (a user row cached, evicted on
 *    change): requests/s and p50/p99 with autocannon (16 connections, BENCH_DURATION s);
 * 2. a tier change's path over BENCH_CHANGES changes (default 100), alternating
 *    professional/business: PATCH sent → the change message seen by a subscriber of
 *    `<prefix>auth:changes` (the control plane's share: commit, projection,
 *    PUBLISH), and PATCH sent → the sidecar's next request through the user's key
 *    answering with the new `RateLimit-Policy` (needs the sidecar's change
 *    subscription and key inheritance; with a build that lacks them a change
 *    times out after BENCH_CHANGE_TIMEOUT_MS, and after 3 such the sidecar is no
 *    longer watched).
 *
 * `node dist/bench/control.js` writes bench/results/<date>-<sha>/control.json and .md.
 */
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { controlRaw, startControlEnv, writeRaw, type ControlEnv } from '../test/support/control.js';
import { startIdentityUpstream } from '../test/support/identity-upstream.js';
import { startCli } from '../test/support/spawn.js';
import { SHARED_REDIS } from '../test/support/meter-env.js';
import { writeResultFiles } from './results-dir.js';

const DURATION = Number(process.env['BENCH_DURATION'] ?? 5);
const CHANGES = Number(process.env['BENCH_CHANGES'] ?? 100);
const CHANGE_TIMEOUT_MS = Number(process.env['BENCH_CHANGE_TIMEOUT_MS'] ?? 3000);

interface Load {
  name: string;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  non2xx: number;
}

async function load(name: string, url: string, headers: Record<string, string>, body?: unknown): Promise<Load> {
  const run = (duration: number) =>
    autocannon({
      url,
      connections: 16,
      duration,
      ...(body === undefined
        ? { method: 'GET' as const, headers }
        : { method: 'POST' as const, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
  await run(1); // warm: the decision and the row are cached
  const r = await run(DURATION);
  return { name, rps: Math.round(r.requests.average), p50_ms: r.latency.p50, p99_ms: r.latency.p99, non2xx: r.non2xx };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function changes(env: ControlEnv, sidecar: string, key: string) {
  const sub = new Redis(SHARED_REDIS);
  const seen = new Map<number, number>();
  sub.on('message', (_c: string, text: string) => {
    const m = JSON.parse(text) as { kind: string; id: string; version: number };
    if (m.kind === 'user' && m.id === 'bench1') seen.set(m.version, performance.now());
  });
  await sub.subscribe(`${env.prefix}auth:changes`);
  const published: number[] = [];
  const reached: number[] = [];
  let timeouts = 0;
  for (let i = 0; i < CHANGES; i++) {
    const tier = i % 2 === 0 ? 'professional' : 'business';
    const t0 = performance.now();
    const r = await env.api('PATCH', '/v1/users/bench1', { body: { tier } });
    const version = r.body.version as number;
    let ok = false;
    // A sidecar that never follows (3 timeouts, none reached) is not waited on again: the control plane's share is still measured.
    const watchSidecar = !(timeouts >= 3 && reached.length === 0);
    while (!watchSidecar && !seen.has(version) && performance.now() - t0 < CHANGE_TIMEOUT_MS) await new Promise((r) => setTimeout(r, 1));
    while (watchSidecar && performance.now() - t0 < CHANGE_TIMEOUT_MS) {
      const res = await fetch(`${sidecar}/v1/x`, { headers: { 'x-api-key': key } });
      await res.arrayBuffer();
      if ((res.headers.get('ratelimit-policy') ?? '').startsWith(`"${tier}"`)) {
        ok = true;
        break;
      }
    }
    const at = seen.get(version);
    if (at !== undefined) published.push(at - t0);
    if (ok) reached.push(performance.now() - t0);
    else if (watchSidecar) timeouts++;
  }
  sub.disconnect();
  return { published, reached, timeouts };
}

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const up = await startIdentityUpstream();
  const env = await startControlEnv({ upstream: up.url });
  const proxyCfg = writeRaw({ ...controlRaw({ pgUrl: env.db.url, prefix: env.prefix, upstream: up.url }), ratelimit: { enabled: true } });
  const proxy = startCli(['proxy', '--config', proxyCfg]);
  const sidecar = `http://127.0.0.1:${(await proxy.waitForLog('proxy listening'))['port']}`;
  try {
    await env.api('POST', '/v1/users', { body: { user_id: 'bench1', tier: 'explorer', features: ['predictions'], llm: { models: ['gpt-4o-mini'] } } });
    const key = (await env.api('POST', '/v1/users/bench1/keys', { body: {} })).body.key as string;
    const admin = { 'x-api-key': env.adminKey };
    const loads = [
      // The same HTTP stack without authentication or a service: the floor on this machine.
      await load('GET /healthz (public listener)', `${env.publicUrl}/healthz`, {}),
      await load('POST /v1/auth/validate', `${env.url}/v1/auth/validate`, admin, { api_key: key }),
      await load('POST /v1/entitlements/check', `${env.url}/v1/entitlements/check`, admin, {
        user_id: 'bench1',
        features: ['predictions', 'backtests'],
        models: ['gpt-4o-mini'],
      }),
    ];
    const c = await changes(env, sidecar, key);
    const ms = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(1));
    const md = [
      '# Control plane: API throughput and change propagation',
      '',
      `autocannon, 16 connections, ${DURATION} s after a 1 s warm-up; control and proxy are separate processes on this machine`,
      `(load average at the start: ${load0.toFixed(1)} on ${cpus().length} CPUs, shared with other work).`,
      '',
      '| operation | req/s | p50 ms | p99 ms | non-2xx |',
      '|---|---|---|---|---|',
      ...loads.map((l) => `| ${l.name} | ${l.rps} | ${l.p50_ms} | ${l.p99_ms} | ${l.non2xx} |`),
      '',
      `Tier changes (PATCH /v1/users/bench1, alternating professional/business), up to ${CHANGES}:`,
      '',
      '| path | n | p50 ms | p99 ms | max ms |',
      '|---|---|---|---|---|',
      `| PATCH sent → change message on \`auth:changes\` | ${c.published.length} | ${ms(pct(c.published, 50))} | ${ms(pct(c.published, 99))} | ${ms(Math.max(...c.published))} |`,
      `| PATCH sent → sidecar answers with the new RateLimit-Policy | ${c.reached.length} | ${ms(pct(c.reached, 50))} | ${ms(pct(c.reached, 99))} | ${c.reached.length ? ms(Math.max(...c.reached)) : 'n/a'} |`,
      '',
      c.reached.length === 0
        ? `The sidecar never showed the new tier within ${CHANGE_TIMEOUT_MS} ms (${c.timeouts} tries): this build's sidecar does not evict on change messages or inherit the owner's tier for keys.`
        : `Timeouts (> ${CHANGE_TIMEOUT_MS} ms): ${c.timeouts}.`,
      '',
    ].join('\n');
    writeResultFiles('control', 'node dist/bench/control.js', { duration_s: DURATION }, { loads, changes: c }, md);
    process.stdout.write(md);
  } finally {
    proxy.child.kill('SIGTERM');
    await proxy.exited;
    await env.stop();
    await up.close();
  }
}

await main();
