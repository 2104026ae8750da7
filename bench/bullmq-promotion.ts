/**
 * Does handing a usage batch to BullMQ promote it to V8's old generation?
 *
 * The hot path promotes ~60 bytes per request to the old generation against ~4 for
 * passthrough (`--trace-gc-nvp`, bench/gc-latency.ts), and old-generation growth is
 * what schedules mark-compacts. This isolates the meter's queue: a child process
 * hands a 225-row batch (~10 KB of format 2 JSON, what 50 ms of 4,500 requests/s
 * make) to the sidecar's own usage queue (src/meter/queue.ts) every 50 ms for 8 s,
 * while a timer makes short-lived garbage to drive scavenges, and sums the bytes
 * every scavenge promoted. Modes, each in a fresh process, alternating:
 * - `none`: the batch string is built and dropped (the baseline: start-up and the garbage maker);
 * - `set`: the same string sent with a plain Redis SET (ioredis alone);
 * - `queue`: the same string added as a job through the usage queue (BullMQ);
 * - `queue-bytes`: the same text as UTF-8 bytes in a Buffer (what the producer hands
 *   over since BatchEncoder.jsonBytes), added through the usage queue.
 *
 * Usage: node dist/bench/bullmq-promotion.js  (Redis on 127.0.0.1:6379; BENCH_ROUNDS (3)).
 * Writes bench/results/<date>-<sha>/bullmq-promotion.{json,md}.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { writeResultFiles } from './results-dir.js';

const redisUrl = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const SECONDS = 8;
const EVERY_MS = 50;
type Mode = 'none' | 'set' | 'queue' | 'queue-bytes';

if (process.argv[2] === 'child') {
  await child(process.argv[3] as Mode, process.argv[4]!);
} else {
  await parent();
}

/** One mode in this process; prints nothing (the parent reads --trace-gc-nvp from stdout). */
async function child(mode: Mode, queueName: string): Promise<void> {
  const { createUsageQueue } = await import('../src/meter/queue.js');
  const { parseConfig } = await import('../src/config.js');
  const cfg = parseConfig(
    {
      upstream: { url: 'http://127.0.0.1:1' },
      routes: [{ path: '/*', auth: 'none' }],
      redis: { url: redisUrl, key_prefix: 'argus-bench-promotion:' },
      metering: { queue: queueName, spool_dir: '/tmp/argus-bench-promotion' },
    },
    {},
  );
  const queue = createUsageQueue(cfg, redisUrl);
  const plain = new Redis(redisUrl);
  await new Promise((r) => setTimeout(r, 300));
  const row = '[0,"k7f3a9c1e2b40-1z",0,12,1,200,0,2,154]';
  let seq = 0;
  const send = async () => {
    const rows: string[] = [];
    for (let i = 0; i < 225; i++) rows.push(row);
    const json = `{"s":["u1","sibyl","/jwt/*","GET"],"c":[0,-1,-1,1,2,3],"t":${Date.now()},"r":[${rows.join(',')}]}`;
    if (mode === 'queue') await queue.add([{ id: `b${seq++}-${Date.now()}`, json }]);
    else if (mode === 'queue-bytes') await queue.add([{ id: `b${seq++}-${Date.now()}`, json: Buffer.from(json) }]);
    else if (mode === 'set') await plain.set('argus-bench-promotion:last', json);
  };
  const garbage = setInterval(() => {
    for (let i = 0; i < 3000; i++) (globalThis as { last?: unknown }).last = { a: i, b: `x${i}` };
  }, 5);
  const sender = setInterval(() => void send(), EVERY_MS);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(sender);
  clearInterval(garbage);
  await queue.close();
  plain.disconnect();
}

async function parent(): Promise<void> {
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
  const queueName = `promotion-${randomBytes(4).toString('hex')}`;
  const self = fileURLToPath(import.meta.url);
  const modes: Mode[] = ['none', 'set', 'queue', 'queue-bytes'];
  const runs = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  try {
    for (let r = 0; r < rounds; r++)
      for (const mode of modes) {
        const out = spawnSync(process.execPath, ['--trace-gc-nvp', self, 'child', mode, queueName], { encoding: 'utf8' });
        if (out.status !== 0) throw new Error(`${mode}: exit ${out.status}: ${out.stderr}`);
        const promoted = out.stdout
          .split('\n')
          .filter((l) => / gc=s /.test(l))
          .reduce((a, l) => a + Number(/ promoted=(\d+)/.exec(l)?.[1] ?? 0), 0);
        runs.get(mode)!.push(Math.round(promoted / 1024));
        process.stderr.write(`round ${r + 1} ${mode}: ${Math.round(promoted / 1024)} KB promoted\n`);
      }
  } finally {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    const q = new Queue(queueName, { connection, prefix: 'argus-bench-promotion:bull' });
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    await connection.del('argus-bench-promotion:last');
    connection.disconnect();
  }
  const sends = (SECONDS * 1000) / EVERY_MS;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(runs.get('none')!);
  const md = [
    '# bullmq-promotion: does a usage batch handed to BullMQ reach the old generation?',
    '',
    `A ~10 KB batch every ${EVERY_MS} ms for ${SECONDS} s (${sends} batches), fresh process per run, ${rounds} rounds alternating; KB promoted by all scavenges (--trace-gc-nvp).`,
    '',
    '| mode | KB promoted (rounds) | median | over `none`, per batch |',
    '|---|---|---:|---:|',
    ...modes.map((m) => {
      const xs = runs.get(m)!;
      return `| ${m} | ${xs.join(' / ')} | ${median(xs)} | ${m === 'none' ? '' : `${(((median(xs) - base) * 1024) / sends / 1024).toFixed(1)} KB`} |`;
    }),
    '',
  ].join('\n');
  writeResultFiles('bullmq-promotion', `node dist/bench/bullmq-promotion.js (BENCH_ROUNDS=${rounds})`, {}, { rounds: Object.fromEntries(runs) }, md);
  process.stdout.write(md);
}
