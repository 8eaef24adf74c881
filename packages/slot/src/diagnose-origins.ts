import {
  listOrigins,
  missingOriginPrivileges,
  ORIGIN_PREFIX,
  originGrantStatements,
  originNameForSlot,
} from './origins.js';
import { quoteLiteral } from './identifiers.js';
import type { SqlSession } from './session.js';
import type { Fail, Pass } from './diagnose-types.js';

/** @internal privileges for origin-tagged writes, the slot's origin, and koyo origins left without their slot. */
export async function checkOrigins(
  session: SqlSession,
  slotName: string | undefined,
  pass: Pass,
  fail: Fail,
): Promise<void> {
  const client = {
    query: async (sql: string, params?: unknown[]) => ({ rows: await session.query(sql, params) }),
  };
  const { role, missing } = await missingOriginPrivileges(client);
  if (missing.length === 0) {
    pass(
      'origin_privileges',
      `Role "${role}" may use replication origins (loop-safe writes from handlers).`,
    );
  } else {
    fail(
      'origin_privileges',
      'error',
      `Role "${role}" may not execute ${missing.join(', ')}: loop-safe writes from handlers (dispatcher.db) need them.`,
      originGrantStatements(role, missing).join(' '),
    );
  }
  const origins = await listOrigins(client);
  if (slotName !== undefined) {
    const name = originNameForSlot(slotName);
    const own = origins.find((o) => o.name === name);
    pass(
      'origin',
      own
        ? `Replication origin "${name}" exists${own.progress ? ` (progress ${own.progress})` : ''}.`
        : `Replication origin "${name}" does not exist yet; a dispatcher creates it on first use of dispatcher.db.`,
    );
  }
  const slots = new Set(
    (
      await session.query<{ name: string }>(
        'SELECT slot_name::text AS name FROM pg_replication_slots',
      )
    ).map((r) => r.name),
  );
  const orphans = origins.filter(
    (o) => o.name.startsWith(ORIGIN_PREFIX) && !slots.has(o.name.slice(ORIGIN_PREFIX.length)),
  );
  for (const orphan of orphans) {
    fail(
      `orphan_origin:${orphan.name}`,
      'warning',
      `Replication origin "${orphan.name}" belongs to slot "${orphan.name.slice(ORIGIN_PREFIX.length)}", which no longer exists.`,
      `SELECT pg_replication_origin_drop(${quoteLiteral(orphan.name)});`,
    );
  }
  if (orphans.length === 0)
    pass('orphan_origins', 'No koyo replication origin is left without its slot.');
}
