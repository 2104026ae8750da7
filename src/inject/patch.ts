/**
 * Decide what to do with one pod and build the RFC 6902 JSON Patch that injects
 * the sidecar. Pure: no I/O, never throws on any input shape.
 */
import { ANNOTATION, INJECTED_LABEL, SIDECAR_NAME, readAnnotations } from './annotations.js';
import type { InjectorConfig } from './schema.js';
import { SOCKET_ENV, VOLUME, sidecarContainer, sidecarVolumes, socketEnv, socketMount, type JsonObject } from './sidecar.js';

export interface PatchOp {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

export type PodDecision =
  | { readonly kind: 'skip'; readonly reason: string }
  | { readonly kind: 'deny'; readonly message: string }
  | { readonly kind: 'inject'; readonly patch: PatchOp[]; readonly native: boolean };

/**
 * What to do with `pod` (a core/v1 Pod as the API server sent it):
 * skip (not opted in, opted out, already injected), deny (a bad annotation or a
 * collision with the pod's own ports/volumes), or inject with a patch.
 */
export function decidePod(pod: unknown, cfg: Readonly<InjectorConfig>): PodDecision {
  if (!isObject(pod)) return { kind: 'deny', message: 'request.object: expected a Pod object' };
  const metadata = isObject(pod.metadata) ? pod.metadata : {};
  const spec = pod.spec;
  if (!isObject(spec) || !Array.isArray(spec.containers) || spec.containers.length === 0) {
    return { kind: 'deny', message: 'request.object.spec.containers: expected a non-empty array' };
  }
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const containers = spec.containers.filter(isObject);
  const initContainers = Array.isArray(spec.initContainers) ? spec.initContainers.filter(isObject) : [];
  // Idempotence rests on the container, not the status annotation: a copied
  // annotation must not stop injection, a present sidecar must stop a second one.
  if ([...containers, ...initContainers].some((c) => c.name === SIDECAR_NAME)) {
    return { kind: 'skip', reason: `already has a container named ${SIDECAR_NAME}` };
  }

  const outcome = readAnnotations(annotations, cfg);
  if (outcome.kind !== 'inject') return outcome;
  const { options } = outcome;

  const sidecarPorts = new Set([cfg.sidecar.listen_port, cfg.sidecar.admin_port]);
  for (const c of [...containers, ...initContainers]) {
    for (const p of Array.isArray(c.ports) ? c.ports.filter(isObject) : []) {
      if (typeof p.containerPort === 'number' && sidecarPorts.has(p.containerPort)) {
        return { kind: 'deny', message: `container ${String(c.name)} declares port ${p.containerPort}, which the Argus sidecar listens on` };
      }
    }
  }
  const volumes = Array.isArray(spec.volumes) ? spec.volumes.filter(isObject) : [];
  const taken = volumes.map((v) => v.name).find((n) => Object.values(VOLUME).includes(n as never));
  if (taken !== undefined) return { kind: 'deny', message: `spec.volumes: the name ${String(taken)} is reserved for the Argus sidecar` };

  const mount = socketMount(cfg.sidecar);
  const clash = mount && containers.find((c) => Array.isArray(c.volumeMounts) && c.volumeMounts.some((m) => isObject(m) && m.mountPath === mount.mountPath));
  if (clash)
    return {
      kind: 'deny',
      message: `container ${String(clash.name)} already mounts ${String(mount!.mountPath)}, where the Argus sidecar shares the upstream socket`,
    };

  const container = sidecarContainer(cfg.sidecar, options);
  // Before the sidecar is inserted: these paths use the app containers' own indexes.
  const apps = containers.length === spec.containers.length ? containers : [];
  const patch: PatchOp[] = [...shutdownOrder(spec, apps, cfg), ...shareSocket(apps, cfg)];
  if (options.native) {
    // Appended: the app's own init containers (migrations, waits) run first and
    // never depend on the proxy; the app's containers then wait for its startup probe.
    patch.push(Array.isArray(spec.initContainers) ? add('/spec/initContainers/-', container) : add('/spec/initContainers', [container]));
  } else {
    // First, so that the kubelet runs its postStart hold before starting the app.
    patch.push(add('/spec/containers/0', container));
  }
  const newVolumes = sidecarVolumes(cfg.sidecar, options);
  if (Array.isArray(spec.volumes)) for (const v of newVolumes) patch.push(add('/spec/volumes/-', v));
  else patch.push(add('/spec/volumes', newVolumes));
  patch.push(...setMapEntry(metadata, 'annotations', ANNOTATION.status, 'injected'));
  patch.push(...setMapEntry(metadata, 'labels', INJECTED_LABEL, 'true'));
  return { kind: 'inject', patch, native: options.native };
}

/**
 * Shutdown order (both modes). With native sidecars the kubelet stops the app
 * first and the sidecar after it; as a regular container the sidecar gets SIGTERM
 * together with the app and keeps forwarding for its server.drain_delay_ms. Either
 * way the app must keep serving a few seconds after its SIGTERM: app containers
 * with no preStop of their own get a `sleep` preStop, and the pod's grace period
 * is raised to cover app + sidecar drains.
 */
function shutdownOrder(spec: JsonObject, containers: JsonObject[], cfg: Readonly<InjectorConfig>): PatchOp[] {
  const ops: PatchOp[] = [];
  const sleep = cfg.sidecar.app_prestop_sleep_s;
  if (sleep > 0) {
    containers.forEach((c, i) => {
      const preStop = { sleep: { seconds: sleep } };
      if (!isObject(c.lifecycle)) ops.push(add(`/spec/containers/${i}/lifecycle`, { preStop }));
      else if (c.lifecycle.preStop === undefined) ops.push(add(`/spec/containers/${i}/lifecycle/preStop`, preStop));
    });
  }
  const grace = typeof spec.terminationGracePeriodSeconds === 'number' ? spec.terminationGracePeriodSeconds : 30;
  if (grace < cfg.sidecar.termination_grace_period_s) ops.push(add('/spec/terminationGracePeriodSeconds', cfg.sidecar.termination_grace_period_s));
  return ops;
}

/** With `sidecar.upstream_socket`: every app container mounts the socket volume and sees ARGUS_UPSTREAM_SOCKET. */
function shareSocket(containers: JsonObject[], cfg: Readonly<InjectorConfig>): PatchOp[] {
  const mount = socketMount(cfg.sidecar);
  const env = socketEnv(cfg.sidecar);
  if (!mount || !env) return [];
  const ops: PatchOp[] = [];
  containers.forEach((c, i) => {
    ops.push(Array.isArray(c.volumeMounts) ? add(`/spec/containers/${i}/volumeMounts/-`, mount) : add(`/spec/containers/${i}/volumeMounts`, [mount]));
    // An app that names the socket itself keeps its own value.
    if (!Array.isArray(c.env)) ops.push(add(`/spec/containers/${i}/env`, [env]));
    else if (!c.env.some((e) => isObject(e) && e.name === SOCKET_ENV)) ops.push(add(`/spec/containers/${i}/env/-`, env));
  });
  return ops;
}

function setMapEntry(metadata: JsonObject, field: 'annotations' | 'labels', key: string, value: string): PatchOp[] {
  // metadata exists here: the opt-in annotation was read from it.
  if (isObject(metadata[field])) return [add(`/metadata/${field}/${escapePointer(key)}`, value)];
  return [add(`/metadata/${field}`, { [key]: value })];
}

/** RFC 6901: "~" -> "~0", "/" -> "~1". */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function add(path: string, value: unknown): PatchOp {
  return { op: 'add', path, value };
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
