import { beforeAll, describe, expect, it } from 'vitest';
import { koyo, startKoyo, uniqueName, useDb } from './helpers.js';

const db = useDb('cli_tail');

beforeAll(async () => {
  await db.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL)');
  await db.query('CREATE TABLE other (id int PRIMARY KEY)');
});

function jsonLines(text: string): any[] {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}

async function slotNames(): Promise<string[]> {
  return (
    await db.query<{ name: string }>(
      'SELECT slot_name::text AS name FROM pg_replication_slots WHERE database = $1',
      [db.name],
    )
  ).map((row) => row.name);
}

describe('koyo tail', () => {
  it('--table --json prints one parseable line per insert, update and delete, through a temporary slot', async () => {
    const before = await slotNames();
    const live = startKoyo(
      ['tail', '--url', db.url, '--table', 'items', '--json', '--limit', '3', '--interval', '50'],
      {},
    );
    await live.waitFor(/Ctrl-C to stop/, 'tail to be ready');
    // The temporary slot belongs to tail's session.
    const [temp] = await db.query<{ name: string; temporary: boolean }>(
      "SELECT slot_name::text AS name, temporary FROM pg_replication_slots WHERE database = $1 AND slot_name LIKE 'koyo_tail_%'",
      [db.name],
    );
    expect(temp?.temporary).toBe(true);
    await db.query('INSERT INTO other VALUES (1)'); // filtered out by --table
    await db.query("INSERT INTO items VALUES (1, 'pen', 2)");
    await db.query('UPDATE items SET qty = 3 WHERE id = 1');
    await db.query('DELETE FROM items WHERE id = 1');
    const result = await live.exited;
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({
      kind: 'insert',
      schema: 'public',
      table: 'items',
      key: { id: 1 },
      new: { id: 1, name: 'pen', qty: 2 },
      old: null,
      position: 0,
    });
    expect(lines[1]).toMatchObject({
      kind: 'update',
      table: 'items',
      key: { id: 1 },
      new: { id: 1, name: 'pen', qty: 3 },
    });
    expect(lines[2]).toMatchObject({
      kind: 'delete',
      table: 'items',
      key: { id: 1 },
      new: null,
      old: { id: 1 },
    });
    for (const line of lines) expect(line.commitLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    // The temporary slot and the publication tail made for --table are gone.
    expect(await slotNames()).toEqual(before);
    expect(
      await db.query("SELECT pubname FROM pg_publication WHERE pubname LIKE 'koyo_tail_%'"),
    ).toEqual([]);
  });

  it('prints the dispatcher values: FULL identity keyed by the primary key, unchanged TOAST from the old row, domains parsed', async () => {
    await db.query('CREATE DOMAIN qty_positive AS int CHECK (VALUE > 0)');
    await db.query('CREATE TABLE docs (id int PRIMARY KEY, body text NOT NULL, n qty_positive)');
    await db.query('ALTER TABLE docs REPLICA IDENTITY FULL');
    // Stored out of line without compression, so an UPDATE that keeps it sends it as unchanged.
    await db.query('ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL');
    const live = startKoyo(
      ['tail', '--url', db.url, '--table', 'docs', '--json', '--limit', '2', '--interval', '50'],
      {},
    );
    await live.waitFor(/Ctrl-C to stop/, 'tail to be ready');
    const body = 'x'.repeat(10_000);
    await db.query('INSERT INTO docs VALUES (1, $1, 3)', [body]);
    await db.query('UPDATE docs SET n = 4 WHERE id = 1');
    const result = await live.exited;
    expect(result.code, result.stderr).toBe(0);
    const [insert, update] = jsonLines(result.stdout);
    expect(insert).toMatchObject({ kind: 'insert', key: { id: 1 }, new: { id: 1, body, n: 3 } });
    expect(update).toMatchObject({
      kind: 'update',
      key: { id: 1 },
      new: { id: 1, body, n: 4 },
      old: { id: 1, body, n: 3 },
      unchanged: ['body'],
    });
    // The key is the primary key, not every column (toMatchObject would accept a wider one).
    expect([insert.key, update.key]).toEqual([{ id: 1 }, { id: 1 }]);
    expect(update).not.toHaveProperty('id');
  });

  it('text mode prints one line per change; SIGINT stops it with exit 0', async () => {
    const publication = uniqueName('pub_tail');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE items, other`);
    const live = startKoyo(
      ['tail', '--url', db.url, '--publication', publication, '--interval', '50'],
      {},
    );
    await live.waitFor(/Ctrl-C to stop/, 'tail to be ready');
    await db.query("INSERT INTO items VALUES (2, 'ink', 1)");
    await db.query('INSERT INTO other VALUES (2)');
    await live.waitFor(/insert public\.other \{"id":2\}/, 'the second change');
    live.child.kill('SIGINT');
    const result = await live.exited;
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^[0-9A-F]+\/[0-9A-F]+ insert public\.items \{"id":2,"name":"ink","qty":1\}$/,
      ),
      expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+ insert public\.other \{"id":2\}$/),
    ]);
  });

  it('--slot NAME --peek shows pending changes of an existing slot without consuming them', async () => {
    const slot = uniqueName('cli_peek');
    const publication = uniqueName('pub_peek');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE items`);
    await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const confirmed = async (): Promise<string> =>
      (
        await db.query<{ lsn: string }>(
          'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
          [slot],
        )
      )[0]!.lsn;
    const before = await confirmed();
    await db.query("INSERT INTO items VALUES (10, 'a', 1), (11, 'b', 1)");
    for (let run = 0; run < 2; run++) {
      const result = await koyo([
        'tail',
        '--url',
        db.url,
        '--slot',
        slot,
        '--peek',
        '--publication',
        publication,
        '--json',
        '--limit',
        '2',
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(jsonLines(result.stdout).map((line) => line.new.id)).toEqual([10, 11]);
    }
    expect(await confirmed()).toBe(before);
  });

  it('--peek without --slot, and --slot without --peek, are usage errors', async () => {
    const peek = await koyo(['tail', '--url', db.url, '--peek']);
    expect(peek.code).toBe(2);
    expect(peek.stderr).toContain('--peek needs --slot NAME');
    expect(peek.stderr).toContain('Usage: koyo tail');
    const slot = await koyo(['tail', '--url', db.url, '--slot', 'some_slot']);
    expect(slot.code).toBe(2);
    expect(slot.stderr).toContain('--slot needs --peek');
  });
});

describe('koyo tail refuses what would print nothing', () => {
  it('a --table that is not in the publication, or a missing publication, is one error line, exit 1', async () => {
    const publication = uniqueName('pub_only_items');
    await db.query(`CREATE PUBLICATION ${publication} FOR TABLE items`);
    const notIn = await koyo([
      'tail',
      '--url',
      db.url,
      '--publication',
      publication,
      '--table',
      'other',
    ]);
    expect(notIn.code).toBe(1);
    expect(notIn.stderr.trim()).toBe(
      `koyo tail: error: table "public"."other" is not in publication "${publication}" (it has: public.items): tail would never print anything`,
    );
    const missing = await koyo(['tail', '--url', db.url, '--publication', 'no_such_pub']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(
      /^koyo tail: error: publication "no_such_pub" does not exist in this database/,
    );
  });
});
