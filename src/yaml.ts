/**
 * YAML for config files: js-yaml with the YAML 1.2 core schema (null, booleans,
 * numbers, strings; no timestamps, no custom tags), duplicate keys an error.
 * js-yaml is one module: it loads in ~6 ms where `yaml` took ~45 ms, and start-up
 * is most of the `revoke` kill switch's latency (bench/results/2026-12-02-c9312f1/killswitch.md).
 */
import { CORE_SCHEMA, dump, load } from 'js-yaml';

/** Parse one YAML document; an empty document is `null`. Throws on a syntax error (the message gives line and column). */
export function parseYaml(text: string): unknown {
  return load(text, { schema: CORE_SCHEMA }) ?? null;
}

/** Serialise a plain object as YAML (block style, no line folding). */
export function stringifyYaml(value: unknown): string {
  return dump(value, { schema: CORE_SCHEMA, lineWidth: -1, noRefs: true });
}
