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

const opts = JSON.parse(process.argv[2] ?? '{}') as autocannon.Options & { tokensFile?: string; tokenHeader?: string };
if (opts.overallRate && !opts.tokensFile) {
  // Fixed rate: the open-loop generator (µs latencies, no coordinated omission).
  const result = await openLoop({ url: String(opts.url), rate: opts.overallRate, connections: opts.connections ?? 32, durationS: Number(opts.duration ?? 8), method: opts.method ?? 'GET', headers: (opts.headers ?? {}) as Record<string, string> });
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
