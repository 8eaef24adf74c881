import { jetstreamManager, StorageType, type StoredMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { startNats, type NatsServer } from '@koyo/testing';
import {
  lateBound,
  openPooledDatabase,
  uniqueName,
  dropSlotWhenReleased,
  type PooledTestDatabase,
} from '@koyo/testing/vitest';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import type { NatsRelayOptions } from '../src/index.js';

export { parseLsn as lsn } from '@koyo/pgoutput';
export {
  until as waitFor,
  slotConfirmedFlush as confirmedFlush,
  dropSlotWhenReleased as dropSlot,
} from '@koyo/testing/vitest';
export { uniqueName };

/** A stored message, decoded: subject, headers, body. */
export interface StreamEntry {
  seq: number;
  /** When JetStream stored it. */
  time: Date;
  subject: string;
  id: string | undefined;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** Every message of a stream, in stream order (server truth). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StreamEntry[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream).catch(() => null);
  if (!info) return [];
  const entries: StreamEntry[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
    let message: StoredMsg | null;
    try {
      message = await jsm.streams.getMessage(stream, { seq });
    } catch {
      continue;
    }
    if (!message) continue;
    const headers: Record<string, string> = {};
    for (const key of message.header?.keys() ?? []) headers[key] = message.header.get(key);
    entries.push({
      seq,
      time: message.time,
      subject: message.subject,
      id: headers['Nats-Msg-Id'],
      headers,
      body: message.json(),
    });
  }
  return entries;
}

/**
 * Creates a stream for a test to point a relay or a check at: named `uniqueName(prefix)`,
 * capturing `<subject>.>`, with the given storage and duplicate window. Returns its name.
 *
 * @example
 * const short = await addStream(nc, 'SHORT', 'short', { storage: 'file', windowMs: 1000 });
 */
export async function addStream(
  nc: NatsConnection,
  prefix: string,
  subject: string,
  options: { storage: 'file' | 'memory'; windowMs: number },
): Promise<string> {
  const name = uniqueName(prefix);
  await (
    await jetstreamManager(nc)
  ).streams.add({
    name,
    subjects: [`${subject}.>`],
    storage: options.storage === 'file' ? StorageType.File : StorageType.Memory,
    duplicate_window: nanos(options.windowMs),
  });
  return name;
}

/** The test file's database, nats-server and client connection, from {@link natsTestFile}. */
export interface NatsTestFile {
  readonly db: PooledTestDatabase;
  readonly nats: NatsServer;
  /** Only with `connect: true`. */
  readonly nc: NatsConnection;
}

/**
 * The test file's database and nats-server: in `beforeAll`, opens the database (`prefix`), runs
 * `statements` in order, starts a nats-server and (with `connect`) a client connection to it; in
 * `afterAll`, drops `slot` (when given, once released), then closes the connection, the server
 * and the database. Use them in tests and hooks, not at the top level (they are not open yet).
 *
 * @example
 * const { db, nats } = natsTestFile('nats_fleet', { slot, statements: ['CREATE TABLE t (id int)'] });
 */
export function natsTestFile(
  prefix: string,
  options: { statements?: readonly string[]; slot?: string; connect?: boolean } = {},
): NatsTestFile {
  let db: PooledTestDatabase | undefined;
  let nats: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    db = await openPooledDatabase(prefix);
    nats = await startNats();
    if (options.connect) nc = await connect({ servers: nats.url });
    for (const statement of options.statements ?? []) await db.query(statement);
  });
  afterAll(async () => {
    if (db && options.slot !== undefined)
      await dropSlotWhenReleased(db, options.slot).catch(() => undefined);
    await nc?.close();
    await nats?.close();
    await db?.close();
  });
  return {
    db: lateBound(`${prefix}: the database`, () => db),
    nats: lateBound(`${prefix}: the nats-server`, () => nats),
    nc: lateBound(`${prefix}: the nats connection`, () => nc),
  };
}

/**
 * Options of a relay on a {@link natsTestFile}'s database and nats-server: the slot `slot`, a new
 * publication of `tables`, no logger, into `stream` with `partitions` partitions;
 * `statusIntervalMs` is passed to the dispatcher when given.
 *
 * @example
 * const relay = createNatsRelay(relayOn(file, { slot, tables: ['events'], stream, partitions: 4 }));
 */
export function relayOn(
  file: Pick<NatsTestFile, 'db' | 'nats'>,
  options: {
    slot: string;
    tables: string[];
    stream: string;
    partitions: number;
    statusIntervalMs?: number;
  },
): NatsRelayOptions {
  const { slot, tables, stream, partitions, statusIntervalMs } = options;
  return {
    dispatcher: {
      connection: file.db.url,
      slot,
      publication: uniqueName('pub'),
      tables,
      logger: false,
      ...(statusIntervalMs === undefined ? {} : { statusIntervalMs }),
    },
    nats: { servers: file.nats.url },
    stream,
    partitions,
  };
}
