/**
 * Start the registered extensions for one proxy thread: each extension some
 * route uses gets its runtime (src/extensions/contract.ts), in registration
 * order; the pipeline receives them by route index.
 */
import type { RedisConfig } from '../clients/redis-schema.js';
import type { RouteConfig } from '../request/route.js';
import type { ExtensionDeps, ExtensionRuntime } from './contract.js';
import { registeredExtensions } from './registered.js';

export interface StartedExtensions {
  /** By route index: the runtimes of the extensions the route uses, in registration order. */
  readonly byRoute: readonly (readonly ExtensionRuntime[])[];
  /** By route index: the route records usage (`meter`, or an extension that meters). */
  readonly meters: readonly boolean[];
  /** By route index: an extension closes the route's WebSocket sessions when re-validation is impossible. */
  readonly sessionsFailClosed: readonly boolean[];
  /** Shutdown steps, in start order. */
  readonly closers: ReadonlyArray<readonly [name: string, close: () => Promise<unknown> | unknown]>;
}

/** `cfg`: the routes, the extensions' sections (by name), Redis's key prefix, the metering service name. */
export function startExtensions(
  cfg: { readonly routes: readonly RouteConfig[]; readonly redis?: RedisConfig | undefined; readonly metering: { readonly service: string } },
  deps: Omit<ExtensionDeps, 'config' | 'keyPrefix' | 'service'>,
): StartedExtensions {
  const byRoute: ExtensionRuntime[][] = cfg.routes.map(() => []);
  const closers: Array<readonly [string, () => Promise<unknown> | unknown]> = [];
  const sections = cfg as unknown as Readonly<Record<string, unknown>>;
  for (const ext of registeredExtensions()) {
    const used = cfg.routes.map((r) => ext.usedBy(r));
    if (!ext.start || !used.includes(true)) continue;
    const runtime = ext.start({ ...deps, config: sections[ext.name], keyPrefix: cfg.redis?.key_prefix ?? 'argus:', service: cfg.metering.service });
    for (let i = 0; i < used.length; i++) if (used[i]) byRoute[i]!.push(runtime);
    const close = runtime.close;
    if (close) closers.push([ext.name, () => close.call(runtime)]);
  }
  const meters = cfg.routes.map((r) => r.meter || registeredExtensions().some((e) => e.meters && e.usedBy(r)));
  const sessionsFailClosed = cfg.routes.map((r) => registeredExtensions().some((e) => e.sessionsFailClosed && e.usedBy(r)));
  return { byRoute, meters, sessionsFailClosed, closers };
}
