/**
 * Pod annotations the injector reads, and what they resolve to.
 *
 * Precedence: annotation > service profile (`argus.io/profile`) > injector config.
 * A value that cannot be honoured is a denial naming the annotation: silently
 * injecting something else (or nothing) would leave the app without the auth the
 * owner asked for.
 */
import { DNS_SUBDOMAIN, QUANTITY, type InjectorConfig, type Resources } from './schema.js';

export const ANNOTATION = {
  /** "true" opts the pod in, "false" opts out; anything else is refused. */
  inject: 'argus.io/inject',
  /** ConfigMap (in the pod's namespace) holding argus.yaml. */
  config: 'argus.io/config',
  /** The app's localhost port; becomes ARGUS_UPSTREAM_PORT. */
  upstreamPort: 'argus.io/upstream-port',
  /** Service preset from the injector config (sibyl, prism, jane…). */
  profile: 'argus.io/profile',
  cpuRequest: 'argus.io/cpu-request',
  cpuLimit: 'argus.io/cpu-limit',
  memoryRequest: 'argus.io/memory-request',
  memoryLimit: 'argus.io/memory-limit',
  /** "true" | "false": override the injector's native-sidecar setting for this pod. */
  nativeSidecar: 'argus.io/native-sidecar',
  /** Written by the injector: "injected". */
  status: 'argus.io/status',
} as const;

/** Label written by the injector so a PodMonitor can find every sidecar. */
export const INJECTED_LABEL = 'argus.io/injected';
/** Name of the injected container; its presence makes injection a no-op (idempotence). */
export const SIDECAR_NAME = 'argus-sidecar';

/** Everything the patch builder needs, resolved and validated. */
export interface InjectionOptions {
  readonly configMap: string;
  readonly upstreamPort: number;
  readonly resources: Resources;
  readonly native: boolean;
  readonly profile: string | undefined;
  readonly env: ReadonlyArray<{ name: string; value: string }>;
}

export type AnnotationOutcome =
  | { readonly kind: 'skip'; readonly reason: string }
  | { readonly kind: 'deny'; readonly message: string }
  | { readonly kind: 'inject'; readonly options: InjectionOptions };

/** Resolve a pod's annotations against the injector config. Never throws. */
export function readAnnotations(annotations: Readonly<Record<string, unknown>>, cfg: Readonly<InjectorConfig>): AnnotationOutcome {
  const get = (name: string): string | undefined => {
    const v = annotations[name];
    return typeof v === 'string' ? v : undefined;
  };
  const inject = get(ANNOTATION.inject);
  if (inject === undefined) return { kind: 'skip', reason: `no ${ANNOTATION.inject} annotation` };
  if (inject === 'false') return { kind: 'skip', reason: `${ANNOTATION.inject} is "false"` };
  if (inject !== 'true') return deny(ANNOTATION.inject, inject, '"true" or "false"');

  const sidecar = cfg.sidecar;
  const profileName = get(ANNOTATION.profile);
  const profile = profileName === undefined ? undefined : cfg.profiles[profileName];
  if (profileName !== undefined && !profile) {
    const known = Object.keys(cfg.profiles);
    return deny(ANNOTATION.profile, profileName, known.length ? `one of ${known.join(', ')}` : 'a profile from the injector config (none configured)');
  }

  const configMap = get(ANNOTATION.config) ?? profile?.config_map ?? sidecar.config_map;
  if (!DNS_SUBDOMAIN.test(configMap)) {
    return deny(ANNOTATION.config, configMap, 'a ConfigMap name (DNS-1123 subdomain)');
  }

  let upstreamPort = profile?.upstream_port ?? sidecar.upstream_port;
  const portText = get(ANNOTATION.upstreamPort);
  if (portText !== undefined) {
    const n = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(n >= 1 && n <= 65535)) return deny(ANNOTATION.upstreamPort, portText, 'a port number 1-65535');
    upstreamPort = n;
  }
  if (upstreamPort === sidecar.listen_port || upstreamPort === sidecar.admin_port) {
    return {
      kind: 'deny',
      message: `${ANNOTATION.upstreamPort}: the app port ${upstreamPort} collides with the sidecar's ports (${sidecar.listen_port}, ${sidecar.admin_port}); move the app or change the injector's sidecar ports`,
    };
  }

  const resources = mergeResources(sidecar.resources, profile?.resources);
  const overrides: Array<[string, 'requests' | 'limits', 'cpu' | 'memory']> = [
    [ANNOTATION.cpuRequest, 'requests', 'cpu'],
    [ANNOTATION.cpuLimit, 'limits', 'cpu'],
    [ANNOTATION.memoryRequest, 'requests', 'memory'],
    [ANNOTATION.memoryLimit, 'limits', 'memory'],
  ];
  for (const [name, section, resource] of overrides) {
    const v = get(name);
    if (v === undefined) continue;
    if (!QUANTITY.test(v)) return deny(name, v, 'a Kubernetes quantity like 250m or 256Mi');
    resources[section] = { ...resources[section], [resource]: v };
  }
  for (const resource of ['cpu', 'memory'] as const) {
    const req = resources.requests?.[resource];
    const lim = resources.limits?.[resource];
    if (req !== undefined && lim !== undefined && quantityValue(req) > quantityValue(lim)) {
      return { kind: 'deny', message: `argus.io/${resource}-request ${req} exceeds the ${resource} limit ${lim}` };
    }
  }

  let native = sidecar.native;
  const nativeText = get(ANNOTATION.nativeSidecar);
  if (nativeText !== undefined) {
    if (nativeText !== 'true' && nativeText !== 'false') return deny(ANNOTATION.nativeSidecar, nativeText, '"true" or "false"');
    native = nativeText === 'true';
  }

  return {
    kind: 'inject',
    options: { configMap, upstreamPort, resources, native, profile: profileName, env: [...sidecar.env, ...(profile?.env ?? [])] },
  };
}

function deny(annotation: string, value: string, expected: string): AnnotationOutcome {
  return { kind: 'deny', message: `${annotation}: expected ${expected}, got ${JSON.stringify(value.slice(0, 64))}` };
}

function mergeResources(base: Resources, preset: Resources | undefined): Resources {
  return {
    requests: { ...base.requests, ...preset?.requests },
    limits: { ...base.limits, ...preset?.limits },
  };
}

const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Numeric value of a quantity already matched by QUANTITY (for request <= limit checks). */
export function quantityValue(q: string): number {
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(q);
  if (!m) return NaN;
  return Number(m[1]) * (SUFFIX[m[2] ?? ''] ?? NaN);
}
