/**
 * Benchmark harness: start servers pinned to one core, drive them with autocannon
 * pinned to the other, and measure rps, latency percentiles, CPU per request and
 * RSS of the process under test. Results go to bench/results/<date>-<sha>/<suite>.json
 * and .md (bench/results-dir.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeResultFiles } from './results-dir.js';

export const DIST = fileURLToPath(new URL('..', import.meta.url));

/** Node flags from an environment variable, space-separated (e.g. BENCH_SIDECAR_NODE_FLAGS); undefined when unset. */
export function nodeFlagsFrom(name: string): string[] | undefined {
  const v = process.env[name];
  return v === undefined ? undefined : v.split(' ').filter(Boolean);
}
const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const CLK_TCK = 100;

export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Start `node <script> ...args` pinned to `core`; resolves once `port` accepts connections.
 *
 * The server's stdout and stderr go to a file, not a pipe: the loads run under
 * spawnSync, so this process reads nothing while they run, and a server that
 * fills its pipe (~40 KB of --trace-gc lines on a socketpair) blocks in write()
 * and stops serving. The file is BENCH_SERVER_LOG_DIR/<pid>.log when that is set
 * (kept, e.g. for --trace-gc), else a temporary one, removed when the server stops.
 */
export function startServer(
  name: string,
  script: string,
  args: string[],
  port: number,
  core = 1,
  env: NodeJS.ProcessEnv = {},
  nodeFlags: string[] = [],
): Promise<Server> {
  const cmd = HAS_TASKSET ? 'taskset' : process.execPath;
  const argv = HAS_TASKSET ? ['-c', String(core), process.execPath, ...nodeFlags, script, ...args] : [...nodeFlags, script, ...args];
  const logDir = process.env['BENCH_SERVER_LOG_DIR'];
  const tmp = logDir ? undefined : mkdtempSync(join(tmpdir(), 'argus-bench-server-'));
  let logFile = join(logDir ?? tmp!, 'server.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, argv, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  closeSync(fd);
  if (logDir && child.pid !== undefined) {
    const named = join(logDir, `${child.pid}.log`);
    renameSync(logFile, named);
    logFile = named;
  }
  const output = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const cleanup = (): void => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start:\n${output()}`));
    }, 15000);
    const poll = () => {
      const sock = connect(port, '127.0.0.1');
      sock.once('error', () => setTimeout(poll, 50));
      sock.once('connect', () => {
        sock.destroy();
        clearTimeout(timer);
        resolve({
          name,
          pid: child.pid!,
          port,
          child,
          stop: () =>
            new Promise<void>((r) => {
              if (child.exitCode !== null) return r();
              child.once('exit', () => r());
              child.kill('SIGTERM');
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }).then(cleanup),
        });
      });
    };
    poll();
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${output()}`));
    });
  });
}

function cpuTicks(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

/** User and system CPU of a process so far, in clock ticks. */
export function cpuTimes(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), sys: Number(fields[12]) };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export interface LoadSpec {
  readonly scenario: string;
  readonly target: string;
  readonly mode: 'closed' | 'rate';
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  readonly rate?: number;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** A file of credentials, one per request (cache-miss scenarios). */
  readonly tokensFile?: string;
  readonly tokenHeader?: string;
  /** Count these statuses as expected (e.g. 429 for the rate-limited scenario). */
  readonly expectStatus?: number;
}

export interface LoadResult {
  scenario: string;
  target: string;
  mode: string;
  connections: number;
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  cpu_us_per_req: number;
  rss_mib_max: number;
}

