/**
 * The Grafana dashboard and the PrometheusRule parse, cover what the SLO needs,
 * and reference only metrics the code registers: `name: 'argus_…'` (or
 * `name = 'argus_…'`) in src/ or workers/ (histograms add _bucket/_sum/_count), plus prom-client's default
 * metrics under the `argus_process_` prefix.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parseYaml } from '../src/yaml.js';
import { REPO_ROOT } from './k8s-fixtures.js';

const CHART = join(REPO_ROOT, 'helm/argus-sidecar');
const dashboard = JSON.parse(readFileSync(join(CHART, 'files/grafana-dashboard.json'), 'utf8'));
const rules = parseYaml(readFileSync(join(CHART, 'files/prometheus-rules.yaml'), 'utf8')) as any;

function dashboardExprs(): string[] {
  const exprs: string[] = [];
  const walk = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) exprs.push(t.expr);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) if (typeof v.query === 'object' && v.query?.query) exprs.push(v.query.query);
  return exprs;
}

function ruleList(): any[] {
  return rules.groups.flatMap((g: any) => g.rules);
}

/** Metric names registered by the TypeScript sources, with their type when visible. */
async function registeredMetrics(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const files: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(dir, e);
      if (statSync(full).isDirectory()) walk(full);
      else if (e.endsWith('.ts') && !e.endsWith('.d.ts')) files.push(full);
    }
  };
  walk(join(REPO_ROOT, 'src'));
  walk(join(REPO_ROOT, 'workers'));
  let defaultPrefix: string | undefined;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    // `name: 'argus_x'` in the options, or `const name = 'argus_x'` passed as `{ name }`.
    for (const m of text.matchAll(/\bname\s*[:=]\s*['"`](argus_[a-z0-9_]+)['"`]/g)) {
      // The constructor this name belongs to, when it is written right before it.
      const before = text.slice(Math.max(0, m.index! - 200), m.index);
      const type = /new\s+(Counter|Gauge|Histogram|Summary)\b[^]*$/.exec(before)?.[1] ?? 'unknown';
      found.set(m[1]!, found.get(m[1]!) ?? type);
    }
    const prefix = /collectDefaultMetrics\([^)]*prefix:\s*['"](argus_[a-z_]+)['"]/.exec(text)?.[1];
    if (prefix) defaultPrefix = prefix;
  }
  if (defaultPrefix) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: defaultPrefix });
    for (const metric of await registry.getMetricsAsJSON()) found.set(metric.name, String(metric.type) === 'histogram' ? 'Histogram' : String(metric.type));
  }
  return found;
}

function referenced(exprs: string[]): Set<string> {
  const names = new Set<string>();
  for (const e of exprs) for (const [name] of e.matchAll(/\bargus_[a-z0-9_]+\b/g)) names.add(name);
  return names;
}

function unexported(names: Set<string>, registered: Map<string, string>): string[] {
  const missing: string[] = [];
  for (const name of names) {
    if (registered.has(name)) continue;
    const m = /^(.*)_(bucket|sum|count)$/.exec(name);
    const baseType = m ? registered.get(m[1]!) : undefined;
    const ok = m !== null && baseType !== undefined && (baseType === 'Histogram' || baseType === 'unknown' || (baseType === 'Summary' && m[2] !== 'bucket'));
    if (!ok) missing.push(name);
  }
  return missing.sort();
}

function assertBalanced(expr: string, where: string) {
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  const stack: string[] = [];
  for (const ch of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ('({['.includes(ch)) stack.push(ch);
    else if (ch in pairs) assert.equal(stack.pop(), pairs[ch], `${where}: unbalanced ${ch} in ${expr}`);
  }
  assert.equal(stack.length, 0, `${where}: unclosed ${stack.join('')} in ${expr}`);
}

describe('helm chart: dashboard and alerts', () => {
  it('the dashboard parses and covers the SLO views', () => {
    assert.equal(dashboard.uid, 'argus-sidecar');
    const ids = new Set<number>();
    for (const p of dashboard.panels) {
      assert.ok(!ids.has(p.id), `duplicate panel id ${p.id}`);
      ids.add(p.id);
      assert.ok(p.gridPos && Number.isInteger(p.gridPos.w) && Number.isInteger(p.gridPos.h), `panel ${p.title} has a gridPos`);
    }
    const exprs = dashboardExprs();
    exprs.forEach((e, i) => {
      assertBalanced(e, `dashboard expr ${i}`);
    });
    const names = referenced(exprs);
    for (const needed of [
      'argus_requests_total', // requests
      'argus_request_duration_seconds_bucket', // latency percentiles
      'argus_auth_cache_total', // cache hit ratio
      'argus_ratelimit_decisions_total', // limiter decisions
      'argus_usage_lag_seconds', // usage pipeline lag
      'argus_ws_connections', // WS sessions
    ])
      assert.ok(names.has(needed), `dashboard shows ${needed}`);
  });

  it('the rules parse and alert on the 99.9% SLO signals', () => {
    const all = ruleList();
    for (const r of all) {
      assert.ok(typeof r.expr === 'string' && r.expr.length > 0);
      assert.ok((r.alert === undefined) !== (r.record === undefined), 'each rule is an alert or a recording rule');
      assertBalanced(r.expr, r.alert ?? r.record);
      if (r.alert) {
        assert.ok(['warning', 'critical'].includes(r.labels?.severity), `${r.alert} has a severity`);
        assert.ok(r.annotations?.summary, `${r.alert} has a summary`);
      }
    }
    const records = new Map(all.filter((r) => r.record).map((r) => [r.record, r.expr]));
    // Alert expressions with recording rules expanded, to check what they measure.
    const expanded = (name: string) => {
      let expr: string = all.find((r) => r.alert === name)?.expr ?? '';
      for (const [rec, body] of records) expr = expr.split(rec).join(`(${body})`);
      return expr;
    };
    assert.match(expanded('ArgusErrorRatioHigh'), /status=~"5\.\."[^]*> 0\.001/);
    assert.match(expanded('ArgusAuthLatencyP99High'), /histogram_quantile\(0\.99,[^]*argus_auth_duration_seconds_bucket[^]*> 0\.005/);
    // Every usage event is spooled now: what alerts is a growing spool, an unwritable one, and an evicting Redis.
    assert.match(expanded('ArgusUsageSpoolBacklog'), /argus_usage_spool_bytes/);
    assert.match(expanded('ArgusUsageEventsUnspooled'), /argus_usage_events_total\{outcome="unspooled"\}/);
    assert.match(expanded('ArgusRedisMayEvict'), /argus_redis_config_ok/);
    assert.match(expanded('ArgusJwksStale'), /argus_jwks_age_seconds/);
  });

  it('reference only metrics the code exports', async () => {
    const registered = await registeredMetrics();
    assert.ok(registered.has('argus_requests_total'), 'the scan finds the core metrics');
    const rulesMissing = unexported(referenced(ruleList().map((r) => r.expr)), registered);
    const dashboardMissing = unexported(referenced(dashboardExprs()), registered);
    assert.deepEqual(
      { rules: rulesMissing, dashboard: dashboardMissing },
      { rules: [], dashboard: [] },
      'metrics referenced by the chart but registered nowhere in src/ or workers/',
    );
  });
});
