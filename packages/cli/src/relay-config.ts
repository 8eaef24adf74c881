// The `relay` section of koyo.config.ts. Its types are the CLI's own (so defineConfig type-checks
// where the optional @koyo/nats is not installed); relay-config.test-d.ts keeps them in step with
// createNatsRelay's options, and the names are checked by @koyo/nats itself when the relay loads.
import { suggest } from './args.js';
import { KoyoCliError } from './errors.js';

/** NATS servers `koyo relay nats` connects to when neither `--servers` nor the config names one: loopback only. */
export const DEFAULT_NATS_SERVERS = 'nats://127.0.0.1:4222';

/**
 * `relay.nats` in `koyo.config.ts`: how `koyo relay nats` publishes into NATS JetStream (options
 * of `@koyo/nats`'s `createNatsRelay`; its flags override them). The relay reads the config's
 * `connection`, `slot`, `publication`, `tables` and `dispatcher` options like `koyo run`.
 */
export interface NatsRelaySettings {
  /** NATS servers. Default `'nats://127.0.0.1:4222'`; `--servers` overrides. */
  servers?: string | string[];
  /** Connection name shown by NATS monitoring. Default `koyo-relay-<slot>`. */
  name?: string;
  /** JetStream stream, created when missing. Default `'KOYO'`; `--stream` overrides. */
  stream?: string;
  /** Subject prefix: changes go to `<prefix>.<schema>.<table>[.<partition>]`. Default `'koyo'`. */
  subjectPrefix?: string;
  /** Partitions per table (a stable hash of the key). Default 1; `--partitions` overrides. Workers need the same number. */
  partitions?: number;
  /** The stream's duplicate window in ms (and the least an existing stream must have). Default 120 000. */
  duplicateWindowMs?: number;
  /** Longest wait between publish attempts while NATS is unreachable, in ms. Default 5 000. */
  maxBackoffMs?: number;
}

/** The `relay` section of `koyo.config.ts`. */
export interface RelaySettings {
  /** Settings of `koyo relay nats`. */
  nats?: NatsRelaySettings;
}

const RELAY_KEYS = ['nats'] as const;
const NATS_KEYS = [
  'servers',
  'name',
  'stream',
  'subjectPrefix',
  'partitions',
  'duplicateWindowMs',
  'maxBackoffMs',
] as const;

function invalid(file: string, message: string): KoyoCliError {
  return new KoyoCliError('CONFIG_INVALID', `${file}: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks that `value` is an object (else `example` says what one looks like) with only `keys`. */
function checkSection(
  value: unknown,
  keys: readonly string[],
  where: string,
  example: string,
  file: string,
): asserts value is Record<string, unknown> {
  if (!isRecord(value)) throw invalid(file, `${where} must be an object, e.g. ${example}`);
  for (const key of Object.keys(value)) {
    if (keys.includes(key)) continue;
    const match = suggest(key, keys);
    throw invalid(
      file,
      `unknown option "${where}.${key}"${match ? ` (did you mean "${match}"?)` : ''}; the options are ${keys.join(', ')}`,
    );
  }
}

/** A NATS server URL as the NATS client takes it: `nats://host:port`, `tls://...`, or `host:port`. */
export function isNatsServer(value: unknown): value is string {
  return typeof value === 'string' && /^((nats|tls|wss?):\/\/)?[^\s/]+(:\d+)?\/?$/.test(value);
}

/**
 * Checks the `relay` section's shape and types (`CONFIG_INVALID` naming the key). Stream and
 * prefix names are checked by `@koyo/nats` when `koyo relay nats` or `koyo doctor` loads it.
 */
export function validateRelaySettings(relay: unknown, file: string): void {
  if (relay === undefined) return;
  checkSection(
    relay,
    RELAY_KEYS,
    'relay',
    "relay: { nats: { servers: 'nats://127.0.0.1:4222' } }",
    file,
  );
  const nats = relay.nats;
  if (nats === undefined) return;
  checkSection(
    nats,
    NATS_KEYS,
    'relay.nats',
    "{ servers: 'nats://127.0.0.1:4222', partitions: 8 }",
    file,
  );
  const servers = nats.servers;
  if (
    servers !== undefined &&
    !(
      isNatsServer(servers) ||
      (Array.isArray(servers) && servers.length > 0 && servers.every(isNatsServer))
    )
  ) {
    throw invalid(
      file,
      `relay.nats.servers must be a NATS URL such as 'nats://127.0.0.1:4222', or a non-empty array of them (got ${JSON.stringify(servers)})`,
    );
  }
  for (const key of ['name', 'stream', 'subjectPrefix'] as const) {
    if (nats[key] !== undefined && (typeof nats[key] !== 'string' || nats[key].length === 0)) {
      throw invalid(
        file,
        `relay.nats.${key} must be a non-empty string (got ${JSON.stringify(nats[key])})`,
      );
    }
  }
  const integers = { partitions: 1, duplicateWindowMs: 1000, maxBackoffMs: 1 } as const;
  for (const [key, min] of Object.entries(integers)) {
    const value = nats[key];
    if (
      value !== undefined &&
      (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min)
    ) {
      throw invalid(
        file,
        `relay.nats.${key} must be an integer >= ${min} (got ${JSON.stringify(value)})`,
      );
    }
  }
}
