// Replication origins: create/list/drop, the slot's origin dropped with the slot, a held origin
// (bounded wait, ORIGIN_ACTIVE, force), and diagnose({ origins: true }): privileges and orphans.
import { createTestDatabase, type TestDatabase } from '@koyo/testing/vitest';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSlotManager,
  diagnose,
  ensureOrigin,
  KoyoSlotError,
  originNameForSlot,
  type DiagnosticCheck,
  type SlotManager,
} from '../src/index.js';
import { sql } from './_helpers.js';

const suffix = `${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const role = `origin_plain_${suffix}`;
let db: TestDatabase;
let manager: SlotManager;

const originCount = async (name: string): Promise<number> =>
  (
    await sql<{ n: number }>(
      db.url,
      'SELECT count(*)::int AS n FROM pg_replication_origin WHERE roname = $1',
      [name],
    )
  )[0]!.n;

async function holdOrigin(name: string): Promise<pg.Client> {
  const client = new pg.Client(db.url);
  await client.connect();
  await client.query('SELECT pg_replication_origin_session_setup($1)', [name]);
  return client;
}

beforeAll(async () => {
  db = await createTestDatabase('slot_origins');
  manager = createSlotManager(db.url);
  await sql(db.url, `CREATE ROLE ${role} LOGIN REPLICATION`);
});

afterAll(async () => {
  await manager.close();
  await sql(db.url, `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  await db.drop();
});

describe('replication origins', () => {
  it('creates once, lists, and drops', async () => {
    const name = `koyo_plain_origin_${suffix}`;
    const client = new pg.Client(db.url);
    await client.connect();
    try {
      expect(await ensureOrigin(client, name)).toBe(true);
      expect(await ensureOrigin(client, name)).toBe(false);
    } finally {
      await client.end();
    }
    const listed = (await manager.listOrigins()).find((o) => o.name === name);
    expect(listed).toMatchObject({ name, progress: null });
    expect(await manager.dropOrigin(name)).toBe(true);
    expect(await manager.dropOrigin(name)).toBe(false);
    expect(await originCount(name)).toBe(0);
  });

  it('dropSlot drops the slot’s origin too (keepOrigin keeps it)', async () => {
    const slot = `origins_slot_${suffix}`;
    const origin = originNameForSlot(slot);
    expect(origin).toBe(`koyo_${slot}`);
    await sql(db.url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await sql(db.url, 'SELECT pg_replication_origin_create($1)', [origin]);
    expect(await manager.dropSlot(slot, { keepOrigin: true })).toBe(true);
    expect(await originCount(origin)).toBe(1);
    await sql(db.url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    expect(await manager.dropSlot(slot)).toBe(true);
    expect(await originCount(origin)).toBe(0);
  });

  it('a held origin: ORIGIN_ACTIVE after the bounded wait; force terminates the holder', async () => {
    const name = `koyo_held_${suffix}`;
    await sql(db.url, 'SELECT pg_replication_origin_create($1)', [name]);
    const holder = await holdOrigin(name);
    holder.on('error', () => undefined);
    const error = await manager.dropOrigin(name, { waitMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KoyoSlotError);
    expect((error as KoyoSlotError).code).toBe('ORIGIN_ACTIVE');
    expect(await originCount(name)).toBe(1);
    expect(await manager.dropOrigin(name, { force: true })).toBe(true);
    expect(await originCount(name)).toBe(0);
    await holder.end().catch(() => undefined);
  });

  it('diagnose({ origins: true }): the GRANTs a role lacks, and origins without their slot', async () => {
    const orphan = `koyo_gone_slot_${suffix}`;
    await sql(db.url, 'SELECT pg_replication_origin_create($1)', [orphan]);
    try {
      const url = db.url.replace(/\/\/[^@/]*@/, `//${role}@`);
      const checks = await diagnose(url, { origins: true });
      const byId = (id: string): DiagnosticCheck | undefined => checks.find((c) => c.id === id);
      expect(byId('origin_privileges')).toMatchObject({ ok: false, severity: 'error' });
      expect(byId('origin_privileges')!.fix).toContain(
        `GRANT EXECUTE ON FUNCTION pg_catalog.pg_replication_origin_session_setup(text) TO "${role}";`,
      );
      expect(byId(`orphan_origin:${orphan}`)).toMatchObject({
        ok: false,
        severity: 'warning',
        fix: `SELECT pg_replication_origin_drop('${orphan}');`,
      });
      const superuser = await diagnose(db.url, { origins: true });
      expect(superuser.find((c) => c.id === 'origin_privileges')).toMatchObject({ ok: true });
    } finally {
      await manager.dropOrigin(orphan);
    }
  });
});
