/**
 * Outcome: the chart's `ArgusBillingWebhooksFailing` alert (issue 25: an alert
 * when webhooks fail or lag) fires, per namespace, after 10 minutes of failed
 * deliveries, of bad signatures with nothing processed, or of a p99 time from
 * webhook to projection above 5 s; a namespace whose webhooks are processed
 * quickly never fires, and nothing fires before the 10 minutes. Evaluated by
 * `promtool test rules` on the rules file the chart ships (CI must install
 * promtool; elsewhere the test only checks the rule is there).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseYaml } from '../src/yaml.js';
import { REPO_ROOT } from './k8s-fixtures.js';

const RULES = join(REPO_ROOT, 'helm/argus-sidecar/files/prometheus-rules.yaml');
const ALERT = 'ArgusBillingWebhooksFailing';
const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

interface Rule {
  alert?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function rule(): Rule {
  const doc = parseYaml(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
  const found = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === ALERT);
  assert.ok(found, `${ALERT} in ${RULES}`);
  return found;
}

/** The alert as Prometheus would fire it for `namespace` (its annotations use only the namespace label). */
function expected(r: Rule, namespace: string): Record<string, unknown> {
  const fill = (s: string) => s.replaceAll('{{ $labels.namespace }}', namespace);
  assert.ok(!Object.values(r.annotations ?? {}).some((a) => fill(a).includes('{{')), 'annotations use only $labels.namespace');
  return {
    exp_labels: { ...r.labels, namespace },
    exp_annotations: Object.fromEntries(Object.entries(r.annotations ?? {}).map(([k, v]) => [k, fill(v)])),
  };
}

const counter = (ns: string, outcome: string, values: string) => ({ series: `argus_billing_webhooks_total{namespace="${ns}",outcome="${outcome}"}`, values });
const bucket = (ns: string, le: string, values: string) => ({
  series: `argus_billing_webhook_projection_seconds_bucket{namespace="${ns}",le="${le}"}`,
  values,
});

test(`${ALERT} fires on failures, bad signatures alone, or a slow projection; not on healthy webhooks`, () => {
  const r = rule();
  if (!promtool) {
    assert.notEqual(process.env['CI'], 'true', 'promtool is not on PATH: CI must install it (.ci/run)');
    return;
  }
  const series = [
    // Deliveries fail (500) once a minute.
    counter('ns-fail', 'failed', '0+1x40'),
    counter('ns-fail', 'processed', '0+5x40'),
    // Every delivery refused as badly signed (a wrong billing.webhook_secret), none processed.
    counter('ns-badsig', 'bad_signature', '0+1x40'),
    counter('ns-badsig', 'processed', '0x40'),
    // Processed, but 10 s from webhook to projection.
    counter('ns-slow', 'processed', '0+1x40'),
    bucket('ns-slow', '1', '0x40'),
    bucket('ns-slow', '5', '0x40'),
    bucket('ns-slow', '10', '0+1x40'),
    bucket('ns-slow', '+Inf', '0+1x40'),
    // Healthy: processed within 100 ms, an occasional bad signature (a probe) among them.
    counter('ns-ok', 'processed', '0+5x40'),
    counter('ns-ok', 'bad_signature', '0+1x40'),
    counter('ns-ok', 'failed', '0x40'),
    bucket('ns-ok', '0.1', '0+5x40'),
    bucket('ns-ok', '1', '0+5x40'),
    bucket('ns-ok', '5', '0+5x40'),
    bucket('ns-ok', '10', '0+5x40'),
    bucket('ns-ok', '+Inf', '0+5x40'),
  ];
  const unit = {
    rule_files: [RULES],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: series,
        alert_rule_test: [
          { eval_time: '5m', alertname: ALERT, exp_alerts: [] },
          { eval_time: '25m', alertname: ALERT, exp_alerts: ['ns-badsig', 'ns-fail', 'ns-slow'].map((ns) => expected(r, ns)) },
        ],
      },
    ],
  };
  const dir = mkdtempSync(join(tmpdir(), 'argus-alert-'));
  try {
    // JSON is YAML: promtool reads it as is.
    const file = join(dir, 'billing-alert.test.yaml');
    writeFileSync(file, JSON.stringify(unit, null, 2));
    const out = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
    assert.equal(out.status, 0, `promtool test rules exited ${out.status}:\n${out.stdout}${out.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
