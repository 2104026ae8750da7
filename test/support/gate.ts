/**
 * The gate under attack: a real sidecar (uWS, in this process) with an `auth: none`
 * route `/pub/*` and a `role: admin` route `/admin/*` in front of an upstream that
 * records the bytes it received, plus two API keys (admin, non-admin).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey } from '../../src/authenticate/index.js';
import { startRawUpstream, type RawUpstream } from './raw-upstream.js';
import { startTestProxy, type TestProxy } from './proxy.js';

export interface Gate {
  readonly proxy: TestProxy;
  readonly up: RawUpstream;
  /** Credential headers ("X-Api-Key: …\r\n") per identity. */
  readonly ids: { readonly anonymous: string; readonly user: string; readonly admin: string };
  close(): Promise<void>;
}

/** The identity headers issue 20 names, spelled as a client would send them (the sidecar strips these and more: src/forward/strip.ts). */
export const FORGEABLE_IDENTITY_HEADERS = [
  'X-User-Id',
  'X-Forwarded-User',
  'X-Auth-User',
  'X-Auth-Request-User',
  'X-Remote-User',
  'Remote-User',
  'X-Cognito-Session-Verified',
  'X-Real-IP',
  'X-Original-URL',
  'X-Rewrite-URL',
  'X-Forwarded-Port',
  'X-Forwarded-Uri',
  'X-Forwarded-Prefix',
  'Forwarded',
] as const;

export const GATE_ROUTES = [
  { path: '/pub/*', auth: 'none' },
  { path: '/admin/*', auth: 'required', role: 'admin' },
];

export async function startGate(opts: { routes?: unknown[]; server?: Record<string, unknown>; extra?: Record<string, unknown> } = {}): Promise<Gate> {
  const dir = mkdtempSync(join(tmpdir(), 'argus-gate-'));
  const admin = generateApiKey();
  const user = generateApiKey();
  const file = join(dir, 'keys.yaml');
  writeFileSync(
    file,
    `- { key_id: ${admin.key_id}, sha256: ${admin.sha256}, user_id: u_admin, tier: business, role: admin }\n- { key_id: ${user.key_id}, sha256: ${user.sha256}, user_id: u_user, tier: business }\n`,
  );
  const up = await startRawUpstream();
  const proxy = await startTestProxy({
    upstream: { url: up.url },
    auth: { api_keys: { file } },
    ratelimit: { enabled: false },
    ...(opts.server ? { server: opts.server } : {}),
    routes: opts.routes ?? GATE_ROUTES,
    ...opts.extra,
  });
  return {
    proxy,
    up,
    ids: { anonymous: '', user: `X-Api-Key: ${user.key}\r\n`, admin: `X-Api-Key: ${admin.key}\r\n` },
    close: async () => {
      await proxy.stop();
      await up.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
