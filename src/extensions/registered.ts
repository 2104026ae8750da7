/**
 * The extensions this process runs, in registration order (the order their
 * hooks run). The core reads this list; `src/extensions/registry.ts` fills it
 * with the product verticals, and a test may add its own.
 */
import type { RouteConfig } from '../request/route-schema.js';
import { registerErrorCodes } from '../errors.js';
import type { RouteExtension } from './contract.js';

const list: RouteExtension[] = [];
let generation = 0;

/** Add an extension: its error codes join the one table, its schemas the config. Throws on a duplicate name. */
export function registerExtension(ext: RouteExtension): void {
  if (list.some((e) => e.name === ext.name)) throw new Error(`extension ${ext.name} is already registered`);
  if (ext.errors) registerErrorCodes(ext.errors);
  list.push(ext);
  generation++;
}

/** Every registered extension. */
export function registeredExtensions(): readonly RouteExtension[] {
  return list;
}

/** Changes whenever an extension is registered (config schemas are rebuilt then). */
export function registrationGeneration(): number {
  return generation;
}

/** The extensions a route uses. */
export function extensionsOf(route: RouteConfig): RouteExtension[] {
  return list.filter((e) => e.usedBy(route));
}

/** Some extension of this route refuses rather than trust a cache while Redis is away. */
export function extensionFailsClosed(route: RouteConfig): boolean {
  for (const e of list) if (e.failsClosed && e.usedBy(route)) return true;
  return false;
}
