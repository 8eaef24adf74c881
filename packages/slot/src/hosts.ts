import pg from 'pg';
import { toClientConfig, type ConnectionOptions } from './connection.js';
import { classifyError, KoyoSlotError } from './errors.js';

// Several hosts, as libpq takes them (postgres://h1:5432,h2:5432/db, or { hosts: [...] }): koyo
// connects to the one that is writable (target_session_attrs=read-write), so that after a
// failover the stream and the manager follow the promoted primary. `pg` itself takes one host.

/** One host of a multi-host connection. */
export interface HostAddress {
  host: string;
  /** Default: the connection's port, else 5432. */
  port?: number;
}

const URL_PARTS = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/i;

function splitHostList(list: string): string[] {
  return list.split(',').map((part) => part.trim());
}

/**
 * The single-host client configs of a multi-host connection, in order; `undefined` when the
 * connection names one host (the common case: no probing, no extra round trip).
 */
export function hostCandidates(
  connection: ConnectionOptions,
  extra: pg.ClientConfig = {},
): pg.ClientConfig[] | undefined {
  if (
    typeof connection === 'object' &&
    connection !== null &&
    typeof connection.connectionString === 'string' &&
    connection.connectionString.includes(',')
  ) {
    const { connectionString, hosts: _hosts, ...rest } = connection;
    return hostCandidates(connectionString, { ...rest, ...extra });
  }
  if (typeof connection === 'string') {
    const match = URL_PARTS.exec(connection);
    if (!match) return undefined;
    const [, scheme = '', auth = '', hostList = '', rest = ''] = match;
    if (!hostList.includes(',')) return undefined;
    const hosts = splitHostList(hostList);
    if (hosts.some((host) => host === '')) {
      throw new KoyoSlotError(
        'INVALID_OPTION',
        `The connection string names an empty host in "${hostList}": write postgres://user@h1:5432,h2:5432/db.`,
      );
    }
    return hosts.map((host) => toClientConfig(`${scheme}${auth}${host}${rest}`, extra));
  }
  const hosts = (connection as { hosts?: unknown }).hosts;
  if (hosts === undefined) return undefined;
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw new KoyoSlotError(
      'INVALID_OPTION',
      'connection.hosts must be a non-empty array of "host:port" strings or { host, port } objects.',
    );
  }
  const { hosts: _hosts, ...base } = connection as pg.ClientConfig & { hosts: unknown[] };
  return hosts.map((entry: unknown) => toClientConfig({ ...base, ...hostAddress(entry) }, extra));
}

function hostAddress(entry: unknown): { host: string; port?: number } {
  if (typeof entry === 'string') {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry.trim());
    if (!match?.[1])
      throw new KoyoSlotError(
        'INVALID_OPTION',
        `connection.hosts entry "${entry}" is not "host" or "host:port".`,
      );
    const host = match[1].replace(/^\[|\]$/g, '');
    return match[2] ? { host, port: Number(match[2]) } : { host };
  }
  if (
    typeof entry === 'object' &&
    entry !== null &&
    typeof (entry as HostAddress).host === 'string'
  ) {
    const { host, port } = entry as HostAddress;
    if (port !== undefined && (!Number.isInteger(port) || port <= 0 || port > 65535)) {
      throw new KoyoSlotError(
        'INVALID_OPTION',
        `connection.hosts entry ${host} has port ${String(port)}: use 1-65535.`,
      );
    }
    return port === undefined ? { host } : { host, port };
  }
  throw new KoyoSlotError(
    'INVALID_OPTION',
    `connection.hosts entry ${JSON.stringify(entry)} is not "host:port" or { host, port }.`,
  );
}

/** @internal `host:port` of a single-host config, for messages. */
export function describeHost(config: pg.ClientConfig): string {
  if (config.host) return `${config.host}:${config.port ?? 5432}`;
  const match = config.connectionString ? URL_PARTS.exec(config.connectionString) : null;
  return match?.[3] ?? 'the server';
}

/**
 * Opens a connected `pg` client to the writable server of `connection`: the one host it names,
 * or, for several hosts, the one that is not in recovery (all are asked, at once). No writable
 * host is `CONNECTION_FAILED` (retried by streams: a promotion may be under way); two writable
 * hosts is `SPLIT_BRAIN` (never a guess).
 */
export async function connectWritable(
  connection: ConnectionOptions,
  extra: pg.ClientConfig = {},
): Promise<pg.Client> {
  const candidates = hostCandidates(connection, extra);
  if (!candidates) {
    const client = new pg.Client(toClientConfig(connection, extra));
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }
  const probes = await Promise.allSettled(candidates.map((config) => probe(config)));
  const writable: pg.Client[] = [];
  const reasons: string[] = [];
  probes.forEach((outcome, i) => {
    const name = describeHost(candidates[i]!);
    if (outcome.status === 'rejected')
      reasons.push(`${name}: ${classifyError(outcome.reason).error.message}`);
    else if (outcome.value.recovering) {
      reasons.push(`${name}: in recovery (a standby)`);
      void outcome.value.client.end().catch(() => undefined);
    } else writable.push(outcome.value.client);
  });
  if (writable.length === 1) return writable[0]!;
  await Promise.all(writable.map((client) => client.end().catch(() => undefined)));
  if (writable.length > 1) {
    throw new KoyoSlotError(
      'SPLIT_BRAIN',
      `${writable.length} of the hosts ${candidates.map(describeHost).join(', ')} accept writes. Only one may be the primary: fence the old one (stop it or make it a standby) before koyo connects.`,
    );
  }
  throw new KoyoSlotError(
    'CONNECTION_FAILED',
    `No writable host among ${candidates.map(describeHost).join(', ')} (${reasons.join('; ')}).`,
  );
}

async function probe(config: pg.ClientConfig): Promise<{ client: pg.Client; recovering: boolean }> {
  // A host that does not answer must not hold the others up for long.
  const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...config });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ recovering: boolean }>(
      'SELECT pg_is_in_recovery() AS recovering',
    );
    return { client, recovering: result.rows[0]?.recovering === true };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/**
 * A `pg.Client` class for `pg.Pool({ Client })` that, at each connect, first finds the writable
 * host of a multi-host connection; `undefined` for a single host (use `pg.Client`).
 *
 * `pg` takes one host and has no hook to choose it at connect time, so this sets the client's
 * public `host`/`port` just before `pg`'s own connect: the one place koyo steers `pg` this way.
 */
export function writableClientClass(connection: ConnectionOptions): typeof pg.Client | undefined {
  const candidates = hostCandidates(connection);
  if (!candidates) return undefined;
  const first = candidates[0]!;
  return class WritableClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, ...first });
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(
      callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void),
    ): Promise<pg.Client> | void {
      const connecting = (async () => {
        const probe = await connectWritable(connection);
        const { host, port } = probe;
        await probe.end().catch(() => undefined);
        this.host = host;
        this.port = port;
        return super.connect();
      })();
      if (!callback) return connecting;
      const done = callback as (err: Error | null, c?: pg.Client) => void;
      connecting.then(
        (client) => done(null, client),
        (error: Error) => done(error),
      );
    }
  };
}
