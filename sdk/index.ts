/** The Argus control plane SDK (sdk/README.md). */
export { createArgusClient, type ArgusClient, type ArgusClientOptions, type ArgusError, type ArgusResult, type CreateOptions } from './client.js';
export type { components, operations, paths } from './schema.js';
