/**
 * The injection webhook refuses what it cannot honour with a clear message and
 * never crashes: malformed reviews, bad annotations, collisions with the pod's
 * own ports and volumes, oversized bodies, and a bounded fuzz of review shapes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answerReview } from '../src/inject/review.js';
import type { InjectorServer } from '../src/inject/server.js';
import { REPO_ROOT, appPod, applyResponsePatch, call, injectorConfig, makeCert, reviewOf, startWebhook, type TlsFiles } from './k8s-fixtures.js';

describe('inject webhook: denies', () => {
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

  async function expectMalformed(body: string | object, mention: RegExp) {
    const res = await call(server.port, ca, '/mutate', body);
    assert.equal(res.status, 400, res.body);
    assert.equal(res.json.kind, 'AdmissionReview');
    assert.equal(res.json.response.allowed, false);
    assert.equal(res.json.response.status.code, 400);
    assert.match(res.json.response.status.message, mention);
  }

  it('answers a malformed body with a denial naming the problem', async () => {
    await expectMalformed('{"apiVersion": "admission.k8s.io/v1", ', /not valid JSON/);
    await expectMalformed('[1,2,3]', /expected an AdmissionReview JSON object/);
    await expectMalformed('null', /expected an AdmissionReview JSON object/);
    await expectMalformed({ ...reviewOf(appPod()), apiVersion: 'admission.k8s.io/v1beta1' }, /expected apiVersion admission\.k8s\.io\/v1/);
    await expectMalformed({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request: expected an object/);
    const noUid = reviewOf(appPod()) as any;
    delete noUid.request.uid;
    await expectMalformed(noUid, /request\.uid/);
  });

  it('refuses an oversized body without buffering it', async () => {
    const huge = JSON.stringify(reviewOf(appPod({ 'argus.io/inject': 'true', filler: 'x'.repeat(5 * 1024 * 1024) })));
    await expectMalformed(huge, /larger than/);
  });

  it('denies a pod CREATE whose object is not a usable pod', async () => {
    for (const [object, mention] of [
      [undefined, /expected a Pod object/],
      ['a string', /expected a Pod object/],
      [{ metadata: { annotations: { 'argus.io/inject': 'true' } } }, /spec\.containers/],
      [{ metadata: {}, spec: { containers: [] } }, /spec\.containers/],
    ] as const) {
      const review = reviewOf(object);
      const res = await call(server.port, ca, '/mutate', review);
      assert.equal(res.status, 200);
      assert.equal(res.json.response.uid, review.request.uid);
      assert.equal(res.json.response.allowed, false);
      assert.match(res.json.response.status.message, mention);
    }
  });

  it('denies annotations it cannot honour, naming the annotation', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ 'argus.io/inject': 'yes' }, /argus\.io\/inject: expected "true" or "false", got "yes"/],
      [{ 'argus.io/inject': 'true', 'argus.io/upstream-port': 'http' }, /argus\.io\/upstream-port: expected a port number/],
      [{ 'argus.io/inject': 'true', 'argus.io/upstream-port': '70000' }, /argus\.io\/upstream-port/],
      [{ 'argus.io/inject': 'true', 'argus.io/upstream-port': '8080' }, /collides with the sidecar's ports/],
      [{ 'argus.io/inject': 'true', 'argus.io/profile': 'hermes' }, /argus\.io\/profile: expected one of sibyl, prism, jane, got "hermes"/],
      [{ 'argus.io/inject': 'true', 'argus.io/cpu-request': 'lots' }, /argus\.io\/cpu-request: expected a Kubernetes quantity/],
      [{ 'argus.io/inject': 'true', 'argus.io/memory-request': '1Gi', 'argus.io/memory-limit': '512Mi' }, /memory-request 1Gi exceeds the memory limit 512Mi/],
      [{ 'argus.io/inject': 'true', 'argus.io/config': 'Not_A_Name' }, /argus\.io\/config: expected a ConfigMap name/],
      [{ 'argus.io/inject': 'true', 'argus.io/native-sidecar': 'maybe' }, /argus\.io\/native-sidecar/],
    ];
    for (const [annotations, mention] of cases) {
      const res = await call(server.port, ca, '/mutate', reviewOf(appPod(annotations)));
      assert.equal(res.status, 200);
      assert.equal(res.json.response.allowed, false, JSON.stringify(annotations));
      assert.equal(res.json.response.patch, undefined);
      assert.match(res.json.response.status.message, mention);
    }
  });

  it('denies a pod whose own ports or volume names collide with the sidecar', async () => {
    const portClash = appPod({ 'argus.io/inject': 'true' }, { containers: [{ name: 'api', image: 'a', ports: [{ containerPort: 9090 }] }] });
    let res = await call(server.port, ca, '/mutate', reviewOf(portClash));
    assert.equal(res.json.response.allowed, false);
    assert.match(res.json.response.status.message, /container api declares port 9090/);

    const volumeClash = appPod({ 'argus.io/inject': 'true' }, { volumes: [{ name: 'argus-sidecar-data', emptyDir: {} }] });
    res = await call(server.port, ca, '/mutate', reviewOf(volumeClash));
    assert.equal(res.json.response.allowed, false);
    assert.match(res.json.response.status.message, /argus-sidecar-data is reserved/);
  });

  it('answers unknown paths and methods without touching reviews', async () => {
    assert.equal((await call(server.port, ca, '/other', '{}')).status, 404);
    assert.equal((await call(server.port, ca, '/mutate')).status, 405);
  });
});

describe('inject webhook: fuzzed reviews', () => {
  it('always answers an AdmissionReview and every patch applies', async () => {
    const tls = makeCert();
    try {
      const cfg = injectorConfig(tls);
      let seed = 0x9e3779b9;
      const rand = () => (seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
      const junk = [null, 0, -1, 1e309, '', 'true', [], {}, [{}], { name: 'argus-sidecar' }, true, 'x'.repeat(100)];
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
      let injected = 0;
      for (let i = 0; i < 400; i++) {
        const review: any = reviewOf(
          appPod({ 'argus.io/inject': 'true' }, { initContainers: [{ name: 'w', image: 'b' }], volumes: [{ name: 'v', emptyDir: {} }] }),
        );
        // Replace 1-3 random nodes of the review with junk.
        for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
          let node = review;
          let key: string | number = 'request';
          for (let depth = 0; depth < 6 && node[key] !== null && typeof node[key] === 'object'; depth++) {
            const keys: string[] = Object.keys(node[key]);
            if (keys.length === 0 || rand() < 0.25) break;
            node = node[key];
            key = Array.isArray(node) ? Number(pick(keys)) : pick(keys);
          }
          node[key] = pick(junk);
        }
        const answer = answerReview(review, cfg);
        assert.equal(answer.body.kind, 'AdmissionReview');
        assert.equal(typeof answer.body.response.allowed, 'boolean');
        assert.ok([200, 400].includes(answer.httpStatus));
        if (answer.body.response.patch !== undefined) {
          applyResponsePatch(review.request.object, answer.body.response);
          injected++;
        }
      }
      assert.ok(injected > 0, 'some fuzzed reviews still inject');
    } finally {
      tls.cleanup();
    }
  });
});

describe('inject webhook: operations', () => {
  it('swaps in a rotated certificate without a restart', async () => {
    const tls = makeCert();
    const server = await startWebhook(tls);
    try {
      const first = await call(server.port, readFileSync(tls.cert), '/healthz');
      assert.equal(server.reloadTls(), false, 'unchanged files: nothing to do');
      makeCert(tls.dir); // cert-manager rewrites the files in place
      assert.equal(server.reloadTls(), true);
      const second = await call(server.port, readFileSync(tls.cert), '/healthz');
      assert.equal(second.status, 200);
      assert.notEqual(second.peerFingerprint, first.peerFingerprint);
    } finally {
      await server.close();
      await server.close(); // idempotent
      tls.cleanup();
    }
  });

  it('exits 2 naming the key when the injector config is invalid', () => {
    const tls = makeCert();
    try {
      const file = join(tls.dir, 'injector.yaml');
      writeFileSync(file, `tls: { cert_file: ${tls.cert}, key_file: ${tls.key} }\nsidecar: { image: x, native: sometimes }\n`);
      const cli = join(REPO_ROOT, 'dist/src/cli.js');
      const bad = spawnSync(process.execPath, [cli, 'inject-webhook', '--config', file], { encoding: 'utf8' });
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, /sidecar\.native/);
      const missing = spawnSync(process.execPath, [cli, 'inject-webhook'], { encoding: 'utf8' });
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /--config FILE is required/);
    } finally {
      tls.cleanup();
    }
  });
});
