import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { flagValue, listValue, stringValue, type CommandSpec, type ParsedArgs } from '../args.js';
import { checkPublicationName, checkSlotName, type CliIo } from '../context.js';
import { EXIT, KoyoCliError } from '../errors.js';
import { parseTable } from '../sql.js';
import { configTemplate, handlersTemplate } from '../templates.js';
import { workerTemplate } from '../templates-nats.js';

/** The slot name `koyo init` proposes for a directory: `koyo_` and the directory name, cleaned. */
export function defaultSlotName(dir: string): string {
  const base = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return `koyo_${base || 'app'}`.slice(0, 63).replace(/_+$/, '');
}

/** Writes koyo.config.ts and koyo.handlers.ts; refuses to overwrite without --force. */
export async function run(spec: CommandSpec, args: ParsedArgs, io: CliIo): Promise<number> {
  const dir = resolve(io.cwd, stringValue(args, 'dir') ?? '.');
  const slot = stringValue(args, 'slot') ?? defaultSlotName(dir);
  checkSlotName(spec, slot);
  const publication = stringValue(args, 'publication') ?? slot;
  checkPublicationName(spec, publication);
  const tables = listValue(args, 'table');
  for (const table of tables) parseTable(table, spec.name);
  const relay = stringValue(args, 'relay') === 'nats' ? 'nats' : undefined;
  const files = [
    { name: 'koyo.config.ts', content: configTemplate({ slot, publication, tables, relay }) },
    { name: 'koyo.handlers.ts', content: handlersTemplate({ slot, publication, tables }) },
    ...(relay === 'nats'
      ? [{ name: 'koyo.worker.ts', content: workerTemplate({ slot, tables }) }]
      : []),
  ];
  const force = flagValue(args, 'force');
  const existing = files.filter((file) => existsSync(join(dir, file.name)));
  if (existing.length > 0 && !force) {
    throw new KoyoCliError(
      'FILE_EXISTS',
      `${existing.map((file) => file.name).join(' and ')} already exist${existing.length === 1 ? 's' : ''} in ${dir}: nothing written (use --force to overwrite)`,
    );
  }
  mkdirSync(dir, { recursive: true });
  const shown = relative(io.cwd, dir) || '.';
  for (const file of files) {
    writeFileSync(join(dir, file.name), file.content);
    const verb = existing.includes(file) ? 'overwrote' : 'created';
    io.stdout.write(`${verb} ${join(shown, file.name)}\n`);
  }
  io.stdout.write(
    [
      '',
      'Next:',
      '  1. Install the CLI in the project so the files type-check: npm install --save-dev @koyo/cli',
      '  2. Point DATABASE_URL at the primary (or edit connection in koyo.config.ts)',
      '  3. koyo setup     prints the SQL PostgreSQL needs (wal_level, publication, role)',
      '  4. koyo doctor    checks the set-up',
      '  5. koyo run       streams changes to koyo.handlers.ts',
      ...(relay === 'nats'
        ? [
            '     or, to scale out: npm install @koyo/nats, start nats-server -js, then',
            '     koyo relay nats          publishes every change into NATS JetStream',
            '     npx tsx koyo.worker.ts   runs the handlers of koyo.worker.ts (start as many as you like)',
          ]
        : []),
      '',
    ].join('\n'),
  );
  return EXIT.OK;
}
