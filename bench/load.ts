/**
 * One autocannon run in its own process (so it can be pinned to its own core).
 * Usage: node dist/bench/load.js '<json options>'  → prints the result JSON.
 *
 * Besides autocannon's options: `tokensFile` + `tokenHeader` send a different
 * credential on every request (one per line, cycling), for cache-miss scenarios.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2] ?? '{}') as autocannon.Options & { tokensFile?: string; tokenHeader?: string };
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
