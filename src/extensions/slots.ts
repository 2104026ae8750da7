/**
 * The places where a product extension adds its own words to the core's types,
 * by declaration merging (`declare module '…/extensions/slots.js'`), so the core
 * never names a product. Each extension augments these from its own folder, e.g.
 * an extension's `extension.ts` adds its name to {@link ExtensionConfigs}. At run time the
 * same keys come from the extension's schemas (src/extensions/contract.ts).
 *
 * This file imports nothing: every layer may import it.
 */

/** Top-level config sections, one per extension: `<name>: …` in the config file. */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by each extension
export interface ExtensionConfigs {}

/** Per-route options, one key per extension: `routes[].<name>`. */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by each extension
export interface ExtensionRouteConfigs {}

/**
 * Entitlements a caller's key or user record grants, one key per extension
 * (`<name>: {…}` in the record). Carried opaquely by the core in `AuthContext`
 * under the extension's name; only the extension reads them.
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by each extension
export interface ExtensionEntitlements {}
