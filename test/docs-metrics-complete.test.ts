/**
 * Outcome: docs/metrics.md lists exactly the metrics the code registers. The
 * names come from every `name: 'argus_…'` in src/ (prom-client
 * metrics, hot-path cells and custom collectors all declare their name that
 * way); the doc's names are the first column of its metric tables. Process
 * metrics (`argus_process_*`, prom-client defaults) are a documented family.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function registeredNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const dir of ['src']) {
    for (const file of tsFiles(join(ROOT, dir))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bname:\s*['"`](argus_[a-z0-9_]+)['"`]/g)) {
        names.set(m[1]!, file.slice(ROOT.length));
      }
    }
  }
  return names;
}

const DOC = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
const documented = new Set([...DOC.matchAll(/^\| `(argus_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!));

describe('docs/metrics.md against the metrics registered in src/', () => {
  const registered = registeredNames();

  it('finds the metrics of both processes in the code', () => {
    for (const n of ['argus_requests_total', 'argus_usage_events_total', 'argus_projection_complete', 'argus_stripe_review_reports']) {
      assert.ok(registered.has(n), `found ${n} in the code`);
    }
  });

  it('every registered metric has a row', () => {
    const missing = [...registered].filter(([n]) => !documented.has(n)).map(([n, f]) => `${n} (${f})`);
    assert.deepEqual(missing, [], `docs/metrics.md has no row for:\n  ${missing.join('\n  ')}`);
  });

  it('every row names a registered metric', () => {
    const stale = [...documented].filter((n) => !registered.has(n));
    assert.deepEqual(stale, [], `docs/metrics.md documents metrics the code no longer registers:\n  ${stale.join('\n  ')}`);
  });

  it('the process metrics family and its renamed gauges are documented', () => {
    const src = readFileSync(join(ROOT, 'src/observe/process-metrics.ts'), 'utf8');
    assert.ok(src.includes("prefix: 'argus_process_'"));
    assert.ok(DOC.includes('`argus_process_*`'));
    for (const n of ['handles', 'requests', 'resources']) assert.ok(DOC.includes(`argus_process_nodejs_active_${n}_all`), n);
  });
});
