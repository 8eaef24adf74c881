// Optional pieces of the CLI: packages a command needs that `npm install @koyo/cli` does not
// bring (optional peer dependencies), loaded only by the command that uses them.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Nats from '@koyo/nats';
import { KoyoCliError } from './errors.js';

/** `@koyo/nats`, as `koyo relay nats` and `koyo doctor` use it. */
export type NatsModule = typeof Nats;

function notFound(error: unknown, name: string): boolean {
  const f = error as { code?: unknown; message?: unknown };
  return (
    (f?.code === 'ERR_MODULE_NOT_FOUND' || f?.code === 'MODULE_NOT_FOUND') &&
    String(f.message).includes(name)
  );
}

/**
 * Imports `@koyo/nats` from beside the CLI, else from the project in `cwd` (a CLI run through
 * `npx` from elsewhere). When neither has it: `MISSING_PACKAGE`, saying what to install.
 */
export async function importNats(command: string, cwd: string): Promise<NatsModule> {
  const name = '@koyo/nats';
  try {
    return await import(name);
  } catch (error) {
    if (!notFound(error, name)) throw error;
  }
  try {
    const path = createRequire(join(cwd, 'package.json')).resolve(name);
    return (await import(pathToFileURL(path).href)) as NatsModule;
  } catch (error) {
    if (!notFound(error, name)) throw error;
  }
  throw new KoyoCliError(
    'MISSING_PACKAGE',
    `koyo ${command} needs ${name}, which is not installed: run npm install ${name} in the project (next to @koyo/cli), then try again`,
  );
}
