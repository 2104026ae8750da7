/**
 * The Helm chart without helm (not installed on these machines): values.yaml
 * passes values.schema.json and the schema refuses insecure or malformed values;
 * the argus.yaml configs in values pass the sidecar's own config schema; every
 * `.Values.x` a template reads exists; template blocks are balanced.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parseYaml } from '../src/yaml.js';
import { parseConfig } from '../src/config.js';
import { REPO_ROOT } from './k8s-fixtures.js';

const CHART = join(REPO_ROOT, 'helm/argus-sidecar');
const values = () => parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as any;
const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
const errorsOf = (v: unknown) => (validate(v) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));

describe('helm chart: values and schema', () => {
  it('values.yaml passes values.schema.json', () => {
    assert.deepEqual(errorsOf(values()), []);
  });

  it('the schema refuses insecure or malformed values', () => {
    const cases: Array<[string, (v: any) => void, RegExp]> = [
      ['failurePolicy', (v) => (v.injector.failurePolicy = 'Maybe'), /\/injector\/failurePolicy/],
      ['root pods', (v) => (v.podSecurityContext.runAsNonRoot = false), /\/podSecurityContext\/runAsNonRoot/],
      ['privilege escalation', (v) => (v.securityContext.allowPrivilegeEscalation = true), /\/securityContext\/allowPrivilegeEscalation/],
      ['nativeSidecar', (v) => (v.sidecar.nativeSidecar = 'sometimes'), /\/sidecar\/nativeSidecar/],
      ['unknown key', (v) => (v.sidecar.upstreamPrt = 1), /must NOT have additional properties/],
      ['quantity', (v) => (v.sidecar.resources.requests.cpu = 'a lot'), /\/sidecar\/resources\/requests\/cpu/],
      ['webhook timeout', (v) => (v.injector.timeoutSeconds = 60), /\/injector\/timeoutSeconds/],
      ['TLS without cert-manager or secret', (v) => (v.injector.tls.certManager.enabled = false), /\/injector\/tls\/existingSecret/],
      ['secret env name', (v) => (v.secrets.sidecar.env['bad-name'] = 'x'), /\/secrets\/sidecar\/env/],
      ['sidecar config without routes', (v) => delete v.sidecar.config.routes, /\/sidecar\/config/],
    ];
    for (const [name, mutate, mention] of cases) {
      const v = values();
      mutate(v);
      const errors = errorsOf(v);
      assert.ok(
        errors.some((e) => mention.test(e)),
        `${name}: expected an error matching ${mention}, got ${JSON.stringify(errors)}`,
      );
    }
    const provided = values();
    provided.injector.tls.certManager.enabled = false;
    provided.injector.tls.existingSecret = 'argus-webhook-tls';
    provided.injector.tls.caBundle = 'LS0tLS1CRUdJTi...';
    assert.deepEqual(errorsOf(provided), [], 'a provided Secret and CA bundle replace cert-manager');
  });

  it('ships secure defaults', () => {
    const v = values();
    assert.equal(v.podSecurityContext.runAsNonRoot, true);
    assert.deepEqual(v.securityContext.capabilities.drop, ['ALL']);
    assert.equal(v.securityContext.readOnlyRootFilesystem, true);
    assert.equal(v.securityContext.allowPrivilegeEscalation, false);
    assert.equal(v.podSecurityContext.seccompProfile.type, 'RuntimeDefault');
  });

  it('every value is commented', () => {
    // Every key of the first two levels sits right under a comment line (deeper keys
    // are documented by their parent: resource lists, argus.yaml, profiles).
    const lines = readFileSync(join(CHART, 'values.yaml'), 'utf8').split('\n');
    const uncommented = lines.filter((line, i) => /^ {0,2}[A-Za-z][\w-]*:/.test(line) && !/^\s*#/.test(lines[i - 1] ?? ''));
    assert.deepEqual(uncommented, []);
  });
});

describe('helm chart: configs in values pass the sidecar config schema', () => {
  const env = {
    ARGUS_UPSTREAM_PORT: '8000',
    ARGUS_SERVICE: 'sibyl',
    ARGUS_REDIS_URL: 'redis://redis:6379',
    ARGUS_SESSION_SECRET: 'a-session-secret-of-32-characters!',
    ARGUS_POSTGRES_URL: 'postgres://argus@postgres/argus',
    STRIPE_API_KEY: 'sk_test_placeholder',
  };
  it('the sidecar argus.yaml (with listen/admin from the ports) is valid', () => {
    const v = values();
    const cfg = parseConfig(
      { ...v.sidecar.config, listen: { host: '0.0.0.0', port: v.sidecar.listenPort }, admin: { host: '0.0.0.0', port: v.sidecar.adminPort } },
      env,
    );
    assert.equal(cfg.upstream.url, 'http://127.0.0.1:8000');
    // Shutdown order: the pod's grace period covers the app's preStop sleep, then the
    // sidecar's whole drain (it exits within drain_timeout_ms + 1 s), and the drain
    // delay outlasts nothing the app still needs (the app sleeps through it first).
    assert.ok(
      v.sidecar.terminationGracePeriodSeconds >= v.sidecar.appPreStopSleepSeconds + cfg.server.drain_timeout_ms / 1000 + 1,
      'terminationGracePeriodSeconds covers preStop + drain',
    );
    assert.ok(cfg.server.drain_delay_ms >= 5000, 'drain_delay_ms leaves endpoint removal time');
    assert.equal(cfg.metering.spool_dir.startsWith('/var/lib/argus/'), true, 'spool on the writable emptyDir');
    // Only variables the injector or the sidecar Secret provide may be referenced.
    const provided = new Set(['ARGUS_UPSTREAM_PORT', 'ARGUS_SERVICE', 'ARGUS_POD_NAME', 'ARGUS_POD_NAMESPACE', ...Object.keys(v.secrets.sidecar.env)]);
    for (const [, name] of JSON.stringify(v.sidecar.config).matchAll(/\$\{(\w+)\}/g)) assert.ok(provided.has(name!), `sidecar config references unset ${name}`);
  });
  it('the worker/migrate argus.yaml is valid and references only the worker Secret', () => {
    const v = values();
    // As the chart's argus.workerConfig helper renders it: the admin port under metering.worker.admin.
    const metering = {
      ...(v.worker.config.metering ?? {}),
      worker: { ...(v.worker.config.metering?.worker ?? {}), admin: { host: '0.0.0.0', port: v.worker.adminPort } },
    };
    const cfg = parseConfig({ ...v.worker.config, metering }, env);
    assert.ok(cfg.postgres && cfg.redis && cfg.stripe);
    // The worker's admin port is not the sidecar's: a worker and a proxy can share a config and a host.
    assert.notEqual(cfg.metering.worker.admin.port, v.sidecar.adminPort);
    assert.equal(cfg.metering.worker.admin.port, 9091);
    for (const [, name] of JSON.stringify(v.worker.config).matchAll(/\$\{(\w+)\}/g))
      assert.ok(name! in v.secrets.worker.env, `worker config references unset ${name}`);
  });
});

describe('helm chart: templates', () => {
  const templates = readdirSync(join(CHART, 'templates')).filter((f) => /\.(yaml|tpl)$/.test(f));

  it('read only values that exist in values.yaml', () => {
    const v = values();
    const missing: string[] = [];
    for (const file of templates) {
      const text = readFileSync(join(CHART, 'templates', file), 'utf8');
      for (const [, path] of text.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)) {
        let node: any = v;
        for (const key of path!.split('.')) node = node === undefined || node === null ? undefined : node[key];
        if (node === undefined) missing.push(`${file}: .Values.${path}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('open and close their blocks', () => {
    for (const file of templates) {
      const text = readFileSync(join(CHART, 'templates', file), 'utf8');
      const actions = [...text.matchAll(/\{\{-?\s*(\/\*[\s\S]*?\*\/|[^}]*?)\s*-?\}\}/g)].map((m) => m[1]!.trim());
      assert.equal((text.match(/\{\{/g) ?? []).length, actions.length, `${file}: unbalanced {{ }}`);
      const opens = actions.filter((a) => /^(if|range|with|define)\b/.test(a)).length;
      const ends = actions.filter((a) => /^end\b/.test(a)).length;
      assert.equal(opens, ends, `${file}: ${opens} blocks opened, ${ends} closed`);
    }
  });

  it('Chart.yaml names the chart and the app version', () => {
    const chart = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as any;
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'argus-sidecar');
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    assert.equal(chart.appVersion, pkg.version);
  });
});
