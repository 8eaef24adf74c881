import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import {
  dropSlotWhenReleased,
  openPooledDatabase,
  uniqueName,
  type PooledTestDatabase,
} from './test-helpers.js';

/** Options of {@link slotFixture}. */
export interface SlotFixtureOptions {
  /** Statements run on the new database first, in order (tables, seed rows). */
  statements?: readonly string[];
  /** What the publication covers: the text after `FOR TABLE`, e.g. `'events, counters'`. */
  publish: string;
  /** Runs in `afterAll` after the slot is dropped, before the pool closes; its error is ignored. */
  cleanup?: (db: PooledTestDatabase, fixture: SlotFixture) => Promise<unknown>;
}

/** What {@link slotFixture} returns. `db` and `dir` exist from `beforeAll` on. */
export interface SlotFixture {
  /** The file's database (a pooled connection). */
  readonly db: PooledTestDatabase;
  /** A temporary directory for the file (child processes' output files). */
  readonly dir: string;
  /** The name of the file's pgoutput slot. */
  readonly slot: string;
  /** The name of the file's publication. */
  readonly publication: string;
}

/**
 * A test file's replication set-up, in its `beforeAll`: a fresh database with `statements` run,
 * a publication over `publish` and a pgoutput slot (uniquely named), and a temporary directory;
 * in `afterAll` the slot is dropped once its holder let go, `cleanup` runs, the pool closes and
 * the directory is removed. For tests that run consumers in child processes.
 *
 * @example
 * const fx = slotFixture('disp_crash', {
 *   statements: ['CREATE TABLE events (id bigserial PRIMARY KEY, k int NOT NULL)'],
 *   publish: 'events',
 * });
 * it('...', async () => { spawnSource(child, [fx.db.url, fx.slot, fx.publication]); });
 */
export function slotFixture(prefix: string, options: SlotFixtureOptions): SlotFixture {
  const slot = uniqueName(prefix);
  const publication = uniqueName(`${prefix}_pub`);
  let db: PooledTestDatabase | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    db = await openPooledDatabase(prefix);
    dir = mkdtempSync(join(tmpdir(), `koyo-${prefix}-`));
    for (const statement of options.statements ?? []) await db.query(statement);
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE ${options.publish}`);
    await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
  });
  afterAll(async () => {
    if (db) {
      await dropSlotWhenReleased(db, slot).catch(() => undefined);
      await options.cleanup?.(db, fixture).catch(() => undefined);
      await db.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const opened = <T>(value: T | undefined, what: string): T => {
    if (value === undefined)
      throw new Error(`${prefix}: the ${what} is set up in beforeAll; use it in tests and hooks`);
    return value;
  };
  const fixture: SlotFixture = {
    get db() {
      return opened(db, 'database');
    },
    get dir() {
      return opened(dir, 'directory');
    },
    slot,
    publication,
  };
  return fixture;
}
