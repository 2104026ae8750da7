/** Shared argument parsing for the CLI commands: unknown flags are usage errors (exit 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { loadConfig, type Config } from '../config.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see "argus-sidecar ${command} --help")`);
  }
}

/** Load the file named by --config, or throw a UsageError naming the flag. */
export function configFromArgs(values: { config?: string | boolean | undefined | Array<string | boolean> }): Readonly<Config> {
  const file = values.config;
  if (typeof file !== 'string' || file.length === 0) throw new UsageError('--config FILE is required');
  return loadConfig(file);
}

export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;
