/**
 * `keys create --standalone FILE`: add a key to a standalone key file
 * (`auth.api_keys.file`, format: src/authenticate/schema.ts) without Postgres.
 * The record (SHA-256 of the key, never the key) is appended as one YAML list
 * item; the result is parsed back before it is written, so a file that is not a
 * plain YAML list is left untouched and the record is shown to add by hand.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { parseYaml } from '../yaml.js';
import type { KeyRecord } from '../authenticate/records.js';

/** One YAML list item for `rec` (nested values in flow style, which is JSON). */
export function keyRecordYaml(rec: KeyRecord & { sha256: string }): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    lines.push(`${lines.length === 0 ? '- ' : '  '}${k}: ${JSON.stringify(v)}`);
  }
  return lines.join('\n') + '\n';
}

/** Append `rec` to `file` (created when missing). Throws UsageError when the result would not be a key list. */
export function appendKeyRecord(file: string, rec: KeyRecord & { sha256: string }): void {
  const item = keyRecordYaml(rec);
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '# Standalone API keys (auth.api_keys.file): SHA-256 digests only.\n';
  const after = before + (before === '' || before.endsWith('\n') ? '' : '\n') + item;
  let parsed: unknown;
  try {
    parsed = parseYaml(after);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.some((r: { sha256?: unknown } | null) => r?.sha256 === rec.sha256)) {
    throw new UsageError(`--standalone: ${file} is not a plain YAML list of key records; nothing was written. Add this record to it by hand:\n${item}`);
  }
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, after, { mode: 0o600 });
  renameSync(tmp, file);
}
