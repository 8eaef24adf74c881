import pg from 'pg';

/** A `pg` config for an ordinary (non-replication) session on this connection. */
export function plainClientConfig(connection: string | pg.ClientConfig): pg.ClientConfig {
  if (typeof connection === 'string')
    return { connectionString: connection, fallback_application_name: 'koyo-cli' };
  const { replication: _replication, ...rest } = connection as pg.ClientConfig & {
    replication?: unknown;
  };
  return { fallback_application_name: 'koyo-cli', ...rest };
}

/**
 * An ordinary (non-replication) session on this connection, not yet connected. Its `error`
 * events are swallowed: a query on a broken session rejects anyway, and an idle one that the
 * server closes must not crash koyo.
 */
export function plainClient(connection: string | pg.ClientConfig): pg.Client {
  const client = new pg.Client(plainClientConfig(connection));
  client.on('error', () => undefined);
  return client;
}
