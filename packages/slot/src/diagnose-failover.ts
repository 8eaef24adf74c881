import pg from 'pg';
import { toClientConfig, type ConnectionOptions } from './connection.js';
import { hostCandidates, describeHost } from './hosts.js';
import { quoteLiteral } from './identifiers.js';
import type { Fail, Pass } from './diagnose-types.js';
import type { SqlSession } from './session.js';
import type { SlotInfo } from './slot-info.js';

/** @internal what the failover checks need from the main diagnosis. */
export interface FailoverContext {
  session: SqlSession;
  /** The connection diagnosed: its other hosts are the standbys checked, unless `standbys` is given. */
  connection: ConnectionOptions | undefined;
  standbys: readonly ConnectionOptions[] | undefined;
  version: number;
  db: string;
  slotName: string | undefined;
  slot: SlotInfo | undefined;
  pass: Pass;
  fail: Fail;
}

const RELOAD = 'SELECT pg_reload_conf();';

/** Splits `synchronized_standby_slots` ('a, b' or '"a"') into slot names; `*` is kept. */
function slotList(setting: string): string[] {
  return setting
    .split(',')
    .map((name) => name.trim().replace(/^"(.*)"$/, '$1'))
    .filter((name) => name !== '');
}

/**
 * @internal the failover set-up of PostgreSQL 17+: the slot is a failover slot, the primary's
 * `synchronized_standby_slots` names the standbys' physical slots, and each standby synchronises
 * slots (`sync_replication_slots`, `hot_standby_feedback`, `primary_slot_name`, `dbname` in
 * `primary_conninfo`) and has the slot. Each failed check carries the SQL that fixes it.
 */
export async function checkFailover(ctx: FailoverContext): Promise<void> {
  const { session, version, pass, fail } = ctx;
  if (version < 170000) {
    fail(
      'failover',
      'error',
      `PostgreSQL ${Math.floor(version / 10000)} has no failover slots (17+): a logical slot does not survive a promotion.`,
      "Upgrade to PostgreSQL 17+, or after a failover create the slot on the new primary and backfill (createDispatcher({ ..., backfill: 'initial' }) or koyo run --backfill), or keep slots with your HA tool (Patroni permanent slots, pg_failover_slots).",
    );
    return;
  }
  if (ctx.slotName !== undefined && ctx.slot) {
    if (ctx.slot.failover === true)
      pass(
        'failover_slot',
        `Replication slot "${ctx.slotName}" is a failover slot: standbys that synchronise slots keep it.`,
      );
    else
      fail(
        'failover_slot',
        'error',
        `Replication slot "${ctx.slotName}" is not a failover slot: no standby keeps it, so it is gone after a failover.`,
        `psql "dbname=${ctx.db} replication=database" -c 'ALTER_REPLICATION_SLOT ${ctx.slotName} (FAILOVER true)'`,
      );
  }

  const physical = (
    await session.query<{ name: string; active: boolean }>(
      "SELECT slot_name::text AS name, active FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY 1",
    )
  ).map((r) => r.name);
  const [settings] = await session.query<{ standby_slots: string }>(
    "SELECT current_setting('synchronized_standby_slots') AS standby_slots",
  );
  const named = slotList(settings?.standby_slots ?? '');
  const suggested = physical.length > 0 ? physical.join(',') : '<physical slot of each standby>';
  const setNamed = (names: string): string =>
    `ALTER SYSTEM SET synchronized_standby_slots = ${quoteLiteral(names)}; ${RELOAD} -- on the primary`;
  if (named.length === 0) {
    fail(
      'synchronized_standby_slots',
      'warning',
      'synchronized_standby_slots is empty: the slot may confirm changes no standby has received yet, so after a failover a consumer may have handled changes the new primary does not have, and the synchronised slot may be behind.',
      setNamed(suggested),
    );
  } else {
    const unknown = named.filter((name) => name !== '*' && !physical.includes(name));
    if (unknown.length > 0)
      fail(
        'synchronized_standby_slots',
        'error',
        `synchronized_standby_slots names ${unknown.join(', ')}, which ${unknown.length === 1 ? 'is not a physical slot' : 'are not physical slots'} on this server: logical decoding waits for ${unknown.length === 1 ? 'it' : 'them'} forever.`,
        `${setNamed(named.filter((name) => !unknown.includes(name)).join(',') || suggested)} -- or create the slot: SELECT pg_create_physical_replication_slot(${quoteLiteral(unknown[0]!)});`,
      );
    else
      pass(
        'synchronized_standby_slots',
        `synchronized_standby_slots = ${named.join(', ')}: failover slots wait for these standbys.`,
      );
  }

  const standbys =
    ctx.standbys?.map((connection) => toClientConfig(connection)) ??
    (ctx.connection === undefined ? undefined : hostCandidates(ctx.connection)) ??
    [];
  let checked = 0;
  for (const config of standbys) {
    if (await checkStandby(ctx, config, named)) checked++;
  }
  if (checked === 0) {
    fail(
      'failover_standbys',
      'warning',
      'No standby was checked: name the standbys in the connection (postgres://primary:5432,standby:5432/db) or pass them as standbys, so their slot synchronisation settings can be checked.',
      "koyo doctor --url 'postgres://user@primary:5432,standby:5432/db', or diagnose(connection, { failover: true, standbys: ['postgres://user@standby:5432/db'] })",
    );
  }
}

