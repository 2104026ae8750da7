/**
 * `--<extension> JSON` flags of `keys create` and `users set`: one per registered
 * extension with entitlements (src/extensions/contract.ts), each validated by
 * the extension's own schema.
 */
import '../extensions/registry.js';
import { registeredExtensions } from '../extensions/registered.js';
import type { RouteExtension } from '../extensions/contract.js';
import { UsageError } from '../errors.js';

const withEntitlements = (): RouteExtension[] => registeredExtensions().filter((e) => e.entitlementSchema !== undefined);

/** parseArgs options: `--<name>` takes a string. */
export function entitlementOptions(): Record<string, { type: 'string' }> {
  return Object.fromEntries(withEntitlements().map((e) => [e.name, { type: 'string' as const }]));
}

/** ` [--<name> JSON]` per extension: for usage lines. */
export function entitlementUsage(): string {
  return withEntitlements()
    .map((e) => ` [--${e.name} JSON]`)
    .join('');
}

/** Help lines: `  --<name> JSON  <help>`, aligned. */
export function entitlementHelp(): string[] {
  return withEntitlements().map((e) => `  ${`--${e.name} JSON`.padEnd(16)}${e.entitlementHelp ?? `${e.name} entitlements`}`);
}

/** The record fields the flags give, each parsed by its extension's schema. */
export function entitlementValues(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of withEntitlements()) {
    const text = values[e.name];
    if (typeof text === 'string') out[e.name] = parseJsonFlag(`--${e.name}`, text, e.entitlementSchema!);
  }
  return out;
}

/** A JSON flag validated by a schema; a UsageError names the flag and the failing field. */
export function parseJsonFlag<T>(
  flag: string,
  text: string,
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: Array<string | number>; message: string }> } };
  },
): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new UsageError(`${flag}: not valid JSON`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new UsageError(`${flag}: ${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}
