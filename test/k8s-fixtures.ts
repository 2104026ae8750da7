/**
 * Shared fixtures for the k8s-* tests: a self-signed certificate made with
 * openssl, an injector on port 0 over real HTTPS, AdmissionReview builders, an
 * independent RFC 6902 applier (fast-json-patch) and the Kubernetes schema check
 * (kubernetes-models) plus the API server rules that schema does not encode.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonpatch from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1/Pod';
import { createLogger } from '../src/observe/log.js';
import { parseInjectorConfig } from '../src/inject/schema.js';
import { startInjectorServer, type InjectorServer } from '../src/inject/server.js';

/** Repository root (tests run from dist/test/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface TlsFiles {
  dir: string;
  cert: string;
  key: string;
  cleanup(): void;
}

/** A fresh self-signed certificate for localhost / 127.0.0.1. */
export function makeCert(dir = mkdtempSync(join(tmpdir(), 'argus-k8s-tls-'))): TlsFiles {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { dir, cert, key, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The injector config the tests use, with per-test overrides of `sidecar`. */
export function injectorConfig(tls: TlsFiles, sidecar: Record<string, unknown> = {}) {
  return parseInjectorConfig({
    listen: { host: '127.0.0.1', port: 0 },
    tls: { cert_file: tls.cert, key_file: tls.key, reload_interval_s: 0 },
    sidecar: {
      image: 'registry.example/argus-sidecar:0.1.0',
      secret_env: [{ name: 'ARGUS_REDIS_URL', secret: 'argus-sidecar-secrets', key: 'redis-url' }],
      ...sidecar,
    },
    profiles: {
      sibyl: { upstream_port: 8000 },
      prism: { upstream_port: 4000, config_map: 'argus-prism', resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } } },
      jane: { upstream_port: 7000, config_map: 'argus-jane', env: [{ name: 'ARGUS_TRADING', value: 'true' }] },
    },
  });
}

export async function startWebhook(tls: TlsFiles, sidecar: Record<string, unknown> = {}): Promise<InjectorServer> {
  return startInjectorServer(
    injectorConfig(tls, sidecar),
    createLogger('error', {}, () => {}),
  );
}

export interface HttpsAnswer {
  status: number;
  body: string;
  json: any;
  peerFingerprint: string;
}

/** POST (or GET with body undefined) over real TLS, trusting only `ca`. */
export function call(port: number, ca: Buffer, path: string, body?: string | object): Promise<HttpsAnswer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path,
        ca,
        agent: false,
        method: payload === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
          resolve({ status: res.statusCode ?? 0, body: text, json, peerFingerprint: peer?.fingerprint256 ?? '' });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

let uidCounter = 0;
/** An AdmissionReview v1 request for creating `pod` in namespace `sibyl`. */
export function reviewOf(pod: unknown, request: Record<string, unknown> = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${++uidCounter}-${process.pid}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'sibyl',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      ...request,
    },
  };
}

/** A pod as a ReplicaSet creates it (generateName, no name yet). */
export function appPod(annotations: Record<string, string> = {}, spec: Record<string, unknown> = {}): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'sibyl-api-7d9f8-', namespace: 'sibyl', labels: { app: 'sibyl-api' }, annotations },
    spec: {
      containers: [{ name: 'api', image: 'sibyl/api:1.4.2', ports: [{ name: 'http', containerPort: 8000 }] }],
      ...spec,
    },
  };
}

/** Decode the base64 JSONPatch of a response and apply it to a copy of `pod` (strict RFC 6902). */
export function applyResponsePatch<T>(pod: T, response: { patchType?: string; patch?: string }): any {
  if (response.patchType !== 'JSONPatch' || typeof response.patch !== 'string') throw new Error('response carries no JSONPatch');
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
  return jsonpatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
}

/**
 * Validate against the Kubernetes OpenAPI schema (kubernetes-models), plus the
 * API server's own rules a schema cannot say: unique container and volume names,
 * mounts of existing volumes, restartPolicy only "Always" and only on init containers.
 */
export function assertValidPod(pod: any): void {
  new Pod(pod).validate();
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  const names = all.map((c: any) => c.name);
  if (new Set(names).size !== names.length) throw new Error(`duplicate container names: ${names.join(',')}`);
  const volumes = (pod.spec.volumes ?? []).map((v: any) => v.name);
  if (new Set(volumes).size !== volumes.length) throw new Error(`duplicate volume names: ${volumes.join(',')}`);
  for (const c of all) {
    for (const m of c.volumeMounts ?? []) if (!volumes.includes(m.name)) throw new Error(`${c.name} mounts missing volume ${m.name}`);
  }
  for (const c of pod.spec.containers) if ('restartPolicy' in c) throw new Error(`regular container ${c.name} has restartPolicy`);
  for (const c of pod.spec.initContainers ?? []) {
    if (c.restartPolicy !== undefined && c.restartPolicy !== 'Always') throw new Error(`init container ${c.name}: restartPolicy ${c.restartPolicy}`);
    if (c.restartPolicy !== 'Always' && (c.startupProbe || c.readinessProbe || c.livenessProbe))
      throw new Error(`plain init container ${c.name} may not have probes`);
  }
}
