/**
 * A/B in one run: two builds of the sidecar (e.g. main and a change, each built in
 * its own checkout), same config, alternating 3 × BENCH_DURATION s closed-loop
 * loads on one route, so machine noise hits both alike. Prints per-run and mean rps
 * and CPU µs per request. This is how hot-path changes were judged on the noisy VM.
 *
 * Usage: node dist/bench/ab.js A_CLI_JS B_CLI_JS [/jwt/x | /pass/x | /key/x]
 *   e.g. node dist/bench/ab.js /tmp/old/dist/src/cli.js dist/src/cli.js /jwt/x
 * Needs Redis (the JWT/API-key routes use the bench credentials).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { DIST, runLoad, startServer, type LoadResult } from './harness.js';
import { makeCredentials, sidecarConfig, removeCredentials } from './scenarios.js';

const [cliA, cliB, path = '/pass/x'] = process.argv.slice(2);
if (!cliA || !cliB) {
  process.stderr.write('usage: node dist/bench/ab.js A_CLI_JS B_CLI_JS [route path]\n');
  process.exit(2);
}
const duration = Number(process.env['BENCH_DURATION'] ?? 5);
const redisUrl = 'redis://127.0.0.1:6379';
const dir = mkdtempSync(join(tmpdir(), 'argus-ab-'));
const creds = await makeCredentials(dir, redisUrl, 1);
const headers: Record<string, string> = path.startsWith('/jwt')
  ? { authorization: `Bearer ${creds.jwt}` }
  : path.startsWith('/key')
    ? { 'x-api-key': creds.apiKey }
    : {};
const UP = 3901;
const up = await startServer('upstream', `${DIST}bench/upstream.js`, [String(UP)], UP);
const sides = [];
for (const [name, cli, port] of [
  ['A', cliA, 3950],
  ['B', cliB, 3960],
] as const) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, sidecarConfig(port, port + 1, UP, redisUrl, creds, {}));
  sides.push(await startServer(name, resolve(cli), ['proxy', '--config', file], port));
}
const results: Record<string, LoadResult[]> = { A: [], B: [] };
try {
  for (const s of sides)
    await runLoad({ scenario: 'warmup', target: s.name, mode: 'closed', url: `http://127.0.0.1:${s.port}${path}`, connections: 64, durationS: 2, headers }, s);
  for (let i = 0; i < 3; i++) {
    for (const s of sides) {
      const r = await runLoad(
        { scenario: path, target: s.name, mode: 'closed', url: `http://127.0.0.1:${s.port}${path}`, connections: 64, durationS: duration, headers },
        s,
      );
      results[s.name]!.push(r);
      process.stdout.write(`${s.name} ${r.rps} rps ${r.cpu_us_per_req} µs/req p99 ${r.p99_ms} ms non-2xx ${r.non2xx}\n`);
    }
  }
  const mean = (xs: LoadResult[], k: 'rps' | 'cpu_us_per_req') => (xs.reduce((a, r) => a + r[k], 0) / xs.length).toFixed(1);
  process.stdout.write(
    `A mean ${mean(results['A']!, 'rps')} rps ${mean(results['A']!, 'cpu_us_per_req')} µs/req; B mean ${mean(results['B']!, 'rps')} rps ${mean(results['B']!, 'cpu_us_per_req')} µs/req\n`,
  );
} finally {
  for (const s of [...sides, up]) await s.stop();
  // The bench credentials, key records and usage queue live under the run's prefix.
  const r = new Redis(redisUrl);
  await removeCredentials(r, creds);
  r.disconnect();
}
