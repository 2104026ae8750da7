/**
 * The sidecar container and volumes the injector adds to a pod.
 *
 * The container is built to pass the restricted Pod Security Standard: non-root,
 * no privilege escalation, ALL capabilities dropped, RuntimeDefault seccomp and a
 * read-only root filesystem (the spool and /tmp live on emptyDir volumes).
 */
import { SIDECAR_NAME, type InjectionOptions } from './annotations.js';
import type { SidecarConfig } from './schema.js';

/** Where the ConfigMap is mounted; the proxy runs with `--config CONFIG_DIR/<config_key>`. */
export const CONFIG_DIR = '/etc/argus';
/** Writable state (metering spool): point `metering.spool_dir` below it. */
export const DATA_DIR = '/var/lib/argus';

/** Volume names the injector owns; a pod that already uses one is refused. */
export const VOLUME = { config: 'argus-sidecar-config', data: 'argus-sidecar-data', tmp: 'argus-sidecar-tmp', socket: 'argus-sidecar-socket' } as const;

/** The variable naming the upstream socket (`sidecar.upstream_socket`), in the sidecar and the app containers. */
export const SOCKET_ENV = 'ARGUS_UPSTREAM_SOCKET';

/** The socket volume's mount, for the sidecar and every app container (none without `upstream_socket`). */
export function socketMount(sidecar: SidecarConfig): JsonObject | undefined {
  return sidecar.upstream_socket && { name: VOLUME.socket, mountPath: sidecar.upstream_socket.dir };
}

/** `ARGUS_UPSTREAM_SOCKET` for the sidecar and every app container (none without `upstream_socket`). */
export function socketEnv(sidecar: SidecarConfig): JsonObject | undefined {
  const s = sidecar.upstream_socket;
  return s && { name: SOCKET_ENV, value: `${s.dir}/${s.file}` };
}

export type JsonObject = Record<string, unknown>;

/** The sidecar container spec (Kubernetes core/v1 Container). */
export function sidecarContainer(sidecar: SidecarConfig, opts: InjectionOptions): JsonObject {
  const readyz = { httpGet: { path: '/readyz', port: sidecar.admin_port, scheme: 'HTTP' } };
  const container: JsonObject = {
    name: SIDECAR_NAME,
    image: sidecar.image,
    imagePullPolicy: sidecar.image_pull_policy,
    args: ['proxy', '--config', `${CONFIG_DIR}/${sidecar.config_key}`],
    ports: [
      { name: 'argus-http', containerPort: sidecar.listen_port, protocol: 'TCP' },
      { name: 'argus-admin', containerPort: sidecar.admin_port, protocol: 'TCP' },
    ],
    env: sidecarEnv(sidecar, opts),
    resources: pruneEmpty(opts.resources),
    volumeMounts: [
      { name: VOLUME.config, mountPath: CONFIG_DIR, readOnly: true },
      { name: VOLUME.data, mountPath: DATA_DIR },
      { name: VOLUME.tmp, mountPath: '/tmp' },
      ...optional(socketMount(sidecar)),
    ],
    // Native sidecars gate the app's containers on this probe (KEP-753).
    startupProbe: { ...readyz, periodSeconds: sidecar.startup.period_s, failureThreshold: sidecar.startup.failure_threshold, timeoutSeconds: 1 },
    readinessProbe: { ...readyz, periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 1 },
    livenessProbe: { httpGet: { path: '/healthz', port: sidecar.admin_port, scheme: 'HTTP' }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: sidecar.run_as_user,
      runAsGroup: sidecar.run_as_user,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  if (opts.native) {
    container.restartPolicy = 'Always';
  } else if (sidecar.hold_application) {
    // The kubelet starts regular containers in order and waits for each postStart
    // hook, so a hook that polls /readyz holds the app until the sidecar is ready.
    const budgetMs = sidecar.startup.period_s * sidecar.startup.failure_threshold * 1000;
    container.lifecycle = { postStart: { exec: { command: ['node', '-e', holdScript(sidecar.admin_port, budgetMs)] } } };
  }
  return container;
}

/** The volumes mounted by {@link sidecarContainer}. */
export function sidecarVolumes(sidecar: SidecarConfig, opts: InjectionOptions): JsonObject[] {
  return [
    { name: VOLUME.config, configMap: { name: opts.configMap, items: [{ key: sidecar.config_key, path: sidecar.config_key }] } },
    { name: VOLUME.data, emptyDir: { sizeLimit: '1Gi' } },
    { name: VOLUME.tmp, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    // The socket file only: tmpfs, nothing is written through it.
    ...optional(sidecar.upstream_socket && { name: VOLUME.socket, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }),
  ];
}

function optional(v: JsonObject | undefined): JsonObject[] {
  return v === undefined ? [] : [v];
}

function sidecarEnv(sidecar: SidecarConfig, opts: InjectionOptions): JsonObject[] {
  const env: JsonObject[] = [
    { name: 'ARGUS_UPSTREAM_PORT', value: String(opts.upstreamPort) },
    { name: 'ARGUS_SERVICE', value: opts.profile ?? 'default' },
    { name: 'ARGUS_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'ARGUS_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ...optional(socketEnv(sidecar)),
  ];
  for (const e of opts.env) env.push({ name: e.name, value: e.value });
  for (const s of sidecar.secret_env) {
    env.push({ name: s.name, valueFrom: { secretKeyRef: { name: s.secret, key: s.key, optional: s.optional } } });
  }
  // Later entries win in Kubernetes too, but duplicates are confusing: keep the last.
  const seen = new Set<string>();
  return env
    .reverse()
    .filter((e) => !seen.has(e.name as string) && seen.add(e.name as string))
    .reverse();
}

function pruneEmpty(resources: InjectionOptions['resources']): JsonObject {
  const out: JsonObject = {};
  if (resources.requests && Object.keys(resources.requests).length) out.requests = resources.requests;
  if (resources.limits && Object.keys(resources.limits).length) out.limits = resources.limits;
  return out;
}

function holdScript(port: number, budgetMs: number): string {
  return [
    "const http=require('node:http');",
    `const end=Date.now()+${budgetMs};`,
    'function retry(){if(Date.now()>end)process.exit(1);setTimeout(poll,250);}',
    `function poll(){http.get({host:'127.0.0.1',port:${port},path:'/readyz',timeout:1000},(r)=>{r.resume();if(r.statusCode===200)process.exit(0);retry();}).on('error',retry).on('timeout',function(){this.destroy();});}`,
    'poll();',
  ].join('');
}
