/**
 * One load run in its own process (so it can be pinned to its own core): autocannon
 * for closed-loop runs, bench/open-loop.ts for fixed-rate ones.
 * Usage: node dist/bench/load.js '<json options>'  → prints the result JSON.
 *
 * Besides autocannon's options: `tokensFile` + `tokenHeader` send a different
 * credential on every request (one per line, cycling), for cache-miss scenarios.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { openLoop } from './open-loop.js';
import { buildOpenLoop, runOpenLoop } from './openloop-native.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as autocannon.Options & { tokensFile?: string; tokenHeader?: string };
if (opts.overallRate && !opts.tokensFile) {
  // Fixed rate: an open-loop generator (µs latencies, no coordinated omission). The C
  // one when it builds (no JIT or GC pauses of its own), else bench/open-loop.ts.
  const o = {
    url: String(opts.url),
    rate: opts.overallRate,
    connections: opts.connections ?? 32,
    durationS: Number(opts.duration ?? 8),
    method: opts.method ?? 'GET',
    headers: (opts.headers ?? {}) as Record<string, string>,
  };
  const binary = o.method === 'GET' && !opts.body ? buildOpenLoop() : new Error('not a GET without a body');
  if (binary instanceof Error) process.stderr.write(`load: JS open-loop generator (its own pauses inflate p99): ${binary.message}\n`);
  const result = binary instanceof Error ? await openLoop(o) : runOpenLoop(binary, o);
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}
if (opts.tokensFile) {
  const tokens = readFileSync(opts.tokensFile, 'utf8').split('\n').filter(Boolean);
  const header = opts.tokenHeader ?? 'authorization';
  let i = 0;
  opts.requests = [
    {
      setupRequest: (req) => {
        const t = tokens[i++ % tokens.length]!;
        req.headers = { ...req.headers, [header]: header === 'authorization' ? `Bearer ${t}` : t };
        return req;
      },
    },
  ];
  delete opts.tokensFile;
  delete opts.tokenHeader;
}
const result = await autocannon(opts);
process.stdout.write(JSON.stringify(result));
