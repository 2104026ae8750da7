/** The config a metering part reads: its `metering:` section and where Redis is. */
import type { RedisConfig } from '../clients/redis-schema.js';
import type { MeteringConfig } from './schema.js';

export interface MeteringSlice {
  readonly metering: MeteringConfig;
  readonly redis?: RedisConfig | undefined;
}
