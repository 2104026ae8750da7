// Config schema of the `control:` section (keys: docs/configuration.md), read
// only by `argus-sidecar control` (src/control/). It lives outside src/control/
// so that validating a proxy's config loads no control-plane module.
import { z } from 'zod';
import { dashboardSchema } from './dashboard-schema.js';

const portNumber = z.preprocess((v) => (typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v), z.number().int().min(0).max(65535));
const listener = (host: string, port: number) =>
  z
    .object({
      host: z.string().min(1).default(host),
      port: portNumber.default(port),
    })
    .strict()
    .default({});

export const controlSchema = z
  .object({
    /** The REST API (`/v1`, `/openapi.json`): keep it inside the cluster. */
    internal: listener('0.0.0.0', 8070),
    /** Public endpoints (`/healthz` now; webhooks and sign-in pages later). */
    public: listener('0.0.0.0', 8071),
    /** `/healthz`, `/readyz`, `/metrics` of the control process. */
    admin: listener('0.0.0.0', 9092),
    /** SIGTERM: in-flight API requests may take this long to finish before the process exits. */
    drain_timeout_ms: z.number().int().nonnegative().default(10000),
    /** How often the reconciler re-projects rows committed but not yet projected into Redis. */
    reconcile_interval_ms: z.number().int().positive().default(1000),
    /** How often the reconciler compares every user, org and key projection with Postgres (restores what Redis lost). */
    sweep_interval_ms: z.number().int().positive().default(60000),
    /** Role of a platform administrator (or scope `argus:admin`). */
    admin_role: z.string().min(1).default('admin'),
    /** Lifetime of a session minted by `POST /v1/sessions` when the request names none, seconds (at most auth.session.max_age_s). */
    session_ttl_s: z.number().int().positive().default(3600),
    /** Lifetime of an org invitation, seconds. */
    invitation_ttl_s: z
      .number()
      .int()
      .positive()
      .default(7 * 86400),
    /** How long an `Idempotency-Key` is remembered, seconds. */
    idempotency_ttl_s: z.number().int().positive().default(86400),
    /** Requests the API serves at once; more wait (Postgres pool size). */
    max_connections: z.number().int().positive().default(10),
    /** The MCP server (`/mcp` on the internal listener, `argus-sidecar mcp --stdio`): docs/mcp.md. */
    mcp: z
      .object({
        /** The URL agents reach `/mcp` at (the RFC 9728 `resource`); default: the request's own origin + `/mcp`. */
        resource_url: z.string().url().optional(),
        /** RFC 9728 `authorization_servers`; default: `[auth.jwt.issuer]` when set (Cognito). */
        authorization_servers: z.array(z.string().url()).optional(),
      })
      .strict()
      .default({}),
    /** Sign-in and account pages on the public listener (docs/dashboard.md); absent: no dashboard. */
    dashboard: dashboardSchema.optional(),
  })
  .strict();

export type ControlConfig = z.infer<typeof controlSchema>;
