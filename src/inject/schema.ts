/**
 * Config of `argus-sidecar inject-webhook` (its own YAML file, not argus.yaml).
 *
 * The webhook needs no upstream, routes or secrets, so it does not share the
 * proxy's schema; the Helm chart renders this file into the webhook's ConfigMap.
 * Unknown keys are errors, like in argus.yaml, and every problem names the key.
 */
import { readFileSync } from 'node:fs';
import { parseYaml } from '../yaml.js';
import { z } from 'zod';
import { UsageError } from '../errors.js';

/** Kubernetes resource quantity (`100m`, `128Mi`, `0.5`, `1e3`). */
export const QUANTITY = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/;
/** DNS-1123 label: container, ConfigMap and profile names. */
export const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/** DNS-1123 subdomain: ConfigMap and Secret names. */
export const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const quantity = z.string().regex(QUANTITY, 'expected a Kubernetes quantity like 100m or 128Mi');
const resourceList = z.object({ cpu: quantity.optional(), memory: quantity.optional() }).strict();
const resourcesSchema = z.object({ requests: resourceList.optional(), limits: resourceList.optional() }).strict();
const port = z.number().int().min(1).max(65535);

const envSchema = z.object({ name: z.string().regex(ENV_NAME), value: z.string() }).strict();
const secretEnvSchema = z
  .object({
    /** Environment variable the sidecar sees (referenced as `${NAME}` in argus.yaml). */
    name: z.string().regex(ENV_NAME),
    /** Secret in the *pod's* namespace. */
    secret: z.string().regex(DNS_SUBDOMAIN),
    key: z.string().min(1),
    optional: z.boolean().default(false),
  })
  .strict();

/** What a service profile (sibyl, prism, jane…) may preset; annotations still win. */
const profileSchema = z
  .object({
    config_map: z.string().regex(DNS_SUBDOMAIN).optional(),
    upstream_port: port.optional(),
    resources: resourcesSchema.optional(),
    env: z.array(envSchema).default([]),
  })
  .strict();

export const sidecarSchema = z
  .object({
    image: z.string().min(1),
    image_pull_policy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
    /**
     * true: native sidecar (init container with restartPolicy Always, Kubernetes >= 1.29);
     * false: regular container, for older clusters. Annotation argus.io/native-sidecar overrides.
     */
    native: z.boolean().default(true),
    /** Container mode only: a postStart hook holds the app's start until /readyz answers. */
    hold_application: z.boolean().default(true),
    config_map: z.string().regex(DNS_SUBDOMAIN).default('argus-sidecar-config'),
    config_key: z.string().min(1).default('argus.yaml'),
    /** The app's port on localhost; exported as ARGUS_UPSTREAM_PORT for argus.yaml. */
    upstream_port: port.default(3000),
    /**
     * A Unix-domain-socket upstream: an emptyDir mounted at `dir` in the sidecar and in
     * every app container, and ARGUS_UPSTREAM_SOCKET=`dir`/`file` exported to both, for
     * `upstream.url: unix:${ARGUS_UPSTREAM_SOCKET}` (docs/operations.md, "Unix-socket upstream").
     */
    upstream_socket: z
      .object({
        dir: z.string().regex(/^\/[^:\0]*[^/]$/, 'expected an absolute directory path (no ":", no trailing "/")'),
        file: z.string().regex(/^[^/\0:]+$/, 'expected a file name'),
      })
      .strict()
      .optional(),
    listen_port: port.default(8080),
    admin_port: port.default(9090),
    run_as_user: z.number().int().min(1).default(10001),
    resources: resourcesSchema.default({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } }),
    env: z.array(envSchema).default([]),
    secret_env: z.array(secretEnvSchema).default([]),
    /**
     * Shutdown order. The app must keep serving while the sidecar still forwards to
     * it: app containers without a preStop hook get a `sleep` preStop of this many
     * seconds (the endpoint leaves the load balancers meanwhile; Kubernetes >= 1.30,
     * 0 = add none). See helm/argus-sidecar/README.md "Shutdown order".
     */
    app_prestop_sleep_s: z.number().int().min(0).max(300).default(5),
    /**
     * Pods whose terminationGracePeriodSeconds (default 30) is lower are raised to this:
     * app preStop + the app's own shutdown + the sidecar's server.drain_timeout_ms + 1 s.
     */
    termination_grace_period_s: z.number().int().min(1).default(45),
    /** Startup probe budget: the app waits at most period_s * failure_threshold. */
    startup: z
      .object({
        period_s: z.number().int().min(1).default(1),
        failure_threshold: z.number().int().min(1).default(120),
      })
      .strict()
      .default({}),
  })
  .strict();

export const injectorSchema = z
  .object({
    listen: z
      .object({ host: z.string().min(1).default('0.0.0.0'), port: z.number().int().min(0).max(65535).default(8443) })
      .strict()
      .default({}),
    tls: z
      .object({
        cert_file: z.string().min(1),
        key_file: z.string().min(1),
        /** How often the files are re-read (cert-manager rotates them in place). 0: never. */
        reload_interval_s: z.number().int().nonnegative().default(300),
      })
      .strict(),
    sidecar: sidecarSchema,
    profiles: z.record(z.string().regex(DNS_LABEL), profileSchema).default({}),
    /** Largest AdmissionReview body accepted (the API server caps objects near 3 MiB). */
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
      .strict()
      .default({}),
  })
  .strict();

export type InjectorConfig = z.infer<typeof injectorSchema>;
export type SidecarConfig = z.infer<typeof sidecarSchema>;
export type ProfileConfig = z.infer<typeof profileSchema>;
export type Resources = z.infer<typeof resourcesSchema>;

/** Validate a parsed injector config; throws UsageError naming each bad key. */
export function parseInjectorConfig(raw: unknown): Readonly<InjectorConfig> {
  const result = injectorSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map(
      (i) => `  ${i.path.join('.') || '(root)'}: ${i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.join(', ')}` : i.message}`,
    );
    throw new UsageError(`inject-webhook config: invalid configuration\n${lines.join('\n')}`);
  }
  return Object.freeze(result.data);
}

/** Read and validate the injector YAML file. Throws UsageError (exit 2). */
export function loadInjectorConfig(file: string): Readonly<InjectorConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`inject-webhook config: cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new UsageError(`inject-webhook config: ${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseInjectorConfig(raw);
}
