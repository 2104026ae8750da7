/**
 * Drain benchmark: what clients see when a sidecar under keep-alive load gets
 * SIGTERM. For each build: a `proxy` (threads: 1, default drain settings) in
 * front of a local upstream, 8 keep-alive connections in closed loops
 * (test/support/keepalive-load.ts) for 1.5 s, then SIGTERM; the clients keep
 * sending until the process has exited (a worst case: no load balancer ever
 * removes the endpoint) while /readyz is polled every 5 ms. Prints one JSON line
 * per run: answers by status, failures (reset or closed after the request was
 * written), requests never sent (refused / closed before writing), exit code
 * and time, first /readyz 503 and when the admin port stopped answering.
 *
 * Usage: node dist/bench/drain.js [CLI_JS …] (default: this build), e.g.
 *   node dist/bench/drain.js OLD/dist/src/cli.js dist/src/cli.js
 * Results: bench/results/<date>-<sha>/drain.md (written by hand from its JSON lines).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startKeepAliveLoad } from '../test/support/keepalive-load.js';
import { startUpstream } from '../test/support/upstream.js';

const clis = process.argv.slice(2);
if (clis.length === 0) clis.push(fileURLToPath(new URL('../src/cli.js', import.meta.url)));

const status = (url: string) => new Promise<number>((resolve) => get(url, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', () => resolve(0)));

async function run(cli: string): Promise<Record<string, unknown>> {
  const up = await startUpstream();
  const cfg = join(mkdtempSync(join(tmpdir(), 'argus-drain-bench-')), 'argus.yaml');
  writeFileSync(
    cfg,
    `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nthreads: 1\nmetering: { enabled: false }\nupstream: { url: ${up.url} }\nroutes:\n  - path: /*\n    auth: none\n`,
  );
  const child = spawn(process.execPath, [cli, 'proxy', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const listening = await new Promise<{ port: number; admin_port: number }>((resolve) => {
    const t = setInterval(() => {
      const line = out.split('\n').find((l) => l.includes('"proxy listening"'));
      if (line) {
        clearInterval(t);
        resolve(JSON.parse(line) as { port: number; admin_port: number });
      }
    }, 20);
  });
  const load = startKeepAliveLoad(listening.port, { connections: 8, path: '/echo' });
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = performance.now();
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) => child.on('exit', (code) => resolve({ code, ms: performance.now() - t0 })));
  child.kill('SIGTERM');
  let first503: number | undefined;
  let adminGone: number | undefined;
  const polling = (async () => {
    while (adminGone === undefined) {
      const s = await status(`http://127.0.0.1:${listening.admin_port}/readyz`);
      const t = Math.round(performance.now() - t0);
      if (s === 503 && first503 === undefined) first503 = t;
      if (s === 0) adminGone = t;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const exit = await exited;
  load.stopSending();
  const report = await load.done;
  await polling;
  await up.close();
  const statuses: Record<number, number> = {};
  for (const a of report.answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  return {
    cli,
    answered_after_sigterm: report.answers.filter((a) => a.sentAt >= t0).length,
    statuses,
    failures: report.failures.length,
    failure_kinds: [
      ...new Set(
        report.failures.map((f) =>
          f
            .replace(/^request \d+: /, '')
            .replace(/ \(\d+ response bytes\)$/, '')
            .replace(/^status (\d+):.*/, 'status $1'),
        ),
      ),
    ],
    not_sent: report.notSent,
    exit_code: exit.code,
    exit_ms: Math.round(exit.ms),
    first_readyz_503_ms: first503 ?? null,
    admin_gone_ms: adminGone,
  };
}

for (const cli of clis) process.stdout.write(JSON.stringify(await run(cli)) + '\n');
