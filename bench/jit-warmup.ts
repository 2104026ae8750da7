/**
 * How long V8 keeps compiling after a sidecar starts taking load, and what that
 * costs the window it lands in: a fresh passthrough sidecar and a fresh hot-path
 * sidecar (JWT cache hit + local limit + metering to BullMQ), both with the
 * image's Node flags plus `--trace-opt --trace-deopt`, take wrk load in turn for
 * BENCH_SEGMENTS segments of BENCH_DURATION s each. Per segment and config: rps,
 * CPU µs/request (user), TurboFan compiles finished and deoptimisations.
 *
 * Why: callgrind counts every thread, and `instructions.js` found TurboFan
 * compiling inside the counted window of the metered route (up to ~22,000
 * instructions per request of `v8::internal::compiler` in one dump); bench:peers
 * warms each config up for 2 s. This shows whether the compiles are a start-up
 * phase (they stop) or a steady cost (deopt loops), and how the hot path's CPU per
 * request moves as they stop.
 *
 * Usage: node dist/bench/jit-warmup.js (BENCH_SEGMENTS 10, BENCH_DURATION 6 s).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { machine, pinLocalRedis } from './harness.js';
import { measure, pinSelf, startDrainer, startNginxUpstream, startSidecar, type Target } from './peers-kit.js';
import { writeResultFiles } from './results-dir.js';
import { makeCredentials, removeCredentials } from './scenarios.js';

const segments = Number(process.env['BENCH_SEGMENTS'] ?? 10);
const duration = Number(process.env['BENCH_DURATION'] ?? 6);
const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';

pinSelf(0);
const dir = mkdtempSync(join(tmpdir(), 'argus-jit-warmup-'));
const logDir = join(dir, 'logs');
mkdirSync(logDir);
// startServer writes each server's output to BENCH_SERVER_LOG_DIR/<pid>.log; startSidecar adds BENCH_NODE_FLAGS.
process.env['BENCH_SERVER_LOG_DIR'] = logDir;
process.env['BENCH_NODE_FLAGS'] = `${process.env['BENCH_NODE_FLAGS'] ?? ''} --trace-opt --trace-deopt`;
const creds = await makeCredentials(dir, redisUrl, 1);
const bearer = { authorization: `Bearer ${creds.jwt}` };
const UP = 3990;

interface Segment {
  readonly segment: number;
  readonly rps: number;
  readonly user_us: number;
  readonly compiled: number;
  readonly deopts: number;
}

/** TurboFan compiles finished and deoptimisations so far in one server's log. */
function jitCounts(pid: number): { compiled: number; deopts: number } {
  const file = readdirSync(logDir).find((f) => f === `${pid}.log`);
  const log = file ? readFileSync(join(logDir, file), 'utf8') : '';
  return { compiled: (log.match(/\[completed optimizing /g) ?? []).length, deopts: (log.match(/\[bailout \(kind: /g) ?? []).length };
}

const redis = new Redis(redisUrl);
const restoreRedis = await pinLocalRedis(redis);
redis.disconnect();
const started: Target[] = [];
const configs: Array<{ name: string; path: string; target: Target; segments: Segment[]; seen: { compiled: number; deopts: number } }> = [];
try {
  const upstream = await startNginxUpstream(dir, UP, join(dir, 'up.sock'));
  started.push(upstream);
  const drainer = await startDrainer(redisUrl, creds, 0);
  started.push({ name: 'drainer', port: 0, pids: () => [], stop: () => drainer.stop() });
  for (const [name, path, variant, port] of [
    ['passthrough', '/pass/x', { metering: false, ratelimit: false }, UP + 2],
    ['hot path', '/jwt/x', {}, UP + 4],
  ] as const) {
    const target = await startSidecar(dir, `sidecar ${name}`, port, UP, redisUrl, creds, variant);
    started.push(target);
    configs.push({ name, path, target, segments: [], seen: { compiled: 0, deopts: 0 } });
  }
  for (let s = 0; s < segments; s++) {
    for (const c of configs) {
      const m = measure(c.target, upstream, c.path, bearer, duration);
      if (m.non2xx > 0) throw new Error(`${c.name}: ${m.non2xx} non-2xx answers`);
      const now = jitCounts(c.target.pids()[0]!);
      c.segments.push({ segment: s + 1, rps: m.rps, user_us: m.user_us, compiled: now.compiled - c.seen.compiled, deopts: now.deopts - c.seen.deopts });
      c.seen = now;
      process.stderr.write(`segment ${s + 1} ${c.name.padEnd(12)} ${m.rps} rps ${m.user_us} µs user, +${c.segments.at(-1)!.compiled} compiled\n`);
    }
  }
} finally {
  for (const t of started.reverse()) await t.stop();
  restoreRedis();
  const r = new Redis(redisUrl);
  await removeCredentials(r, creds);
  r.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

const [pass, hot] = configs as [(typeof configs)[0], (typeof configs)[0]];
const lines = pass.segments.map((p, i) => {
  const h = hot.segments[i]!;
  return `| ${p.segment} | ${p.rps} | ${p.user_us} | ${p.compiled} | ${p.deopts} | ${h.rps} | ${h.user_us} | ${h.compiled} | ${h.deopts} | ${(h.rps / p.rps).toFixed(2)} |`;
});
const command = `node dist/bench/jit-warmup.js (BENCH_SEGMENTS=${segments} BENCH_DURATION=${duration})`;
const md = `# jit-warmup

Fresh sidecars, the image's Node flags plus \`--trace-opt --trace-deopt\`; wrk -t1 -c64 on core 0, sidecars and the nginx upstream on core 1; ${segments} segments of ${duration} s, the two configs alternating. "compiled": TurboFan compiles finished in that segment; "deopts": deoptimisations.

| segment | passthrough rps | µs user/req | compiled | deopts | hot path rps | µs user/req | compiled | deopts | hot / passthrough |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${lines.join('\n')}
`;
process.stdout.write(`${command}\n\n${md}`);
writeResultFiles('jit-warmup', command, machine(), { segments: Object.fromEntries(configs.map((c) => [c.name, c.segments])) }, md);
