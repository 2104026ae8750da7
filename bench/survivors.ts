/**
 * Which allocation sites' objects outlive a young-generation GC in a loaded sidecar.
 *
 * An object that survives two scavenges is promoted to the old generation, and the
 * old generation's growth is what schedules mark-compacts (each one a 5-25 ms stall
 * at the p99.9 of bench:peers' fixed-rate rows). This runs the hot-path sidecar at a
 * fixed rate (bench/openloop.c) with V8's sampling heap profiler on, asked to keep
 * samples of objects collected by a major GC and drop those a minor GC collected:
 * what remains is every allocation that outlived the young generation (promoted, dead
 * or alive), by the function that allocated it.
 *
 * Usage: node dist/bench/survivors.js  (Redis, nginx; BENCH_RATE (4500), BENCH_DURATION s (10),
 * BENCH_PATH (/jwt/x), BENCH_TOP (25), BENCH_DEPTH (3) frames per site). Prints the table; writes bench/results/<date>-<sha>/survivors.{json,md}.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DIST, pinLocalRedis, startServer } from './harness.js';
import { buildOpenLoop, runOpenLoop } from './openloop-native.js';
import { ensurePackages, loadAverage, pinSelf, startDrainer, startNginxUpstream, wrk } from './peers-kit.js';
import { writeResultFiles } from './results-dir.js';
import { makeCredentials, removeCredentials, sidecarConfig } from './scenarios.js';

const rate = Number(process.env['BENCH_RATE'] ?? 4500);
const duration = Number(process.env['BENCH_DURATION'] ?? 10);
const path = process.env['BENCH_PATH'] ?? '/jwt/x';
const top = Number(process.env['BENCH_TOP'] ?? 25);
const depth = Number(process.env['BENCH_DEPTH'] ?? 3);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';

/** The preload run in the sidecar: SIGUSR2 starts sampling, the next SIGUSR2 writes the profile. */
const SAMPLER = `
import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';
const s = new inspector.Session();
s.connect();
const post = (m, p) => new Promise((res, rej) => s.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))));
let on = false;
process.on('SIGUSR2', async () => {
  if (!on) {
    on = true;
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
  } else {
    const r = await post('HeapProfiler.stopSampling');
    writeFileSync(process.env.SURVIVORS_OUT, JSON.stringify(r.profile));
  }
});
`;

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

interface Site {
  site: string;
  bytes: number;
  /** The caller chain, innermost first (BENCH_DEPTH − 1 frames). */
  stack: string;
}

const frame = (n: Node): string => {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(dist|node_modules)\//, '$1/');
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
};

function sites(root: Node): Site[] {
  const out = new Map<string, Site>();
  const walk = (n: Node, chain: string[]) => {
    const here = [frame(n), ...chain];
    if (n.selfSize > 0) {
      const key = here.slice(0, depth).join(' < ');
      const s = out.get(key) ?? { site: here[0]!, bytes: 0, stack: here.slice(1, depth).join(' < ') };
      s.bytes += n.selfSize;
      out.set(key, s);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(root, []);
  return [...out.values()].sort((a, b) => b.bytes - a.bytes);
}

ensurePackages();
pinSelf(0);
const load = loadAverage();
const gen = buildOpenLoop();
if (gen instanceof Error) throw gen;
const dir = mkdtempSync(join(tmpdir(), 'argus-survivors-'));
const creds = await makeCredentials(dir, redisUrl, 1);
const pinned = new Redis(redisUrl);
// Redis on core 0 with the load, as in bench:peers: on core 1 it would take time slices from the sidecar.
const restoreRedis = await pinLocalRedis(pinned);
pinned.disconnect();
const bearer = { authorization: `Bearer ${creds.jwt}` };
const UP = 3990;
const PORT = 3992;
const upstream = await startNginxUpstream(dir, UP, join(dir, 'up.sock'));
const drainer = await startDrainer(redisUrl, creds, 0);
const sampler = join(dir, 'sampler.mjs');
writeFileSync(sampler, SAMPLER);
const out = join(dir, 'profile.json');
const file = join(dir, 'side.yaml');
writeFileSync(file, sidecarConfig(PORT, PORT + 1, UP, redisUrl, creds, { spoolDir: join(dir, 'spool') }));
// A mark-compact in the window would also collect the young generation's garbage and
// count it; a large initial old generation keeps mark-compacts out of a 10 s window.
const flags = ['--import', sampler, '--initial-old-space-size=1024', '--trace-gc'];
const logDir = mkdtempSync(join(dir, 'log-'));
process.env['BENCH_SERVER_LOG_DIR'] = logDir;
const s = await startServer('sidecar', `${DIST}src/cli.js`, ['proxy', '--config', file], PORT, 1, { SURVIVORS_OUT: out }, flags);
let rows: Site[] = [];
let total = 0;
let requests = 0;
let scavenges = 0;
let majors = 0;
try {
  wrk(PORT, path, bearer, 3, 16); // warm-up: JIT, caches, pools
  process.kill(s.pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 300));
  const mark = readFileSync(join(logDir, `${s.pid}.log`), 'utf8').length;
  const r = runOpenLoop(gen, { url: `http://127.0.0.1:${PORT}${path}`, headers: bearer, rate, connections: 64, durationS: duration, warmupS: 0 });
  requests = r.requests.total;
  process.kill(s.pid, 'SIGUSR2');
  const gcs = readFileSync(join(logDir, `${s.pid}.log`), 'utf8')
    .slice(mark)
    .split('\n');
  scavenges = gcs.filter((l) => l.includes('Scavenge')).length;
  majors = gcs.filter((l) => l.includes('Mark-Compact')).length;
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      const root = (JSON.parse(readFileSync(out, 'utf8')) as { head: Node }).head;
      rows = sites(root);
      break;
    } catch {
      // not written yet
    }
  }
  total = rows.reduce((a, b) => a + b.bytes, 0);
} finally {
  await s.stop();
  await drainer.stop();
  await upstream.stop();
  restoreRedis();
  const redis = new Redis(redisUrl);
  await removeCredentials(redis, creds);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
const perReq = (b: number) => (requests > 0 ? b / requests : 0);
const lines = [
  `# What outlives the young generation: ${path} at ${rate}/s for ${duration} s (${requests} requests)`,
  '',
  `Sampled bytes that survived a scavenge (promoted or still young at the end): ${(total / 1e6).toFixed(2)} MB, ${perReq(total).toFixed(1)} B per request. GCs in the window: ${scavenges} scavenges, ${majors} mark-compacts${majors > 0 ? ' (each also counted the young garbage it collected)' : ''}.`,
  '',
  '| bytes | B/req | allocated in | called from |',
  '|---:|---:|---|---|',
  ...rows.slice(0, top).map((r) => `| ${r.bytes} | ${perReq(r.bytes).toFixed(1)} | ${r.site} | ${r.stack} |`),
];
writeResultFiles(
  'survivors',
  `node dist/bench/survivors.js (BENCH_RATE=${rate} BENCH_DURATION=${duration} BENCH_PATH=${path})`,
  { loadavg: load },
  { rate, duration, path, requests, total, scavenges, mark_compacts: majors, sites: rows.slice(0, 200) },
  `${lines.join('\n')}\n`,
);
process.stdout.write(`${lines.join('\n')}\n`);