/** Checks one host; false when it is not a standby (the primary itself) or unreachable. */
async function checkStandby(
  ctx: FailoverContext,
  config: pg.ClientConfig,
  named: string[],
): Promise<boolean> {
  const { pass, fail } = ctx;
  const label = describeHost(config);
  const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...config });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    fail(
      `standby:${label}`,
      'warning',
      `Cannot connect to ${label} to check its failover settings: ${(error as Error).message}`,
      'Check that the host accepts connections from here (pg_hba.conf, listen_addresses).',
    );
    return false;
  }
  try {
    const { rows } = await client.query<{
      recovering: boolean;
      sync: string;
      feedback: string;
      slot: string;
    }>(
      `SELECT pg_is_in_recovery() AS recovering, current_setting('sync_replication_slots', true) AS sync,
              current_setting('hot_standby_feedback') AS feedback, current_setting('primary_slot_name') AS slot`,
    );
    const facts = rows[0]!;
    if (!facts.recovering) return false;
    const on = `on ${label}`;
    /** Passes when `setting` is on; else an error saying `why` it must be, and how to turn it on. */
    const requireOn = (setting: string, value: string, why: string): void => {
      if (value === 'on') pass(`standby:${label}:${setting}`, `${setting} = on.`);
      else
        fail(
          `standby:${label}:${setting}`,
          'error',
          `${setting} = ${value}: ${why}`,
          `ALTER SYSTEM SET ${setting} = on; ${RELOAD} -- ${on}`,
        );
    };
    // current_setting(..., true) gives no value on servers without the setting (before 17).
    requireOn(
      'sync_replication_slots',
      facts.sync || 'off',
      'this standby does not synchronise failover slots.',
    );
    requireOn('hot_standby_feedback', facts.feedback, 'slot synchronisation needs it.');
    if (facts.slot === '') {
      const name = `standby_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
      fail(
        `standby:${label}:primary_slot_name`,
        'error',
        'primary_slot_name is empty: the standby must stream through a physical slot for slots to be synchronised.',
        `SELECT pg_create_physical_replication_slot(${quoteLiteral(name)}); -- on the primary; then ALTER SYSTEM SET primary_slot_name = ${quoteLiteral(name)}; ${RELOAD} -- ${on}`,
      );
    } else if (named.length > 0 && !named.includes(facts.slot) && !named.includes('*')) {
      // (An empty synchronized_standby_slots is reported once, for the primary.)
      pass(`standby:${label}:primary_slot_name`, `primary_slot_name = ${facts.slot}.`);
      fail(
        `standby:${label}:synchronized_standby_slots`,
        'warning',
        `This standby streams through physical slot "${facts.slot}", which the primary's synchronized_standby_slots does not name: failover slots may get ahead of it.`,
        `ALTER SYSTEM SET synchronized_standby_slots = ${quoteLiteral([...named, facts.slot].join(','))}; ${RELOAD} -- on the primary`,
      );
    } else {
      pass(
        `standby:${label}:primary_slot_name`,
        `primary_slot_name = ${facts.slot}${named.length > 0 ? ", named by the primary's synchronized_standby_slots" : ''}.`,
      );
    }
    const conninfo = await client
      .query<{ conninfo: string }>("SELECT current_setting('primary_conninfo') AS conninfo")
      .then((result) => result.rows[0]?.conninfo ?? null)
      .catch(() => null); // needs superuser or pg_read_all_settings
    if (conninfo === null) {
      pass(
        `standby:${label}:primary_conninfo`,
        'primary_conninfo cannot be read by this role (it needs pg_read_all_settings); check that it has a dbname.',
      );
    } else if (/(^|\s)dbname\s*=/.test(conninfo)) {
      pass(`standby:${label}:primary_conninfo`, 'primary_conninfo names a database.');
    } else {
      fail(
        `standby:${label}:primary_conninfo`,
        'error',
        'primary_conninfo has no dbname: the slot synchronisation worker cannot connect to the primary.',
        `ALTER SYSTEM SET primary_conninfo = '<the current conninfo> dbname=${ctx.db}'; ${RELOAD} -- ${on}`,
      );
    }
    if (ctx.slotName !== undefined) {
      const { rows: slots } = await client.query<{ synced: boolean; temporary: boolean }>(
        'SELECT synced, temporary FROM pg_replication_slots WHERE slot_name = $1',
        [ctx.slotName],
      );
      const synced = slots[0];
      if (synced?.synced && !synced.temporary)
        pass(
          `standby:${label}:slot`,
          `Replication slot "${ctx.slotName}" is synchronised to this standby.`,
        );
      else
        fail(
          `standby:${label}:slot`,
          'warning',
          `Replication slot "${ctx.slotName}" is ${synced ? 'not synchronised yet (it waits for this standby to catch up with it)' : 'missing on this standby'}: a failover now would lose it.`,
          'Fix the checks above (and make the slot a failover slot); the standby then synchronises it within 30 s, once it has replayed the WAL the slot needs.',
        );
    }
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}
