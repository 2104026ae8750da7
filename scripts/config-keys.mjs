// Print every config key path with its type, default and meaning (from the zod
// schema in src/config.ts; the meaning is the TSDoc beside the key in its schema
// file when that file names the key once), as docs/configuration.md's "All keys"
// table. Run after `npm run build`: node scripts/config-keys.mjs
import { readFileSync } from 'node:fs';
import { configSchema } from '../dist/src/config.js';
import { configKeyPaths } from '../dist/test/support/config-keys.js';

const FILES = {
  auth: ['src/authenticate/schema.ts'],
  'routes[].cors': ['src/cors/schema.ts'],
  'routes[].llm': ['src/llm/schema.ts'],
  routes: ['src/request/route-schema.ts'],
  server: ['src/server/schema.ts'],
  upstream: ['src/forward/upstream-schema.ts'],
  redis: ['src/clients/redis-schema.ts'],
  tiers: ['src/ratelimit/schema.ts'],
  metering: ['src/meter/schema.ts'],
  stripe: ['src/meter/schema.ts'],
  ratelimit: ['src/ratelimit/schema.ts'],
  llm: ['src/llm/schema.ts'],
  trading: ['src/trading/schema.ts'],
  billing: ['src/billing/schema.ts', 'src/billing/plans.ts'],
  'control.dashboard': ['src/dashboard-schema.ts'],
  control: ['src/control-schema.ts'],
  observability: ['src/observe/schema.ts'],
};
const docs = new Map();
for (const file of new Set(['src/config.ts', ...Object.values(FILES).flat()])) {
  const text = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
  const byLeaf = new Map();
  for (const m of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*\n\s*([a-z_]+)\s*:/g)) {
    const doc = m[1]
      .split('\n')
      .map((l) => l.replace(/^\s*\*\s?/, '').trim())
      .join(' ')
      .trim();
    byLeaf.set(m[2], byLeaf.has(m[2]) ? null : doc);
  }
  const counts = new Map();
  for (const m of text.matchAll(/^\s*([a-z_]+)\s*:/gm)) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  docs.set(file, { byLeaf, counts });
}

function meaning(path) {
  const prefix = Object.keys(FILES).find((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
  const files = prefix ? FILES[prefix] : ['src/config.ts'];
  const leaf = path
    .split(/[.[\]]+/)
    .filter(Boolean)
    .pop();
  for (const f of files) {
    const d = docs.get(f);
    if (d.counts.get(leaf) === 1 && d.byLeaf.get(leaf)) return d.byLeaf.get(leaf);
  }
  return '';
}

for (const k of configKeyPaths(configSchema)) {
  const dflt = k.default !== undefined ? `\`${k.default}\`` : k.required ? 'required' : '—';
  const esc = (s) => s.replace(/\|/g, '\\|');
  console.log(`| \`${k.path}\` | ${esc(k.type)} | ${esc(dflt)} | ${esc(meaning(k.path))} |`);
}
