/**
 * Every key path of a zod schema, for docs/configuration.md: objects give
 * `a.b`, arrays of objects `a[].b`, records `a.<name>.b`; optional, nullable,
 * default, effects (refine/transform/preprocess), pipelines, lazies and unions
 * are looked through. Each path comes with the default zod fills in, if any.
 */
import type { z } from 'zod';

export interface KeyPath {
  path: string;
  /** JSON of the default value, or undefined when the key has none. */
  default?: string;
  /** True when the key must be given (no default, not optional). */
  required: boolean;
  /** A short type description: string, number, boolean, enum values, object, array, record. */
  type: string;
}

export function configKeyPaths(schema: z.ZodTypeAny): KeyPath[] {
  const out = new Map<string, KeyPath>();
  walk(schema, '', out, { required: true });
  return [...out.values()];
}

interface Flags {
  required: boolean;
  default?: string;
}

function walk(s: z.ZodTypeAny, prefix: string, out: Map<string, KeyPath>, flags: Flags): void {
  const def = s._def as { typeName?: string } & Record<string, unknown>;
  switch (def.typeName) {
    case 'ZodOptional':
    case 'ZodNullable':
      return walk((s as z.ZodOptional<z.ZodTypeAny>).unwrap(), prefix, out, { ...flags, required: false });
    case 'ZodDefault': {
      const dv = (def.defaultValue as () => unknown)();
      return walk(def.innerType as z.ZodTypeAny, prefix, out, { required: false, default: flags.default ?? JSON.stringify(dv) });
    }
    case 'ZodEffects':
      return walk(def.schema as z.ZodTypeAny, prefix, out, flags);
    case 'ZodPipeline':
      return walk(def.in as z.ZodTypeAny, prefix, out, flags);
    case 'ZodLazy':
      return walk((def.getter as () => z.ZodTypeAny)(), prefix, out, flags);
    case 'ZodBranded':
    case 'ZodReadonly':
    case 'ZodCatch':
      return walk((def.type ?? def.innerType) as z.ZodTypeAny, prefix, out, flags);
    case 'ZodObject': {
      if (prefix) add(out, prefix, 'object', flags);
      const shape = (s as z.AnyZodObject).shape as Record<string, z.ZodTypeAny>;
      for (const [k, v] of Object.entries(shape)) walk(v, prefix ? `${prefix}.${k}` : k, out, { required: true });
      return;
    }
    case 'ZodArray': {
      const el = (s as z.ZodArray<z.ZodTypeAny>).element;
      if (hasObject(el)) {
        add(out, prefix, 'array of objects', flags);
        return walk(el, `${prefix}[]`, out, { required: true });
      }
      return add(out, prefix, `array of ${typeOf(el)}`, flags);
    }
    case 'ZodRecord': {
      add(out, prefix, 'record', flags);
      const value = (s as z.ZodRecord).valueSchema as z.ZodTypeAny;
      if (hasObject(value)) return walk(value, `${prefix}.<name>`, out, { required: true });
      return;
    }
    case 'ZodUnion':
    case 'ZodDiscriminatedUnion': {
      const options = [...((def.options as Iterable<z.ZodTypeAny>) ?? [])];
      const objects = options.filter(hasObject);
      if (objects.length === 0) return add(out, prefix, options.map(typeOf).join(' | '), flags);
      add(out, prefix, options.map(typeOf).join(' | '), flags);
      for (const o of objects) walk(o, prefix, out, { required: false });
      return;
    }
    default:
      return add(out, prefix, typeOf(s), flags);
  }
}

function add(out: Map<string, KeyPath>, path: string, type: string, flags: Flags): void {
  if (!path) return;
  const prev = out.get(path);
  if (prev) {
    if (prev.type !== type && type !== 'object') prev.type = `${prev.type} | ${type}`;
    return;
  }
  out.set(path, { path, type, required: flags.required, ...(flags.default !== undefined ? { default: flags.default } : {}) });
}

/** Whether a schema is, under its wrappers, an object (or a record/array/union holding one). */
function hasObject(s: z.ZodTypeAny): boolean {
  const def = s._def as { typeName?: string } & Record<string, unknown>;
  switch (def.typeName) {
    case 'ZodObject':
      return true;
    case 'ZodOptional':
    case 'ZodNullable':
      return hasObject((s as z.ZodOptional<z.ZodTypeAny>).unwrap());
    case 'ZodDefault':
      return hasObject(def.innerType as z.ZodTypeAny);
    case 'ZodEffects':
      return hasObject(def.schema as z.ZodTypeAny);
    case 'ZodPipeline':
      return hasObject(def.in as z.ZodTypeAny);
    case 'ZodLazy':
      return hasObject((def.getter as () => z.ZodTypeAny)());
    case 'ZodRecord':
    case 'ZodArray':
      return false;
    case 'ZodUnion':
    case 'ZodDiscriminatedUnion':
      return [...((def.options as Iterable<z.ZodTypeAny>) ?? [])].some(hasObject);
    default:
      return false;
  }
}

function typeOf(s: z.ZodTypeAny): string {
  const def = s._def as { typeName?: string } & Record<string, unknown>;
  switch (def.typeName) {
    case 'ZodString':
      return 'string';
    case 'ZodNumber':
      return 'number';
    case 'ZodBoolean':
      return 'boolean';
    case 'ZodLiteral':
      return JSON.stringify(def.value);
    case 'ZodEnum':
      return (def.values as string[]).map((v) => JSON.stringify(v)).join(' | ');
    case 'ZodOptional':
    case 'ZodNullable':
      return typeOf((s as z.ZodOptional<z.ZodTypeAny>).unwrap());
    case 'ZodDefault':
      return typeOf(def.innerType as z.ZodTypeAny);
    case 'ZodEffects':
      return typeOf(def.schema as z.ZodTypeAny);
    case 'ZodPipeline':
      return typeOf(def.out as z.ZodTypeAny);
    case 'ZodArray':
      return `array of ${typeOf((s as z.ZodArray<z.ZodTypeAny>).element)}`;
    case 'ZodRecord':
      return 'record';
    case 'ZodObject':
      return 'object';
    case 'ZodUnion':
      return [...(def.options as z.ZodTypeAny[])].map(typeOf).join(' | ');
    default:
      return String(def.typeName ?? 'unknown')
        .replace(/^Zod/, '')
        .toLowerCase();
  }
}
