/**
 * Outcome: every alert the Helm chart ships
 * (helm/argus-sidecar/files/prometheus-rules.yaml) has a runbook heading
 * (`### <AlertName>`) in docs/operations.md, and every runbook heading there
 * names an alert that exists.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const rules = readFileSync(join(ROOT, 'helm/argus-sidecar/files/prometheus-rules.yaml'), 'utf8');
const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
const alerts = [...rules.matchAll(/^\s*-\s*alert:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
const runbookSection = doc.slice(doc.indexOf('\n## Runbooks'));
const headings = [...runbookSection.matchAll(/^### (\S+)\s*$/gm)].map((m) => m[1]!);

describe("docs/operations.md runbooks against the chart's alerts", () => {
  it('reads the alerts', () => {
    assert.ok(alerts.length >= 10, `found ${alerts.length} alerts`);
    assert.ok(doc.includes('\n## Runbooks'), 'docs/operations.md has a Runbooks section');
  });

  it('every alert has a runbook heading', () => {
    const missing = alerts.filter((a) => !headings.includes(a));
    assert.deepEqual(missing, [], `docs/operations.md has no "### <alert>" runbook for:\n  ${missing.join('\n  ')}`);
  });

  it('every runbook heading names an alert in the rules', () => {
    const stale = headings.filter((h) => !alerts.includes(h));
    assert.deepEqual(stale, [], `runbooks for alerts the chart no longer has:\n  ${stale.join('\n  ')}`);
  });
});
