/**
 * Postgres side of org records (table `orgs`, migration 007_orgs), projected
 * into Redis `<prefix>auth:org:<org_id>` in the user record's format
 * (src/authenticate/records.ts `userRecordSchema`): API keys that belong to an
 * org inherit its tier and entitlements at verification time.
 */
import type { UserRecord } from '../authenticate/records.js';

export interface OrgRow {
  org_id: string;
  name: string;
  tier: string | null;
  features: string[] | null;
  scopes: string[] | null;
  requests_per_minute: number | null;
  llm: UserRecord['llm'] | null;
  trading: UserRecord['trading'] | null;
  status: 'active' | 'deleted';
  version: string;
  projected_version: string;
  created_at: Date;
  updated_at: Date;
}

/** A row as the record projected into Redis: only the fields records.ts reads, absent when null. */
export function orgRowToRecord(r: OrgRow): UserRecord {
  return {
    ...(r.tier !== null && { tier: r.tier }),
    ...(r.features !== null && { features: r.features }),
    ...(r.scopes !== null && { scopes: r.scopes }),
    ...(r.requests_per_minute !== null && { requests_per_minute: r.requests_per_minute }),
    ...(r.llm !== null && { llm: r.llm }),
    ...(r.trading !== null && { trading: r.trading }),
  };
}
