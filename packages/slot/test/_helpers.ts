import { parseLsn, type PgoutputMessage } from '@koyo/pgoutput';
import { startCluster, type Cluster } from '@koyo/testing';
import {
  createTestDatabase,
  lateBound,
  queryUrl,
  sleep,
  slotConfirmedFlush,
  type TestDatabase,
} from '@koyo/testing/vitest';
import { afterAll, beforeAll } from 'vitest';
import {
  createSlotManager,
  openReplicationStream,
  type ReplicationEvent,
  type ReplicationStream,
  type ReplicationStreamOptions,
  type SlotManager,
} from '../src/index.js';

/** Runs one statement on a fresh connection. */
export const sql = queryUrl;

/** The slot's row in pg_replication_slots: server truth. */
export async function slotRow(
  url: string,
  slot: string,
): Promise<{ confirmed: bigint; activePid: number | null } | undefined> {
  const [row] = await sql<{ confirmed_flush_lsn: string | null; active_pid: number | null }>(
    url,
    'SELECT confirmed_flush_lsn::text, active_pid FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  if (!row) return undefined;
  return {
    confirmed: row.confirmed_flush_lsn === null ? 0n : parseLsn(row.confirmed_flush_lsn),
    activePid: row.active_pid,
  };
}

export const confirmedFlush = (url: string, slot: string): Promise<bigint> =>
  slotConfirmedFlush(url, slot);

/** Polls `check` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

export { sleep };

/** A consumer that records every event of a stream in the background. */
export class Collector {
  readonly events: ReplicationEvent[] = [];
  readonly done: Promise<unknown>;
  error: unknown;

  constructor(
    readonly stream: ReplicationStream,
    onMessage?: (
      event: Extract<ReplicationEvent, { kind: 'message' }>,
      collector: Collector,
    ) => Promise<void> | void,
  ) {
    this.done = (async () => {
      try {
        for await (const event of stream) {
          this.events.push(event);
          if (event.kind === 'message' && onMessage) await onMessage(event, this);
        }
      } catch (error) {
        this.error = error;
      }
    })();
  }

  messages(): PgoutputMessage[] {
    return this.events.flatMap((event) => (event.kind === 'message' ? [event.message] : []));
  }

  of<Tag extends PgoutputMessage['tag']>(tag: Tag): Extract<PgoutputMessage, { tag: Tag }>[] {
    return this.messages().filter(
      (m): m is Extract<PgoutputMessage, { tag: Tag }> => m.tag === tag,
    );
  }

  /** Values of column `column` of every insert, in order. */
  inserted(column = 'id'): unknown[] {
    return this.of('insert').map((m) => (m.new as Record<string, unknown>)[column]);
  }
}

/**
 * A fresh test database: runs `statements`, then creates `publication` for `tables` with a slot
 * manager that the test keeps (close it with {@link closeStreamTest}).
 */
export async function publishedDatabase(
  prefix: string,
  publication: string,
  statements: readonly string[],
  tables: string[] = ['items'],
): Promise<{ db: TestDatabase; manager: SlotManager }> {
  const { db, manager } = await databaseWithManager(prefix, statements);
  await manager.ensurePublication(publication, { tables });
  return { db, manager };
}

/** A fresh test database where `statements` ran, and a slot manager on it. */
async function databaseWithManager(
  prefix: string,
  statements: readonly string[],
): Promise<{ db: TestDatabase; manager: SlotManager }> {
  const db = await createTestDatabase(prefix);
  for (const statement of statements) await sql(db.url, statement);
  return { db, manager: createSlotManager(db.url) };
}

/** Stops the streams, drops the database's slots (holders terminated), the manager and the database. */
export async function closeStreamTest(
  streams: readonly ReplicationStream[],
  manager: SlotManager,
  db: TestDatabase,
): Promise<void> {
  await Promise.all(streams.map((s) => s.stop()));
  for (const slot of await manager.listSlots())
    if (slot.database === db.name) await manager.dropSlot(slot.name, { force: true });
  await manager.close();
  await db.drop();
}

/** Runs `use` with a fresh slot manager on `url`, closing the manager afterwards. */
export async function withManager<T>(
  url: string,
  use: (manager: SlotManager) => Promise<T>,
): Promise<T> {
  const manager = createSlotManager(url);
  try {
    return await use(manager);
  } finally {
    await manager.close();
  }
}

/** A describe block's own cluster: started by `start` in `beforeAll`, stopped in `afterAll`. */
export function ownCluster(start: () => Promise<Cluster>): Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await start();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return lateBound('the cluster', () => cluster);
}

