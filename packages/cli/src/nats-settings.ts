// The NATS settings `koyo relay nats` and `koyo doctor` use: relay.nats of the config, flags over
// it, names checked by @koyo/nats itself (one owner of the stream and subject rules).
import { listValue, stringValue, type CommandSpec } from './args.js';
import type { CommandContext } from './context.js';
import { KoyoCliError } from './errors.js';
import { display } from './load.js';
import type { NatsModule } from './optional.js';
import { DEFAULT_NATS_SERVERS, isNatsServer, type NatsRelaySettings } from './relay-config.js';

/** Relay settings with the flags applied and the names checked. */
export interface ResolvedNatsSettings extends NatsRelaySettings {
  servers: string[];
  stream: string;
  subjectPrefix: string;
}

/** Which flags of the command carry the servers and the stream. */
export interface NatsFlags {
  servers: string;
  stream: string;
}

/** Whether the config has a relay.nats section or the flags name NATS servers. */
export function wantsNats(ctx: CommandContext, flags: NatsFlags): boolean {
  return ctx.config.relay?.nats !== undefined || listValue(ctx.args, flags.servers).length > 0;
}

function usage(spec: CommandSpec, message: string): KoyoCliError {
  return new KoyoCliError('USAGE', message, { command: spec.name });
}

/**
 * relay.nats of the config with `flags` over it. A bad flag is a `USAGE` error; a name in the
 * config that @koyo/nats refuses is `CONFIG_INVALID`, with @koyo/nats's reason.
 */
export function resolveNatsSettings(
  ctx: CommandContext,
  nats: NatsModule,
  flags: NatsFlags,
): ResolvedNatsSettings {
  const config = ctx.config.relay?.nats ?? {};
  const file = ctx.loaded ? display(ctx.loaded.file, ctx.io.cwd) : 'koyo.config.ts';
  const serverFlags = listValue(ctx.args, flags.servers);
  for (const server of serverFlags) {
    if (!isNatsServer(server))
      throw usage(
        ctx.spec,
        `--${flags.servers} must be a NATS URL such as nats://127.0.0.1:4222 (got "${server}")`,
      );
  }
  const configured =
    config.servers === undefined
      ? []
      : Array.isArray(config.servers)
        ? config.servers
        : [config.servers];
  const servers =
    serverFlags.length > 0
      ? serverFlags
      : configured.length > 0
        ? configured
        : [DEFAULT_NATS_SERVERS];
  const streamFlag = stringValue(ctx.args, flags.stream);
  const check = <T>(run: () => T, fromFlag: boolean): T => {
    try {
      return run();
    } catch (error) {
      if (!(error instanceof nats.KoyoNatsError)) throw error;
      if (fromFlag) throw usage(ctx.spec, error.message);
      throw new KoyoCliError('CONFIG_INVALID', `${file}: ${error.message}`, { cause: error });
    }
  };
  const stream = check(
    () =>
      nats.checkStreamName(
        streamFlag ?? config.stream ?? 'KOYO',
        streamFlag ? `--${flags.stream}` : 'relay.nats.stream',
      ),
    streamFlag !== undefined,
  );
  const subjectPrefix = check(
    () => nats.checkSubjectPrefix(config.subjectPrefix ?? 'koyo', 'relay.nats.subjectPrefix'),
    false,
  );
  return { ...config, servers, stream, subjectPrefix };
}
