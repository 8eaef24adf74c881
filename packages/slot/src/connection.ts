import type pg from 'pg';
import { KoyoSlotError } from './errors.js';

/** A connection string (`postgres://...`) or a `pg` client config. */
export type ConnectionOptions = string | pg.ClientConfig;

/** The application_name koyo uses when the caller gives none, so its sessions are easy to find. */
export const DEFAULT_APPLICATION_NAME = 'koyo';

/** @internal turns a connection string or config into a `pg` client config. */
export function toClientConfig(connection: ConnectionOptions, extra: pg.ClientConfig = {}): pg.ClientConfig {
  if (typeof connection === 'string') {
    if (connection.length === 0) {
      throw new KoyoSlotError('INVALID_OPTION', 'connection is an empty string: pass a postgres:// URL or a pg ClientConfig.');
    }
    return { connectionString: connection, fallback_application_name: DEFAULT_APPLICATION_NAME, ...extra };
  }
  if (typeof connection !== 'object' || connection === null) {
    throw new KoyoSlotError('INVALID_OPTION', `connection must be a postgres:// URL or a pg ClientConfig, got ${connection === null ? 'null' : typeof connection}.`);
  }
  return { fallback_application_name: DEFAULT_APPLICATION_NAME, ...connection, ...extra };
}
