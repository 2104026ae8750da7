/** A route of the table, compiled once from its `routes[]` entry (src/routes.ts). */
import type { RouteConfig } from './route-schema.js';

export type { RouteConfig };

export interface CompiledRoute {
  readonly cfg: RouteConfig;
  /** Metrics label: the configured pattern (bounded cardinality). */
  readonly label: string;
  readonly index: number;
  readonly exact: string | undefined;
  readonly prefix: string | undefined;
  readonly methods: ReadonlySet<string> | undefined;
  readonly caseInsensitive: boolean;
}
