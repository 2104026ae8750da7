/** Config schema of the `auth:` section (contract: ARCHITECTURE.md §4). */
import { z } from 'zod';

export const authSchema = z.object({
  jwt: z.object({
    jwks_url: z.string().min(1).optional(),
    jwks_file: z.string().min(1).optional(),
    issuer: z.string().min(1).optional(),
    audience: z.union([z.string(), z.array(z.string())]).optional(),
    algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1).default(['RS256', 'ES256']),
    leeway_s: z.number().int().nonnegative().default(30),
  }).strict().optional(),
  api_keys: z.object({
    header: z.string().min(1).default('x-api-key'),
    /** Standalone mode: a file of key records with SHA-256 digests. */
    file: z.string().min(1).optional(),
  }).strict().default({}),
  session: z.object({
    header: z.string().min(1).default('x-cognito-session'),
    secret: z.string().min(16),
    max_age_s: z.number().int().positive().default(3600),
  }).strict().optional(),
  cache: z.object({
    ttl_ms: z.number().int().positive().default(5000),
    negative_ttl_ms: z.number().int().positive().default(1000),
    max_entries: z.number().int().positive().default(100000),
  }).strict().default({}),
}).strict();

export type AuthConfig = z.infer<typeof authSchema>;