/** Run one autocannon load (pinned to core 0) against `server`, measuring that process. */
export async function runLoad(spec: LoadSpec, server: Server): Promise<LoadResult> {
  const opts = {
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    method: spec.method ?? 'GET',
    headers: spec.headers ?? {},
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    ...(spec.rate ? { overallRate: spec.rate } : {}),
    ...(spec.tokensFile ? { tokensFile: spec.tokensFile, tokenHeader: spec.tokenHeader ?? 'authorization' } : {}),
  };
  const ticks0 = cpuTicks(server.pid);
  let rssMax = rssBytes(server.pid);
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssBytes(server.pid))), 200);
  const cmd = HAS_TASKSET ? 'taskset' : process.execPath;
  const argv = HAS_TASKSET ? ['-c', '0', process.execPath, `${DIST}bench/load.js`, JSON.stringify(opts)] : [`${DIST}bench/load.js`, JSON.stringify(opts)];
  const out = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  clearInterval(sampler);
  const ticks = cpuTicks(server.pid) - ticks0;
  if (out.status !== 0) throw new Error(`load failed: ${out.stderr}`);
  if (out.stderr.trim()) process.stderr.write(out.stderr);
  const r = JSON.parse(out.stdout) as {
    requests: { average: number; total: number };
    latency: Record<string, number>;
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  const requests = r.requests.total;
  return {
    scenario: spec.scenario,
    target: spec.target,
    mode: spec.mode === 'rate' ? `rate ${spec.rate}/s` : 'closed',
    connections: spec.connections,
    rps: Math.round(r.requests.average),
    requests,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    p50_ms: r.latency['p50'] ?? 0,
    p99_ms: r.latency['p99'] ?? 0,
    p999_ms: r.latency['p99_9'] ?? 0,
    max_ms: r.latency['max'] ?? 0,
    cpu_us_per_req: requests > 0 ? Math.round(((ticks * 1e6) / CLK_TCK / requests) * 10) / 10 : 0,
    rss_mib_max: Math.round((rssMax / 1048576) * 10) / 10,
  };
}

let redisPinned = false;

export function machine(): Record<string, unknown> {
  const pinned = HAS_TASKSET
    ? `load on core 0, servers on core 1${redisPinned ? `, local Redis on core ${process.env['BENCH_REDIS_CORE'] ?? '0'}` : ''}`
    : 'not pinned (no taskset)';
  return { cpus: cpus().length, cpu_model: cpus()[0]?.model, mem_gib: Math.round(totalmem() / 2 ** 30), node: process.version, pinned };
}

/**
 * Move a Redis server running on this machine to core 0 (with the load and the
 * upstream), off the sidecar's core, as it would be on its own host; returns a
 * function that restores its affinity. A no-op without taskset or for a remote Redis.
 * It is not quite its own host: its work (a BullMQ add runs a ~0.4 ms Lua script)
 * delays the upstream and the load on that core (see bench/results/2026-12-04-faa1312/p99-tail.md).
 */
export async function pinLocalRedis(redis: { info(section: string): Promise<string> }): Promise<() => void> {
  const pid = /process_id:(\d+)/.exec(await redis.info('server'))?.[1];
  if (!HAS_TASKSET || !pid || spawnSync('kill', ['-0', pid]).status !== 0) return () => undefined;
  const before = /list: (\S+)/.exec(spawnSync('taskset', ['-c', '-p', pid], { encoding: 'utf8' }).stdout)?.[1];
  // BENCH_REDIS_CORE: another core for it (default 0, with the load and the upstream).
  const core = process.env['BENCH_REDIS_CORE'] ?? '0';
  if (!before || spawnSync('taskset', ['-a', '-c', '-p', core, pid]).status !== 0) return () => undefined;
  redisPinned = true;
  return () => {
    spawnSync('taskset', ['-a', '-c', '-p', before, pid]);
    redisPinned = false;
  };
}

/** Write JSON + Markdown table under bench/results/<date>-<sha>/ (bench/results-dir.ts) and print the table. */
export function writeResults(suite: string, command: string, results: LoadResult[], notes: string[] = []): void {
  const header =
    '| scenario | target | mode | rps | p50 ms | p99 ms | p99.9 ms | max ms | CPU µs/req | RSS MiB | non-2xx | errors |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  const rows = results
    .map(
      (r) =>
        `| ${r.scenario} | ${r.target} | ${r.mode} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.p999_ms} | ${r.max_ms} | ${r.cpu_us_per_req} | ${r.rss_mib_max} | ${r.non2xx} | ${r.errors} |`,
    )
    .join('\n');
  const md = `# ${suite}\n\n${header}${rows}\n${notes.length ? '\n' + notes.map((n) => `- ${n}`).join('\n') + '\n' : ''}`;
  writeResultFiles(suite, command, machine(), { results, notes }, md);
  process.stdout.write(md + '\n');
}
