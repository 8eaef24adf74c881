import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import type { Router } from '../src/index.js';
import { pgDriver } from '../src/pg-driver.js';
import { createRoutedPool } from '../src/pg.js';
import { postgresDriver } from '../src/postgres-driver.js';
import { PRIMARY_POSITION_SQL } from '../src/replica-health.js';
import { createRoutedSql } from '../src/postgres.js';
import { queryUrl, waitForReplay } from './_helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('router_ryw_pipeline');
  await queryUrl(db.url, 'CREATE TABLE items (id bigserial PRIMARY KEY, note text NOT NULL)');
  await waitForReplay(db.url, db.replicaUrls);
});
afterAll(async () => {
  await db?.drop();
});

/**
 * One replica, read-your-writes by LSN, and no periodic probes that would mix with the ones counted.
 * `ownWrites: 'wait'` sends reads after the session's own write to the replica (checked, waited
 * for); the default sends them to the primary until the replica is known to have replayed it.
 */
const rywOptions = (ownWrites: 'primary' | 'wait' = 'wait') =>
  ({
    primary: db.url,
    replicas: [db.replicaUrls[0]!],
    readYourWrites: { mode: 'lsn', waitMs: 2000, ...(ownWrites === 'wait' ? { ownWrites } : {}) },
    probeIntervalMs: 600_000,
  }) as const;

/** One adapter: insert a row and read it back by key, in one session. */
interface Subject {
  readonly router: Router<unknown>;
  insertThenRead(note: string, between?: () => Promise<void>): Promise<string | undefined>;
  end(): Promise<void>;
}

const subjects: Record<string, (ownWrites?: 'primary' | 'wait') => Subject> = {
  pg: (ownWrites) => {
    const pool = createRoutedPool(rywOptions(ownWrites));
    return {
      router: pool.router,
      insertThenRead: async (note, between) => {
        const written = await pool.query<{ id: string }>(
          'INSERT INTO items (note) VALUES ($1) RETURNING id',
          [note],
        );
        await between?.();
        const read = await pool.query<{ note: string }>('SELECT note FROM items WHERE id = $1', [
          written.rows[0]!.id,
        ]);
        return read.rows[0]?.note;
      },
      end: () => pool.end(),
    };
  },
  'postgres.js': (ownWrites) => {
    const sql = createRoutedSql(rywOptions(ownWrites));
    return {
      router: sql.router as Router<unknown>,
      insertThenRead: async (note, between) => {
        const [written] = await sql<
          { id: string }[]
        >`INSERT INTO items (note) VALUES (${note}) RETURNING id`;
        await between?.();
        const [read] = await sql<
          { note: string }[]
        >`SELECT note FROM items WHERE id = ${written!.id}`;
        return read?.note;
      },
      end: () => sql.end(),
    };
  },
};

describe.each(Object.keys(subjects))('read-your-writes in lsn mode, %s', (name) => {
  it("learns each write position in the write's round trip and checks the replica in the read's: no separate primary probe, every read sees its write", async () => {
    const subject = subjects[name]!();
    const probe = vi.spyOn(name === 'pg' ? pgDriver : postgresDriver, 'probe');
    try {
      await subject.router.probe(); // the start-up probe round, then none for 10 minutes
      await subject.router.settled();
      probe.mockClear();
      const before = subject.router.stats();
      for (let i = 0; i < 50; i++) {
        const note = `${name}-${i}`;
        expect(await subject.router.withToken(undefined, () => subject.insertThenRead(note))).toBe(
          note,
        );
      }
      const after = subject.router.stats();
      // Each write's position came with the write: the primary was never asked for it separately.
      // (The replica is asked separately only when a read's own check found it too far behind.)
      const asked = probe.mock.calls.map((call) => call[1]);
      expect(asked).not.toContain(PRIMARY_POSITION_SQL);
      // Reads that found the replica behind ran again (checked again, or on the primary) and still
      // saw the row; the replica served some.
      expect(after.replicas[0]!.reads - before.replicas[0]!.reads).toBeGreaterThan(0);
    } finally {
      probe.mockRestore();
      await subject.end();
    }
  });
});

describe.each(Object.keys(subjects))('read-your-writes in lsn mode, own writes, %s', (name) => {
  it("reads right after the session's own write go to the primary at once (no check, no wait); once the replica is known past the write, to the replica", async () => {
    const subject = subjects[name]!('primary');
    const probe = vi.spyOn(name === 'pg' ? pgDriver : postgresDriver, 'probe');
    try {
      await subject.router.probe();
      await subject.router.settled();
      probe.mockClear();
      const before = subject.router.stats();
      for (let i = 0; i < 20; i++) {
        const note = `${name}-own-${i}`;
        expect(await subject.router.withToken(undefined, () => subject.insertThenRead(note))).toBe(
          note,
        );
      }
      const after = subject.router.stats();
      expect(after.replicas[0]!.reads - before.replicas[0]!.reads).toBe(0);
      expect(after.primary.reads - before.primary.reads).toBe(20);
      // Nobody was asked for a position: the writes brought theirs, the reads did not wait.
      expect(probe).not.toHaveBeenCalled();

      // The replica replays the session's write and a probe sees it: the next read goes there.
      const note = `${name}-own-replayed`;
      const seen = await subject.router.withToken(undefined, () =>
        subject.insertThenRead(note, async () => {
          await waitForReplay(db.url, [db.replicaUrls[0]!]);
          await subject.router.probe();
        }),
      );
      expect(seen).toBe(note);
      expect(subject.router.stats().replicas[0]!.reads - after.replicas[0]!.reads).toBe(1);
    } finally {
      probe.mockRestore();
      await subject.end();
    }
  });
});

describe('read-your-writes in lsn mode, a multi-statement write', () => {
  it('notes the write of a string that opens and commits a transaction ("BEGIN; INSERT ...; COMMIT")', async () => {
    const pool = createRoutedPool(rywOptions());
    try {
      await pool.router.withToken(undefined, async () => {
        expect(pool.router.readYourWritesToken()).toBeUndefined();
        await pool.query("BEGIN; INSERT INTO items (note) VALUES ('multi-statement'); COMMIT");
        // The session has a position to read after (without one, its next read could go to a
        // replica that has not replayed the commit).
        expect(pool.router.readYourWritesToken()).toBeDefined();
        const read = await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM items WHERE note = 'multi-statement'",
        );
        expect(read.rows[0]!.n).toBe(1);
      });
    } finally {
      await pool.end();
    }
  });
});
