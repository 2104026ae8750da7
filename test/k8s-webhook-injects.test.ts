/**
 * The injection webhook over real HTTPS: opted-in pods get the sidecar as a
 * native sidecar (or a regular container on request), the patched pod is a valid
 * Kubernetes Pod, and pods that are not opted in or already injected are left alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { InjectorServer } from '../src/inject/server.js';
import { appPod, applyResponsePatch, assertValidPod, call, makeCert, reviewOf, startWebhook, type TlsFiles } from './k8s-fixtures.js';

describe('inject webhook: injects', () => {
  let tls: TlsFiles;
  let ca: Buffer;
  let server: InjectorServer;
  before(async () => {
    tls = makeCert();
    ca = readFileSync(tls.cert);
    server = await startWebhook(tls);
  });
  after(async () => {
    await server.close();
    tls.cleanup();
  });

  async function mutate(pod: unknown) {
    const review = reviewOf(pod);
    const res = await call(server.port, ca, '/mutate', review);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.apiVersion, 'admission.k8s.io/v1');
    assert.equal(res.json.kind, 'AdmissionReview');
    assert.equal(res.json.response.uid, review.request.uid);
    return res.json.response;
  }

  it('answers probes on /healthz', async () => {
    const res = await call(server.port, ca, '/healthz');
    assert.equal(res.status, 200);
  });

  it('adds a native sidecar to a plain pod, gated by a startup probe', async () => {
    const pod = appPod({ 'argus.io/inject': 'true', 'argus.io/upstream-port': '8000' });
    const response = await mutate(pod);
    assert.equal(response.allowed, true);
    const patched = applyResponsePatch(pod, response);
    assertValidPod(patched);
    // Shutdown order: the app keeps serving a few seconds after its SIGTERM (a preStop
    // sleep), and the pod's grace period covers the app's and the sidecar's drains.
    assert.deepEqual(
      patched.spec.containers,
      pod.spec.containers.map((c: any) => ({ ...c, lifecycle: { preStop: { sleep: { seconds: 5 } } } })),
      'app containers: only a preStop sleep added',
    );
    assert.equal(patched.spec.terminationGracePeriodSeconds, 45);
    assert.equal(patched.spec.initContainers.length, 1);
    const sidecar = patched.spec.initContainers[0];
    assert.equal(sidecar.name, 'argus-sidecar');
    assert.equal(sidecar.restartPolicy, 'Always');
    assert.deepEqual(sidecar.args, ['proxy', '--config', '/etc/argus/argus.yaml']);
    assert.deepEqual(sidecar.startupProbe.httpGet, { path: '/readyz', port: 9090, scheme: 'HTTP' });
    assert.deepEqual(
      sidecar.ports.map((p: any) => p.containerPort),
      [8080, 9090],
    );
    const env = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.ARGUS_UPSTREAM_PORT, '8000');
    assert.deepEqual(env.ARGUS_REDIS_URL, { secretKeyRef: { name: 'argus-sidecar-secrets', key: 'redis-url', optional: false } });
    assert.deepEqual(sidecar.securityContext.capabilities, { drop: ['ALL'] });
    assert.equal(sidecar.securityContext.readOnlyRootFilesystem, true);
    assert.equal(sidecar.securityContext.allowPrivilegeEscalation, false);
    assert.equal(sidecar.securityContext.runAsNonRoot, true);
    const config = patched.spec.volumes.find((v: any) => v.name === 'argus-sidecar-config');
    assert.equal(config.configMap.name, 'argus-sidecar-config');
    assert.equal(patched.metadata.annotations['argus.io/status'], 'injected');
    assert.equal(patched.metadata.labels['argus.io/injected'], 'true');
    assert.equal(patched.metadata.labels.app, 'sibyl-api', 'existing labels kept');
  });

  it('appends after existing init containers and keeps their order and volumes', async () => {
    const pod = appPod(
      { 'argus.io/inject': 'true', 'argus.io/config': 'sibyl-argus' },
      {
        initContainers: [
          { name: 'wait-db', image: 'busybox:1.36', command: ['sh', '-c', 'true'] },
          { name: 'migrate', image: 'sibyl/api:1.4.2', args: ['migrate'] },
        ],
        volumes: [{ name: 'cache', emptyDir: {} }],
      },
    );
    const response = await mutate(pod);
    const patched = applyResponsePatch(pod, response);
    assertValidPod(patched);
    assert.deepEqual(
      patched.spec.initContainers.map((c: any) => c.name),
      ['wait-db', 'migrate', 'argus-sidecar'],
    );
    assert.deepEqual(patched.spec.initContainers.slice(0, 2), pod.spec.initContainers);
    assert.deepEqual(
      patched.spec.volumes.map((v: any) => v.name),
      ['cache', 'argus-sidecar-config', 'argus-sidecar-data', 'argus-sidecar-tmp'],
    );
    assert.equal(patched.spec.volumes[1].configMap.name, 'sibyl-argus', 'argus.io/config chooses the ConfigMap');
    assert.equal(patched.spec.initContainers[2].env.find((e: any) => e.name === 'ARGUS_UPSTREAM_PORT').value, '3000', 'default upstream port');
  });

  it('applies a service profile and lets annotations override its resources', async () => {
    const pod = appPod({ 'argus.io/inject': 'true', 'argus.io/profile': 'prism', 'argus.io/memory-limit': '1Gi', 'argus.io/cpu-request': '500m' });
    const patched = applyResponsePatch(pod, await mutate(pod));
    assertValidPod(patched);
    const sidecar = patched.spec.initContainers[0];
    assert.deepEqual(sidecar.resources, { requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '1Gi' } });
    const env = Object.fromEntries(sidecar.env.map((e: any) => [e.name, e.value]));
    assert.equal(env.ARGUS_UPSTREAM_PORT, '4000');
    assert.equal(env.ARGUS_SERVICE, 'prism');
    assert.equal(patched.spec.volumes.find((v: any) => v.name === 'argus-sidecar-config').configMap.name, 'argus-prism');

    const jane = appPod({ 'argus.io/inject': 'true', 'argus.io/profile': 'jane' });
    const janePatched = applyResponsePatch(jane, await mutate(jane));
    assert.equal(janePatched.spec.initContainers[0].env.find((e: any) => e.name === 'ARGUS_TRADING').value, 'true');
  });

  it('falls back to a regular first container that holds the app until /readyz', async () => {
    const pod = appPod({ 'argus.io/inject': 'true', 'argus.io/native-sidecar': 'false' });
    const patched = applyResponsePatch(pod, await mutate(pod));
    assertValidPod(patched);
    assert.equal(patched.spec.initContainers, undefined);
    assert.deepEqual(
      patched.spec.containers.map((c: any) => c.name),
      ['argus-sidecar', 'api'],
    );
    const sidecar = patched.spec.containers[0];
    assert.equal(sidecar.restartPolicy, undefined);
    const [cmd, flag, script] = sidecar.lifecycle.postStart.exec.command;
    assert.equal(cmd, 'node');
    assert.equal(flag, '-e');
    assert.match(script, /port:9090,path:'\/readyz'/);
    // The hold script must at least be valid JavaScript.
    assert.doesNotThrow(() => new Function('require', 'process', script));
  });

  it('leaves an already injected pod alone', async () => {
    const pod = appPod({ 'argus.io/inject': 'true' });
    const once = applyResponsePatch(pod, await mutate(pod));
    const again = await mutate(once);
    assert.equal(again.allowed, true);
    assert.equal(again.patch, undefined);
    assert.equal(again.patchType, undefined);
  });

  it('leaves pods that opt out, or never opted in, alone', async () => {
    for (const annotations of [{ 'argus.io/inject': 'false' }, {}, { 'other.io/inject': 'true' }] as Array<Record<string, string>>) {
      const response = await mutate(appPod(annotations));
      assert.equal(response.allowed, true, JSON.stringify(annotations));
      assert.equal(response.patch, undefined, JSON.stringify(annotations));
    }
    const noMetadata = await mutate({ spec: { containers: [{ name: 'a', image: 'b' }] } });
    assert.equal(noMetadata.allowed, true);
    assert.equal(noMetadata.patch, undefined);
  });

  it('does not touch other resources, subresources or operations', async () => {
    const pod = appPod({ 'argus.io/inject': 'true' });
    for (const request of [
      { operation: 'UPDATE' },
      { subResource: 'ephemeralcontainers' },
      { resource: { group: 'apps', version: 'v1', resource: 'deployments' } },
    ]) {
      const res = await call(server.port, ca, '/mutate', reviewOf(pod, request));
      assert.equal(res.status, 200);
      assert.equal(res.json.response.allowed, true, JSON.stringify(request));
      assert.equal(res.json.response.patch, undefined, JSON.stringify(request));
    }
  });
});

describe('inject webhook: shutdown order', () => {
  it("keeps an app's own preStop and a longer grace period; in container mode patches the app, not the sidecar", async () => {
    const tls = makeCert();
    const server = await startWebhook(tls, { native: false, hold_application: false });
    try {
      const pod = appPod({ 'argus.io/inject': 'true' }, { terminationGracePeriodSeconds: 120 });
      pod.spec.containers.push({ name: 'worker', image: 'sibyl/api:1.4.2', lifecycle: { preStop: { exec: { command: ['/bin/drain'] } } } });
      const res = await call(server.port, readFileSync(tls.cert), '/mutate', reviewOf(pod));
      const patched = applyResponsePatch(pod, res.json.response);
      assertValidPod(patched);
      assert.deepEqual(
        patched.spec.containers.map((c: any) => c.name),
        ['argus-sidecar', pod.spec.containers[0].name, 'worker'],
      );
      assert.equal(patched.spec.containers[0].lifecycle, undefined, 'the sidecar gets no preStop sleep');
      assert.deepEqual(patched.spec.containers[1].lifecycle, { preStop: { sleep: { seconds: 5 } } });
      assert.deepEqual(patched.spec.containers[2].lifecycle, { preStop: { exec: { command: ['/bin/drain'] } } }, "the app's own preStop is kept");
      assert.equal(patched.spec.terminationGracePeriodSeconds, 120, 'a longer grace period is kept');
    } finally {
      await server.close();
      tls.cleanup();
    }
  });
});

describe('inject webhook: injector configured for older clusters', () => {
  it('injects a regular container when sidecar.native is false', async () => {
    const tls = makeCert();
    const server = await startWebhook(tls, { native: false, hold_application: false });
    try {
      const pod = appPod({ 'argus.io/inject': 'true' });
      const res = await call(server.port, readFileSync(tls.cert), '/mutate', reviewOf(pod));
      const patched = applyResponsePatch(pod, res.json.response);
      assertValidPod(patched);
      assert.equal(patched.spec.containers[0].name, 'argus-sidecar');
      assert.equal(patched.spec.containers[0].lifecycle, undefined, 'hold_application false: no postStart hook');
      // ...and a pod can still ask for the native form.
      const nativePod = appPod({ 'argus.io/inject': 'true', 'argus.io/native-sidecar': 'true' });
      const nativeRes = await call(server.port, readFileSync(tls.cert), '/mutate', reviewOf(nativePod));
      assert.equal(applyResponsePatch(nativePod, nativeRes.json.response).spec.initContainers[0].restartPolicy, 'Always');
    } finally {
      await server.close();
      tls.cleanup();
    }
  });
});
