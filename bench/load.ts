/**
 * One autocannon run in its own process (so it can be pinned to its own core).
 * Usage: node dist/bench/load.js '<json autocannon options>'  → prints the result JSON.
 */
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2] ?? '{}') as autocannon.Options;
const result = await autocannon(opts);
process.stdout.write(JSON.stringify(result));
