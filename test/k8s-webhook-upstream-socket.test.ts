/**
 * `sidecar.upstream_socket` in the injector config: the sidecar and every app
 * container mount one emptyDir at the socket directory and both see
 * ARGUS_UPSTREAM_SOCKET; an app container already mounting that directory is refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { InjectorServer } from '../src/inject/server.js';
import { appPod, applyResponsePatch, assertValidPod, call, makeCert, reviewOf, startWebhook, type TlsFiles } from './k8s-fixtures.js';

describe('inject webhook: upstream over a shared Unix socket', () => {
  let tls: TlsFiles;
  let ca: Buffer;
  let server: InjectorServer;
  before(async () => {
    tls = makeCert();
    ca = readFileSync(tls.cert);
    server = await startWebhook(tls, { upstream_socket: { dir: '/run/argus-app', file: 'app.sock' } });
  });
  after(async () => {
    await server.close();
    tls.cleanup();
  });

  const mutate = async (pod: unknown) => (await call(server.port, ca, '/mutate', reviewOf(pod))).json.response;
  const mount = { name: 'argus-sidecar-socket', mountPath: '/run/argus-app' };
  const env = { name: 'ARGUS_UPSTREAM_SOCKET', value: '/run/argus-app/app.sock' };

  for (const native of [true, false]) {
    it(`${native ? 'native sidecar' : 'regular container'}: both sides mount the socket volume and see its path`, async () => {
      const pod = appPod({ 'argus.io/inject': 'true', 'argus.io/native-sidecar': String(native) });
      pod.spec.containers.push({ name: 'worker', image: 'sibyl/worker:1', env: [{ name: 'A', value: '1' }], volumeMounts: [] });
      pod.spec.volumes = [{ name: 'cache', emptyDir: {} }];
      const response = await mutate(pod);
      assert.equal(response.allowed, true);
      const patched = applyResponsePatch(pod, response);
      assertValidPod(patched);
      const sidecar = native ? patched.spec.initContainers[0] : patched.spec.containers[0];
      const apps = native ? patched.spec.containers : patched.spec.containers.slice(1);
      assert.equal(sidecar.name, 'argus-sidecar');
      assert.deepEqual(sidecar.volumeMounts.at(-1), mount);
      assert.deepEqual(
        sidecar.env.find((e: { name: string }) => e.name === env.name),
        env,
      );
      assert.deepEqual(
        apps.map((c: { name: string }) => c.name),
        ['api', 'worker'],
      );
      for (const app of apps) {
        assert.deepEqual(app.volumeMounts, [mount], app.name);
        assert.deepEqual(app.env.at(-1), env, app.name);
      }
      assert.deepEqual(apps[1].env[0], { name: 'A', value: '1' }, "the app's own env stays");
      const volume = patched.spec.volumes.find((v: { name: string }) => v.name === 'argus-sidecar-socket');
      assert.deepEqual(volume, { name: 'argus-sidecar-socket', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    });
  }

  it('an app that sets ARGUS_UPSTREAM_SOCKET itself keeps its value', async () => {
    const pod = appPod({ 'argus.io/inject': 'true' });
    pod.spec.containers[0].env = [{ name: 'ARGUS_UPSTREAM_SOCKET', value: '/run/argus-app/other.sock' }];
    const patched = applyResponsePatch(pod, await mutate(pod));
    assert.deepEqual(patched.spec.containers[0].env, [{ name: 'ARGUS_UPSTREAM_SOCKET', value: '/run/argus-app/other.sock' }]);
  });

  it('refuses a pod whose container already mounts the socket directory', async () => {
    const pod = appPod({ 'argus.io/inject': 'true' });
    pod.spec.containers[0].volumeMounts = [{ name: 'mine', mountPath: '/run/argus-app' }];
    pod.spec.volumes = [{ name: 'mine', emptyDir: {} }];
    const response = await mutate(pod);
    assert.equal(response.allowed, false);
    assert.match(response.status.message, /container api already mounts \/run\/argus-app/);
  });
});
