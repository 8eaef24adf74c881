import { testCluster } from '@koyo/testing/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSlotManager,
  diagnose,
  KoyoSlotError,
  openReplicationStream,
  type DiagnosticCheck,
} from '../src/index.js';
import { managedDatabase, slotRow, sql, waitFor } from './_helpers.js';

const byId = (checks: DiagnosticCheck[], id: string): DiagnosticCheck => {
  const check = checks.find((c) => c.id === id);
  if (!check) throw new Error(`no check ${id} in ${checks.map((c) => c.id).join(', ')}`);
  return check;
};

describe('slot manager', () => {
  const { db, manager } = managedDatabase('slot_mgr', [
    'CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE items (id int PRIMARY KEY); CREATE SCHEMA shop; CREATE TABLE shop."Mixed Case" (id int PRIMARY KEY); CREATE TABLE victim (id int)',
  ]);

  it('ensures, alters and drops publications', async () => {
    const first = await manager.ensurePublication('mgr_pub', { tables: ['orders'] });
    expect(first.created).toBe(true);
    expect(first.value.tables).toEqual([{ schema: 'public', name: 'orders' }]);
    const again = await manager.ensurePublication('mgr_pub', {
      tables: ['public.orders', { schema: 'shop', name: 'Mixed Case' }],
    });
    expect(again.created).toBe(false);
    expect(again.value.tables).toEqual([
      { schema: 'public', name: 'orders' },
      { schema: 'shop', name: 'Mixed Case' },
    ]);
    expect((await manager.addTables('mgr_pub', ['items', 'orders'])).tables).toHaveLength(3);
    expect((await manager.removeTables('mgr_pub', ['orders', 'items'])).tables).toEqual([
      { schema: 'shop', name: 'Mixed Case' },
    ]);
    const rows = await sql(
      db.url,
      "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = 'mgr_pub'",
    );
    expect(rows).toEqual([{ schemaname: 'shop', tablename: 'Mixed Case' }]);
    await expect(manager.addTables('mgr_pub', ['no_such_table'])).rejects.toMatchObject({
      code: 'TABLE_NOT_FOUND',
    });
    await expect(manager.ensurePublication('mgr_pub', { allTables: true })).rejects.toMatchObject({
      code: 'PUBLICATION_MISMATCH',
    });
    expect(await manager.dropPublication('mgr_pub')).toBe(true);
    expect(await manager.dropPublication('mgr_pub')).toBe(false);
    await expect(manager.addTables('mgr_pub', ['orders'])).rejects.toMatchObject({
      code: 'PUBLICATION_NOT_FOUND',
    });

    const all = await manager.ensurePublication(
      'mgr_all',
      { allTables: true },
      { publish: ['insert', 'update'] },
    );
    expect(all.value.allTables).toBe(true);
    expect(all.value.publish).toEqual(['insert', 'update']);
    expect(await manager.dropPublication('mgr_all')).toBe(true);
  });

  it('ensures slots idempotently and lists them with lag, wal_status and safe_wal_size', async () => {
    const made = await manager.ensureSlot('mgr_slot');
    expect(made.created).toBe(true);
    expect(made.value).toMatchObject({
      name: 'mgr_slot',
      plugin: 'pgoutput',
      type: 'logical',
      database: db.name,
      temporary: false,
      invalidated: false,
    });
    const again = await manager.ensureSlot('mgr_slot');
    expect(again.created).toBe(false);
    await expect(manager.ensureSlot('mgr_slot', { twoPhase: true })).rejects.toMatchObject({
      code: 'SLOT_MISMATCH',
    });

    await sql(db.url, 'INSERT INTO orders SELECT generate_series(1, 1000)');
    const slots = await manager.listSlots();
    const slot = slots.find((s) => s.name === 'mgr_slot')!;
    const server = await slotRow(db.url, 'mgr_slot');
    expect(slot.confirmedFlushLsn).toBe(server!.confirmed);
    expect(slot.lagBytes).toBeGreaterThan(0);
    expect(slot.retainedBytes).toBeGreaterThanOrEqual(slot.lagBytes!);
    expect(slot.walStatus).toBe('reserved');
    expect(slot.safeWalSize).toBeGreaterThan(0); // @koyo/testing sets max_slot_wal_keep_size = 10GB
    expect(slot.active).toBe(false);
    expect(slot.activePid).toBeNull();

    const twoPhase = await manager.ensureSlot('mgr_two_phase', { twoPhase: true });
    expect(twoPhase.value.twoPhase).toBe(true);
    if (testCluster().major >= 17) {
      expect((await manager.ensureSlot('mgr_failover', { failover: true })).value.failover).toBe(
        true,
      );
    } else {
      await expect(manager.ensureSlot('mgr_failover', { failover: true })).rejects.toMatchObject({
        code: 'UNSUPPORTED',
      });
    }

    const temp = createSlotManager(db.url);
    expect((await temp.ensureSlot('mgr_temporary', { temporary: true })).value.temporary).toBe(
      true,
    );
    await temp.close();
    await waitFor(
      'the temporary slot to go with its session',
      async () => !(await slotRow(db.url, 'mgr_temporary')),
    );

    expect(await manager.dropSlot('mgr_two_phase')).toBe(true);
    expect(await manager.dropSlot('mgr_two_phase')).toBe(false);
    expect(await manager.getSlot('mgr_two_phase')).toBeUndefined();
  });

  it('dropSlot({ force }) terminates the holder', async () => {
    await manager.ensurePublication('mgr_force_pub', { tables: ['orders'] });
    await manager.ensureSlot('mgr_force');
    const stream = openReplicationStream({
      connection: db.url,
      slot: 'mgr_force',
      publications: ['mgr_force_pub'],
    });
    await stream.ready();
    await expect(manager.dropSlot('mgr_force')).rejects.toMatchObject({ code: 'SLOT_ACTIVE' });
    expect(await manager.dropSlot('mgr_force', { force: true })).toBe(true);
    expect(await slotRow(db.url, 'mgr_force')).toBeUndefined();
    await stream.stop();
  });

  it('refuses hostile names with KoyoSlotError before anything is sent', async () => {
    // Nothing listens on port 1: reaching the server would give CONNECTION_FAILED instead.
    const offline = createSlotManager('postgres://postgres@127.0.0.1:1/postgres');
    const hostileSlots = [
      "x'); DROP TABLE victim; --",
      'x"; DROP TABLE victim; --',
      'UPPER',
      '',
      'a'.repeat(64),
      'é',
      'a b',
    ];
    const hostilePublications = [
      'p"; DROP TABLE victim; --',
      "p'; DROP TABLE victim; --",
      '',
      'a'.repeat(64),
      'p\u0000',
    ];
    for (const target of [offline, manager]) {
      for (const name of hostileSlots) {
        await expect(target.ensureSlot(name)).rejects.toMatchObject({
          name: 'KoyoSlotError',
          code: 'INVALID_IDENTIFIER',
        });
        await expect(target.dropSlot(name, { force: true })).rejects.toMatchObject({
          code: 'INVALID_IDENTIFIER',
        });
        await expect(target.diagnose({ slot: name })).rejects.toMatchObject({
          code: 'INVALID_IDENTIFIER',
        });
      }
      for (const name of hostilePublications) {
        await expect(target.ensurePublication(name, { tables: ['orders'] })).rejects.toMatchObject({
          code: 'INVALID_IDENTIFIER',
        });
        await expect(target.dropPublication(name)).rejects.toMatchObject({
          code: 'INVALID_IDENTIFIER',
        });
      }
      await expect(target.ensurePublication('fine', { tables: ['a.b.c'] })).rejects.toMatchObject({
        code: 'INVALID_IDENTIFIER',
      });
      await expect(
        target.ensurePublication('fine', { tables: ['bad\nname'] }),
      ).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    }
    await offline.close();
    // A stray quote cannot be parsed; a quoted name is an identifier, not SQL: it simply does not exist.
    await expect(
      manager.ensurePublication('mgr_quoted', { tables: ['victim"; DROP TABLE victim; --'] }),
    ).rejects.toMatchObject({ code: 'INVALID_IDENTIFIER' });
    await expect(
      manager.ensurePublication('mgr_quoted', { tables: ['"victim""; DROP TABLE victim; --"'] }),
    ).rejects.toMatchObject({ code: 'TABLE_NOT_FOUND' });
    expect(await sql(db.url, "SELECT to_regclass('public.victim') IS NOT NULL AS present")).toEqual(
      [{ present: true }],
    );
    expect(
      await sql(
        db.url,
        "SELECT count(*)::int AS n FROM pg_publication WHERE pubname <> 'mgr_force_pub'",
      ),
    ).toEqual([{ n: 0 }]);
  });
});

