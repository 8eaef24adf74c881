import { connectWritable, writableClientClass, type ConnectionOptions } from '@koyo/slot';
import type pg from 'pg';

const APPLICATION_NAME = 'koyo-dispatcher';

/**
 * The connection of ordinary (non-replication) sessions: the same host or hosts as `connection`,
 * without a `replication` flag. A multi-host connection stays multi-host: each session connects
 * to the writable host when it opens (see {@link connectPlain}).
 */
export function plainConfig(connection: ConnectionOptions): ConnectionOptions {
  if (typeof connection === 'string') return connection;
  const { replication: _replication, ...rest } = connection as pg.ClientConfig & {
    replication?: unknown;
  };
  return { fallback_application_name: APPLICATION_NAME, ...rest };
}

/**
 * Opens a `pg` client on the writable host of `connection` (the one host it names, or the
 * primary of several: `@koyo/slot`'s `connectWritable`).
 */
export function connectPlain(connection: ConnectionOptions): Promise<pg.Client> {
  const plain = plainConfig(connection);
  return connectWritable(
    plain,
    typeof plain === 'string' ? { fallback_application_name: APPLICATION_NAME } : {},
  );
}

/**
 * A `pg.Pool` config for `connection`: one host as it is, several hosts through a `Client` class
 * that finds the writable host at each connect.
 */
export function poolConfig(connection: ConnectionOptions): pg.PoolConfig {
  const plain = plainConfig(connection);
  const Client = writableClientClass(plain);
  const base: pg.PoolConfig =
    typeof plain === 'string'
      ? { connectionString: plain, fallback_application_name: APPLICATION_NAME }
      : withoutHosts(plain);
  return Client ? { ...base, Client } : base;
}

function withoutHosts(config: pg.ClientConfig & { hosts?: unknown }): pg.ClientConfig {
  const { hosts: _hosts, ...rest } = config;
  return rest;
}
