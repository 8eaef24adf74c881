import type { OptionSpec } from './args.js';

/** `-h, --help`: every command takes it. */
export const help: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help.' };

/** `--url URL`: the connection, before the config and DATABASE_URL. */
export const url: OptionSpec = {
  type: 'string',
  value: 'URL',
  description:
    'postgres:// connection string. Default: connection in koyo.config.ts, else DATABASE_URL.',
};

/** `-c, --config FILE`. */
export const config: OptionSpec = {
  type: 'string',
  short: 'c',
  value: 'FILE',
  description: 'Config file. Default: ./koyo.config.ts (or .mts/.js/.mjs).',
};

/** `--slot NAME`, defaulting to the config's slot. */
export const slot: OptionSpec = {
  type: 'string',
  value: 'NAME',
  description: 'Replication slot. Default: slot in the config.',
};

/** `--publication NAME`, defaulting to the config's publication. */
export const publication: OptionSpec = {
  type: 'string',
  value: 'NAME',
  description: 'Publication. Default: publication in the config.',
};

/** `--json`. */
export const json: OptionSpec = { type: 'boolean', description: 'Print JSON instead of text.' };

/** The flags of the commands that work on the configured slot: url, config, slot, publication. */
export const slotFlags = { url, config, slot, publication } as const;

/** A repeatable `--table TABLE` flag (`users` or `schema.table`, comma-separated too). */
export function tableFlag(description: string): OptionSpec {
  return { type: 'string', multiple: true, value: 'TABLE', description };
}

/** `--progress MODE` (auto, bar, lines, off) of `koyo run` and `koyo backfill`. */
export function progressFlag(description: string): OptionSpec {
  return {
    type: 'string',
    value: 'MODE',
    choices: ['auto', 'bar', 'lines', 'off'],
    description,
  };
}

/** `--stats-interval SECONDS` of `koyo run` and `koyo relay nats`. */
export const statsInterval: OptionSpec = {
  type: 'string',
  value: 'SECONDS',
  description:
    'Seconds between stats lines; 0 turns them off. Default: run.statsIntervalSeconds in the config, else 30.',
};