describe('diagnose', () => {
  // Registered before the database's hooks, so it runs after the database (which holds the
  // role's grants) is dropped: Vitest runs afterAll hooks in reverse order.
  afterAll(async () => {
    await sql(testCluster().primary.url, 'DROP ROLE IF EXISTS koyo_plain');
  });
  const { db, manager } = managedDatabase('slot_diag', [
    `CREATE TABLE good (id int PRIMARY KEY);
     CREATE TABLE nokey (v int);
     CREATE TABLE nothing (id int PRIMARY KEY); ALTER TABLE nothing REPLICA IDENTITY NOTHING;
     CREATE TABLE full_ident (v int); ALTER TABLE full_ident REPLICA IDENTITY FULL;`,
  ]);
  beforeAll(async () => {
    await manager.ensurePublication('diag_ok', { tables: ['good', 'full_ident'] });
    await manager.ensurePublication('diag_bad', { tables: ['good', 'nokey', 'nothing'] });
    await manager.ensureSlot('diag_slot');
  });

  it('passes every check on a healthy setup, each as { id, ok, severity, message, fix }', async () => {
    const checks = await diagnose(db.url, { slot: 'diag_slot', publication: 'diag_ok' });
    for (const check of checks) {
      expect(Object.keys(check)).toEqual(['id', 'ok', 'severity', 'message', 'fix']);
      expect(check.ok, `${check.id}: ${check.message}`).toBe(true);
    }
    const ids = checks.map((c) => c.id);
    for (const id of [
      'connect',
      'server_version',
      'wal_level',
      'replication_slots',
      'wal_senders',
      'replication_role',
      'create_publication',
      'publication',
      'replica_identity',
      'slot',
      'slot_invalidated',
      'slot_active',
      'slot_lag',
    ]) {
      expect(ids).toContain(id);
    }
    expect(byId(checks, 'publication').message).toMatch(/public\.full_ident, public\.good/);
  });

  it('reports each problem with a fix that works', async () => {
    const checks = await manager.diagnose({ slot: 'diag_missing', publication: 'diag_bad' });
    const nokey = byId(checks, 'replica_identity:public.nokey');
    expect(nokey).toMatchObject({ ok: false, severity: 'warning' });
    expect(nokey.fix).toMatch(/REPLICA IDENTITY FULL/);
    expect(byId(checks, 'replica_identity:public.nothing')).toMatchObject({
      ok: false,
      severity: 'warning',
    });
    expect(checks.some((c) => c.id === 'replica_identity:public.good')).toBe(false);
    const slot = byId(checks, 'slot');
    expect(slot).toMatchObject({ ok: false, severity: 'error' });

    // Apply the suggested fixes: the checks pass afterwards.
    await sql(db.url, nokey.fix!.split('--')[0]!);
    await sql(db.url, byId(checks, 'replica_identity:public.nothing').fix!.split('--')[0]!);
    await sql(db.url, slot.fix!);
    const after = await manager.diagnose({ slot: 'diag_missing', publication: 'diag_bad' });
    expect(after.filter((c) => !c.ok)).toEqual([]);

    const missing = await manager.diagnose({ publication: 'diag_nope' });
    const publication = byId(missing, 'publication');
    expect(publication).toMatchObject({ ok: false, severity: 'error' });
    expect(publication.fix).toMatch(/^CREATE PUBLICATION "diag_nope"/);
  });

  it('reports a slot held by another process, and a role without REPLICATION or CREATE', async () => {
    const stream = openReplicationStream({
      connection: db.url,
      slot: 'diag_slot',
      publications: ['diag_ok'],
    });
    await stream.ready();
    const held = await manager.diagnose({ slot: 'diag_slot' });
    expect(byId(held, 'slot_active').message).toMatch(/held by PID \d+/);
    expect(byId(held, 'slot_active').fix).toMatch(/pg_terminate_backend\(\d+\)/);
    await stream.stop();

    await sql(
      db.cluster.primary.url,
      'DROP ROLE IF EXISTS koyo_plain; CREATE ROLE koyo_plain LOGIN',
    );
    const plainUrl = db.url.replace('postgres://postgres@', 'postgres://koyo_plain@');
    const checks = await diagnose(plainUrl, { publication: 'diag_new' });
    const role = byId(checks, 'replication_role');
    expect(role).toMatchObject({
      ok: false,
      severity: 'error',
      fix: 'ALTER ROLE "koyo_plain" WITH REPLICATION;',
    });
    expect(byId(checks, 'create_publication')).toMatchObject({ ok: false, severity: 'error' });
    await sql(db.url, role.fix!);
    await sql(db.url, byId(checks, 'create_publication').fix!);
    const fixed = await diagnose(plainUrl, { publication: 'diag_new' });
    expect(byId(fixed, 'replication_role').ok).toBe(true);
    expect(byId(fixed, 'create_publication').ok).toBe(true);
  });

  it('reports a failed connection as a check, not a throw', async () => {
    const checks = await diagnose('postgres://postgres@127.0.0.1:1/postgres', { slot: 'x' });
    expect(checks).toEqual([
      expect.objectContaining({ id: 'connect', ok: false, severity: 'error' }),
    ]);
    expect(checks[0]!.fix).toBeTruthy();
  });

  it('throws KoyoSlotError for a wrong argument', async () => {
    await expect(diagnose(db.url, null as never)).rejects.toBeInstanceOf(KoyoSlotError);
  });
});