/**
 * A describe block's database with a slot manager: `statements` run in `beforeAll`; `afterAll`
 * drops the database's slots, closes the manager and drops the database.
 */
export function managedDatabase(
  prefix: string,
  statements: readonly string[],
): { db: TestDatabase; manager: SlotManager } {
  let db: TestDatabase | undefined;
  let manager: SlotManager | undefined;
  beforeAll(async () => {
    ({ db, manager } = await databaseWithManager(prefix, statements));
  });
  afterAll(async () => {
    if (db && manager) await closeStreamTest([], manager, db);
  });
  return {
    db: lateBound(`${prefix}: the database`, () => db),
    manager: lateBound(`${prefix}: the slot manager`, () => manager),
  };
}

/**
 * A describe block's own one-node cluster with `settings`, where `table` (a CREATE TABLE) ran and
 * `publication` (of table items) and `slot` exist.
 */
export function ownClusterWithSlot(spec: {
  settings?: Record<string, string | number>;
  table: string;
  publication: string;
  slot: string;
}): Cluster {
  return ownCluster(async () => {
    const cluster = await startCluster({ replicas: 0, settings: spec.settings ?? {} });
    await sql(cluster.primary.url, spec.table);
    await withManager(cluster.primary.url, async (manager) => {
      await manager.ensurePublication(spec.publication, { tables: ['items'] });
      await manager.ensureSlot(spec.slot);
    });
    return cluster;
  });
}

/** A throwaway one-node cluster with `wal_level = replica` (no logical decoding) and a table items. */
export async function replicaLevelCluster(): Promise<Cluster> {
  const cluster = await startCluster({ replicas: 0, settings: { wal_level: 'replica' } });
  await sql(cluster.primary.url, 'CREATE TABLE items (id int PRIMARY KEY)');
  return cluster;
}

/** What {@link streamTest} returns; `db` and `manager` exist from `beforeAll` on. */
export interface StreamTest {
  readonly db: TestDatabase;
  readonly manager: SlotManager;
  /** Every stream opened through {@link StreamTest.stream} (stopped in `afterAll`). */
  readonly open: ReplicationStream[];
  /** Opens a stream on `slot` with the test's options and `overrides`, and remembers it. */
  stream(slot: string, overrides?: Partial<ReplicationStreamOptions>): ReplicationStream;
}

/**
 * A describe block's stream tests: {@link publishedDatabase} in `beforeAll`, streams opened with
 * `options` (the publication, plus e.g. `statusIntervalMs`) on its database, and
 * {@link closeStreamTest} in `afterAll`.
 */
export function streamTest(
  prefix: string,
  publication: string,
  statements: readonly string[],
  options: Partial<ReplicationStreamOptions> = {},
): StreamTest {
  let db: TestDatabase | undefined;
  let manager: SlotManager | undefined;
  const open: ReplicationStream[] = [];
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`${prefix}: set up in beforeAll; use it in tests`);
    return value;
  };
  beforeAll(async () => {
    ({ db, manager } = await publishedDatabase(prefix, publication, statements));
  });
  afterAll(() => closeStreamTest(open, ready(manager), ready(db)));
  return {
    get db() {
      return ready(db);
    },
    get manager() {
      return ready(manager);
    },
    open,
    stream(slot, overrides = {}) {
      const s = openReplicationStream({
        connection: ready(db).url,
        slot,
        publications: [publication],
        ...options,
        ...overrides,
      });
      open.push(s);
      return s;
    },
  };
}
