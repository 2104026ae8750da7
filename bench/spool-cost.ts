/**
 * What spooling every usage event before its response completes costs, natively
 * (user + kernel CPU, which callgrind's instruction counts leave out: the spool's
 * write(2) is kernel time). Two sidecars, build A (BENCH_CLI_A, e.g. main) and
 * build B (this tree), both metering the JWT route, are loaded in alternating
 * rounds at each connection count (autocannon on core 0, the sidecars on core 1):
 * CPU µs per request from /proc, and for B the spool's write(2) calls per request
 * (`argus_usage_spool_writes_total`). Responses ending in the same event-loop turn
 * share one write, so writes per request fall as concurrency grows.
 *
 * Usage: BENCH_CLI_A=/path/to/main/dist/src/cli.js node dist/bench/spool-cost.js
 * (Redis on 127.0.0.1:6379; BENCH_DURATION s per round, default 4; BENCH_ROUNDS,
 * default 3; BENCH_CONNECTIONS, default "1,16,64"). Writes bench/results/<date>-<sha>/spool-cost.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { cpuTimes, DIST, machine, runLoad, startServer, type LoadResult } from './harness.js';
import { makeCredentials, removeCredentials, sidecarConfig } from './scenarios.js';
import { commitKey, folderName, RESULTS } from './results-dir.js';

const duration = Number(process.env['BENCH_DURATION'] ?? 4);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const conns = (process.env['BENCH_CONNECTIONS'] ?? '1,16,64').split(',').map(Number);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const CLI_A = process.env['BENCH_CLI_A'];
if (!CLI_A) {
  process.stderr.write('spool-cost: set BENCH_CLI_A to the cli.js of the build to compare with\n');
  process.exit(2);
}
const UP = 3941;
const A = 3943;
const B = 3945;

const dir = mkdtempSync(join(tmpdir(), 'argus-spool-cost-'));
const creds = await makeCredentials(dir, redisUrl, 1);
const up = await startServer('upstream', `${DIST}bench/upstream.js`, [String(UP)], UP, 0);
const cfg = (port: number, name: string) => {
  const file = join(dir, `${name}.yaml`);
  // Each sidecar its own spool directory; metering and limits as by default.
  writeFileSync(file, sidecarConfig(port, port + 1, UP, redisUrl, creds, {}).replace('/tmp/argus-bench-spool', join(dir, `spool-${name}`)));
  return file;
};
const a = await startServer('A', CLI_A, ['proxy', '--config', cfg(A, 'a')], A, 1);
const b = await startServer('B', `${DIST}src/cli.js`, ['proxy', '--config', cfg(B, 'b')], B, 1);
const headers = { authorization: `Bearer ${creds.jwt}` };

async function spoolWrites(): Promise<number> {
  // A fresh connection each time: the admin port closes idle keep-alive connections.
  const text = await new Promise<string>((resolve, reject) => {
    get({ host: '127.0.0.1', port: B + 1, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  return Number(/^argus_usage_spool_writes_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

const rows: string[] = [];
const results: LoadResult[] = [];
/** User-space CPU only (µs per request), per build and connection count: callgrind counts user-space instructions, so instructions ÷ these µs is this machine's rate. */
const userUs = new Map<string, number[]>();
const CLK_TCK = 100;
try {
  for (const [port, s] of [
    [A, a],
    [B, b],
  ] as const)
    await runLoad({ scenario: 'warmup', target: s.name, mode: 'closed', url: `http://127.0.0.1:${port}/jwt/x`, connections: 16, durationS: 2, headers }, s);
  for (const c of conns) {
    const cpu: Record<string, number[]> = { A: [], B: [] };
    let writes = 0;
    let requestsB = 0;
    for (let i = 0; i < rounds; i++) {
      for (const [port, s] of [
        [A, a],
        [B, b],
      ] as const) {
        const w0 = s === b ? await spoolWrites() : 0;
        const u0 = cpuTimes(s.pid).user;
        const r = await runLoad(
          {
            scenario: `jwt metered, ${c} conn`,
            target: s.name,
            mode: 'closed',
            url: `http://127.0.0.1:${port}/jwt/x`,
            connections: c,
            durationS: duration,
            headers,
          },
          s,
        );
        const u = r.requests > 0 ? ((cpuTimes(s.pid).user - u0) * 1e6) / CLK_TCK / r.requests : 0;
        const key = `${s.name} ${c}`;
        userUs.set(key, [...(userUs.get(key) ?? []), Math.round(u * 10) / 10]);
        results.push(r);
        cpu[s.name]!.push(r.cpu_us_per_req);
        if (s === b) {
          writes += (await spoolWrites()) - w0;
          requestsB += r.requests;
        }
        process.stderr.write(`${s.name} ${c} conn: ${r.rps} rps, ${r.cpu_us_per_req} µs/req\n`);
      }
    }
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    rows.push(
      `| ${c} | ${mean(cpu.A!).toFixed(1)} | ${mean(cpu.B!).toFixed(1)} | ${(mean(cpu.B!) - mean(cpu.A!)).toFixed(1)} | ${(writes / requestsB).toFixed(3)} |`,
    );
  }
} finally {
  await a.stop();
  await b.stop();
  await up.stop();
  const admin = new Redis(redisUrl);
  await removeCredentials(admin, creds);
  admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

const sha = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: fileURLToPath(new URL('../../', import.meta.url)), encoding: 'utf8' }).stdout.trim();
const md = `# spool-cost

${new Date().toISOString()} — \`BENCH_CLI_A=${CLI_A} node dist/bench/spool-cost.js\` (BENCH_DURATION=${duration} BENCH_ROUNDS=${rounds}), B = commit ${sha}

Machine: ${JSON.stringify(machine())}

CPU (user + system, from /proc) per request of the sidecar on the metered JWT route (cache hit,
local limits, metering on), means of ${rounds} alternating rounds; A = the build compared with, B = this
tree. Spool writes per request: B's write(2) calls to the spool ÷ its requests.

| connections | A µs/req | B µs/req | B − A µs/req | B spool writes/req |
|---:|---:|---:|---:|---:|
${rows.join('\n')}

${results.map((r) => `- ${r.target} ${r.scenario}: ${r.rps} rps, ${r.cpu_us_per_req} µs/req, p99 ${r.p99_ms} ms`).join('\n')}

User-space CPU only, µs per request (rounds in order): ${[...userUs].map(([k, v]) => `${k} conn: ${v.join(' / ')}`).join('; ')}
`;
const outDir = join(RESULTS, folderName({ sha: commitKey(), date: new Date().toISOString() }));
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'spool-cost.md'), md);
process.stdout.write(md);
