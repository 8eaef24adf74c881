import type pg from 'pg';
import { KoyoSlotError } from './errors.js';

/**
 * A connection string (`postgres://...`) or a `pg` client config. Either may name several hosts,
 * as libpq does (`postgres://user@h1:5432,h2:5432/db`, or `hosts: ['h1:5432', { host: 'h2' }]`
 * beside the other `pg` settings): koyo then connects to the writable one and follows it after a
 * failover.
 */
export type ConnectionOptions =
  string | (pg.ClientConfig & { hosts?: ReadonlyArray<string | { host: string; port?: number }> });

/** The application_name koyo uses when the caller gives none, so its sessions are easy to find. */
export const DEFAULT_APPLICATION_NAME = 'koyo';

/** @internal turns a connection string or config into a `pg` client config. */
export function toClientConfig(
  connection: ConnectionOptions,
  extra: pg.ClientConfig = {},
): pg.ClientConfig {
  if (typeof connection === 'string') {
    if (connection.length === 0) {
      throw new KoyoSlotError(
        'INVALID_OPTION',
        'connection is an empty string: pass a postgres:// URL or a pg ClientConfig.',
      );
    }
    return {
      connectionString: connection,
      fallback_application_name: DEFAULT_APPLICATION_NAME,
      ...extra,
    };
  }
  if (typeof connection !== 'object' || connection === null) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      `connection must be a postgres:// URL or a pg ClientConfig, got ${connection === null ? 'null' : typeof connection}.`,
    );
  }
  const { hosts: _hosts, ...config } = connection;
  return { fallback_application_name: DEFAULT_APPLICATION_NAME, ...config, ...extra };
}
