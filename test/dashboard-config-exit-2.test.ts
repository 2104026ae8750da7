/**
 * Outcome: a bad `control.dashboard` exits 2 naming the key: a dashboard
 * without `auth.session.cookie`, a plain-http provider URL on a non-loopback
 * host, an unknown `signup_tier`, a provider without its client secret.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, writeConfig } from './support/spawn.js';

const base = 'upstream: { url: http://127.0.0.1:1 }\nroutes:\n  - path: /*\n';
const session = 'auth: { session: { secret: dashboard-secret-0123456789, cookie: argus_session } }\n';
const github = 'github: { client_id: a, client_secret: b }';

describe('dashboard config errors exit 2 naming the key', () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'no auth.session.cookie',
      `${base}auth: { session: { secret: dashboard-secret-0123456789 } }\ncontrol: { dashboard: { public_url: https://argus.example, ${github} } }\n`,
      /auth\.session\.cookie: required by control\.dashboard/,
    ],
    [
      'http provider URL off loopback',
      `${base}${session}control: { dashboard: { public_url: https://argus.example, google: { issuer: http://accounts.example, client_id: a, client_secret: b } } }\n`,
      /control\.dashboard\.google\.issuer: must be https/,
    ],
    [
      'unknown signup tier',
      `${base}${session}control: { dashboard: { public_url: https://argus.example, signup_tier: golden, ${github} } }\n`,
      /control\.dashboard\.signup_tier: unknown tier "golden"/,
    ],
    [
      'no client secret',
      `${base}${session}control: { dashboard: { public_url: https://argus.example, github: { client_id: a } } }\n`,
      /control\.dashboard\.github\.client_secret: required/,
    ],
  ];
  for (const [name, yaml, message] of cases) {
    it(name, async () => {
      const r = await runCli(['proxy', '--config', writeConfig(yaml)]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});
