import { urlIdentity, type RouterOptions } from '@koyo/router';
import type { Knex } from 'knex';
import { KoyoKnexError } from './errors.js';

/**
 * One node: a Knex config for `client: 'pg'` (the `client` key may be left out), optionally with
 * a `name` (for logs and stats) and a `weight` (for the `weighted` strategy), or a connection
 * string.
 *
 * @example
 * const node: KnexNodeConfig = { connection: process.env.REPLICA_URL, name: 'eu-1', weight: 2 };
 */
export type KnexNodeConfig =
  string | (Knex.Config & { readonly name?: string; readonly weight?: number });

/**
 * Options of `routedKnex`: the nodes, every {@link RouterOptions router option} (following the
 * primary with `discover` and `failoverMs` included), and the Knex-specific ones.
 *
 * @example
 * const options: RoutedKnexOptions = { primary: process.env.DATABASE_URL!, replicas: [process.env.REPLICA_URL!] };
 */
export interface RoutedKnexOptions extends RouterOptions {
  /**
   * The primary: takes writes, transactions, schema changes and migrations. Its config is the routed
   * instance's config. Or a list of candidates: the router uses the one where `pg_is_in_recovery()`
   * is false and follows a failover (see `discover`, `failoverMs`); then every node has its own pool.
   */
  readonly primary: KnexNodeConfig | readonly KnexNodeConfig[];
  /** Streaming replicas that may take reads (each gets its own Knex pool). May be empty. */
  readonly replicas?: readonly KnexNodeConfig[];
  /**
   * Where `knex.transaction(fn, { readOnly: true })` runs: `'primary'` (default) or `'replica'`,
   * a healthy replica picked like a read (strategy, lag bound, read-your-writes), the whole
   * transaction on one replica connection (one snapshot). Nested transactions stay on it.
   */
  readonly readOnlyTransactions?: 'primary' | 'replica';
}

/** @internal one node's config, validated. */
export interface NodeEntry {
  readonly name: string;
  /** The name given in the config, if any. */
  readonly given: string | undefined;
  readonly weight: number | undefined;
  readonly config: Knex.Config;
}

/** @internal the options of `routedKnex`, validated and defaulted (frozen). */
export interface ResolvedKnexOptions {
  /** The options as given (the router validates its own). */
  readonly router: RouterOptions;
  /** `primary` was a list of candidates. */
  readonly list: boolean;
  readonly candidates: readonly NodeEntry[];
  /** The first candidate: its config is the routed instance's. */
  readonly primary: NodeEntry;
  readonly replicas: readonly NodeEntry[];
  readonly readOnlyTransactions: 'primary' | 'replica';
  /** Following the primary: every node has its own plain Knex; the routed instance's pool stays unused. */
  readonly following: boolean;
}

/**
 * Validates and defaults the options of `routedKnex` (router options are the router's to check).
 *
 * @internal
 */
export function resolveRoutedKnexOptions(options: RoutedKnexOptions): ResolvedKnexOptions {
  if (options === null || typeof options !== 'object') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      'routedKnex: expected options { primary, replicas?, ...routerOptions }.',
    );
  }
  if (options.replicas !== undefined && !Array.isArray(options.replicas)) {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      'replicas: expected an array of Knex configs or connection strings (it may be empty).',
    );
  }
  const readOnlyTransactions = options.readOnlyTransactions ?? 'primary';
  if (readOnlyTransactions !== 'primary' && readOnlyTransactions !== 'replica') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `readOnlyTransactions: expected 'primary' or 'replica', got ${JSON.stringify(readOnlyTransactions)}.`,
    );
  }
  const list = Array.isArray(options.primary);
  const inputs: readonly KnexNodeConfig[] = list
    ? (options.primary as readonly KnexNodeConfig[])
    : [options.primary as KnexNodeConfig];
  if (options.primary === undefined || inputs.length === 0) {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      'primary: required (a Knex config or a connection string, or a list of them).',
    );
  }
  const candidates = inputs.map((input, i) =>
    normalizeNode(input, list ? `primary[${i}]` : 'primary'),
  );
  const replicas = (options.replicas ?? []).map((input, i) =>
    normalizeNode(input, `replicas[${i}]`, `replica${i + 1}`),
  );
  return Object.freeze({
    router: options,
    list,
    candidates,
    primary: candidates[0]!,
    replicas,
    readOnlyTransactions,
    following: list || options.discover === true,
  });
}

function normalizeNode(input: KnexNodeConfig, label: string, fallbackName = 'primary'): NodeEntry {
  if (typeof input === 'string') {
    if (input === '')
      throw new KoyoKnexError('INVALID_OPTION', `${label}: the connection string is empty.`);
    return {
      name: fallbackName,
      given: undefined,
      weight: undefined,
      config: { client: 'pg', connection: input },
    };
  }
  if (input === null || typeof input !== 'object') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `${label}: expected a Knex config ({ client: 'pg', connection }) or a connection string.`,
    );
  }
  const { name, weight, ...config } = input;
  const client = config.client;
  if (client !== undefined && client !== 'pg' && client !== 'postgres' && client !== 'postgresql') {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `${label}.client: @koyo/knex routes PostgreSQL only; expected 'pg' (or leave it out), got ${typeof client === 'string' ? JSON.stringify(client) : 'a client class'}.`,
    );
  }
  if (
    config.connection === undefined &&
    (config as { connectionPool?: unknown }).connectionPool === undefined
  ) {
    throw new KoyoKnexError(
      'INVALID_OPTION',
      `${label}.connection: required (a connection string or a pg connection config).`,
    );
  }
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new KoyoKnexError('INVALID_OPTION', `${label}.name: expected a non-empty string.`);
  }
  return { name: name ?? fallbackName, given: name, weight, config: { ...config, client: 'pg' } };
}

/**
 * What makes two node configs the same server (one node, one pool, when following the primary).
 *
 * @internal
 */
export function nodeIdentity(entry: NodeEntry): unknown {
  const connection = entry.config.connection;
  if (typeof connection === 'string') return urlIdentity(connection);
  if (connection === null || typeof connection !== 'object') return entry;
  const c = connection as {
    connectionString?: unknown;
    user?: unknown;
    host?: unknown;
    port?: unknown;
    database?: unknown;
  };
  if (typeof c.connectionString === 'string') return urlIdentity(c.connectionString);
  if (c.host === undefined && c.database === undefined) return entry;
  return `${String(c.user ?? '')}@${String(c.host ?? '')}:${String(c.port ?? 5432)}/${String(c.database ?? '')}`;
}
