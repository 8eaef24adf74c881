import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { koyo, lsn, startKoyo, uniqueName, useDb, useProject, waitUntil } from './helpers.js';

const db = useDb('cli_run');
const project = useProject('run');

beforeAll(async () => {
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, total numeric NOT NULL)');
});

describe('koyo init, then koyo run', () => {
  const slot = uniqueName('cli_run');
  const sink = join(project.dir, 'changes.jsonl');

  it('init writes a config and handlers, and refuses to overwrite them without --force', async () => {
    const first = await koyo(['init', '--slot', slot, '--table', 'orders'], { cwd: project.dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('created koyo.config.ts');
    const config = readFileSync(join(project.dir, 'koyo.config.ts'), 'utf8');
    expect(config).toContain("import { defineConfig } from '@koyo/cli'");
    expect(config).toContain(`slot: '${slot}'`);
    expect(config).toContain("tables: ['orders']");
    const handlers = readFileSync(join(project.dir, 'koyo.handlers.ts'), 'utf8');
    expect(handlers).toContain('koyo.onChange(');
    expect(handlers).toContain("koyo.onTable('orders'");

    const again = await koyo(['init'], { cwd: project.dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exist.*--force/);
    expect(readFileSync(join(project.dir, 'koyo.config.ts'), 'utf8')).toBe(config);

    const forced = await koyo(['init', '--force', '--slot', slot, '--table', 'orders'], {
      cwd: project.dir,
    });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('overwrote koyo.config.ts');
  });

  it('the generated handlers file runs as written: koyo run loads it without a build step', async () => {
    const live = startKoyo(['run', '--stats-interval', '0'], {
      cwd: project.dir,
      env: { DATABASE_URL: db.url },
    });
    await live.waitFor(/message="dispatcher started"/, 'the dispatcher to start');
    await db.query('INSERT INTO orders VALUES (1, 9.5)');
    await live.waitFor(
      /message=inserted id=1/,
      "the generated onTable('orders') insert handler to log",
    );
    const result = await live.stop('SIGTERM');
    expect(result.stderr).toContain('message="handlers closed"');
  });

  it('an INSERT reaches the handler; SIGTERM exits 0 with the change acknowledged', async () => {
    // A handler that appends every change to a file, as a user would write it.
    writeFileSync(
      join(project.dir, 'koyo.handlers.ts'),
      `import { appendFileSync } from 'node:fs';
import { defineHandlers, type Change } from '@koyo/cli';

export default defineHandlers((koyo) => {
  koyo.onTable('orders', async (change: Change) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    appendFileSync(${JSON.stringify(sink)}, JSON.stringify(change) + '\\n');
  });
});
`,
    );
    const live = startKoyo(['run', '--stats-interval', '1', '--progress', 'lines'], {
      cwd: project.dir,
      env: { DATABASE_URL: db.url },
    });
    await live.waitFor(/message="dispatcher started"/, 'the dispatcher to start');
    const [inserted0] = await db.query<{ end: string }>(
      'INSERT INTO orders VALUES (2, 42.25) RETURNING pg_current_wal_insert_lsn()::text AS end',
    );
    const end = inserted0!.end;
    await waitUntil(
      () => existsSync(sink) && readFileSync(sink, 'utf8').includes('"id":2'),
      'the change in the sink file',
    );
    const result = await live.stop('SIGTERM');
    expect(result.stderr).toContain(
      'message="stopping: letting running handlers finish" signal=SIGTERM',
    );

    const changes = readFileSync(sink, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const inserted = changes.find((change) => change.new?.id === 2);
    expect(inserted).toMatchObject({
      kind: 'insert',
      schema: 'public',
      table: 'orders',
      new: { id: 2, total: '42.25' },
    });
    // Server truth: the slot's confirmed position is past the insert's commit.
    const [row] = await db.query<{ confirmed: string; active: boolean }>(
      'SELECT confirmed_flush_lsn::text AS confirmed, active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    expect(row!.active).toBe(false);
    expect(lsn(row!.confirmed)).toBeGreaterThan(lsn(inserted.commitLsn));
    expect(lsn(row!.confirmed)).toBeGreaterThan(lsn(end));
  });

  it('a handler file without a default function is one clear error line, exit 1', async () => {
    writeFileSync(join(project.dir, 'koyo.handlers.ts'), 'export const nothing = 1;\n');
    const result = await koyo(['run'], { cwd: project.dir, env: { DATABASE_URL: db.url } });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^koyo run: error: koyo\.handlers\.ts must export a default function/),
    ]);
  });
});

describe('koyo run catch-up and failures', () => {
  const project2 = useProject('catchup');
  const slot = uniqueName('cli_catchup');
  const gate = join(project2.dir, 'gate');
  const seen = join(project2.dir, 'seen.txt');

  beforeAll(async () => {
    await db.query('CREATE TABLE events (id int PRIMARY KEY)');
    const init = await koyo(['init', '--slot', slot, '--table', 'events'], { cwd: project2.dir });
    expect(init.code).toBe(0);
    // Handlers that wait for a gate file: catch-up cannot finish before the test looked at it.
    writeFileSync(
      join(project2.dir, 'koyo.handlers.ts'),
      `import { appendFileSync, existsSync } from 'node:fs';
import { defineHandlers } from '@koyo/cli';

export default defineHandlers((koyo) => {
  koyo.onTable('events', async (change) => {
    while (!existsSync(${JSON.stringify(gate)})) await new Promise((resolve) => setTimeout(resolve, 20));
    if (change.new?.id === 666) {
      appendFileSync(${JSON.stringify(seen)}, 'failed ' + change.commitLsn + '\\n');
      throw new Error('boom: event 666 is cursed');
    }
    appendFileSync(${JSON.stringify(seen)}, String(change.id) + '\\n');
  });
});
`,
    );
  });

  it('shows the lag falling to zero: a progress bar with --progress bar, then "caught up"', async () => {
    // The slot exists and falls behind while nothing runs.
    await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await db.query(`CREATE PUBLICATION ${slot} FOR TABLE events`);
    await db.query('INSERT INTO events SELECT generate_series(1, 200)');
    const live = startKoyo(['run', '--progress', 'bar', '--stats-interval', '0'], {
      cwd: project2.dir,
      env: { DATABASE_URL: db.url },
    });
    await live.waitFor(
      /message="catching up" lag="[\d.]+ (B|kB|MB)" lagBytes=[1-9]\d*/,
      'the initial lag',
    );
    // eslint-disable-next-line no-control-regex -- the terminal escape that redraws the bar line
    await live.waitFor(/\r\x1b\[2Kcatching up \[░+\] 0% lag [\d.]+ (B|kB|MB)/, 'the progress bar');
    writeFileSync(gate, '');
    await live.waitFor(
      /message="caught up" lag="[^"]+" lagBytes=\d+ changes=200/,
      'catch-up to finish',
    );
    const result = await live.stop('SIGINT');
    expect(result.stderr).toContain(
      'message="stopping: letting running handlers finish" signal=SIGINT',
    );
    expect(readFileSync(seen, 'utf8').trim().split('\n')).toHaveLength(200);
  });

  it('a handler that keeps failing stops koyo run with exit 1, one error line, and the change not acknowledged', async () => {
    const [before] = await db.query<{ lsn: string }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    await db.query('INSERT INTO events VALUES (666)');
    const result = await koyo(['run', '--progress', 'lines', '--stats-interval', '0'], {
      cwd: project2.dir,
      env: { DATABASE_URL: db.url, KOYO_LOG_LEVEL: 'debug' },
    });
    expect(result.code).toBe(1);
    const last = result.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^koyo run: error: .*boom: event 666 is cursed/);
    // At debug level the handler's stack is there too, down to the line in koyo.handlers.ts.
    expect(result.stderr).toMatch(
      /level=debug message="stack of the error that stopped koyo run" stack="Error: boom: event 666 is cursed"/,
    );
    expect(result.stderr).toMatch(
      /level=debug message="stack of the error that stopped koyo run" stack="at .*koyo\.handlers\.ts:\d+/,
    );
    const [after] = await db.query<{ lsn: string }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    // Every try was made on the same change, and the slot did not move past its commit.
    const failed = readFileSync(seen, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('failed '));
    expect(failed.length).toBe(3); // retry.attempts defaults to 3
    const commitLsn = lsn(failed[0]!.slice('failed '.length));
    expect(lsn(after!.lsn)).toBeLessThanOrEqual(commitLsn);
    expect(lsn(after!.lsn)).toBeGreaterThanOrEqual(lsn(before!.lsn));
  });
});

describe('koyo run on an idle slot', () => {
  const project3 = useProject('idle');
  const slot = uniqueName('cli_idle');

  it('says "caught up" once the server decoded past the start and nothing waits, without waiting for an acknowledgement', async () => {
    await db.query(
      'CREATE TABLE idle_published (id int PRIMARY KEY); CREATE TABLE idle_other (id int PRIMARY KEY)',
    );
    const init = await koyo(['init', '--slot', slot, '--table', 'idle_published'], {
      cwd: project3.dir,
    });
    expect(init.code).toBe(0);
    // No status update for a minute: "caught up" cannot come from the slot's confirmed position.
    const config = join(project3.dir, 'koyo.config.ts');
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(
        /dispatcher: \{/,
        'dispatcher: {\n    statusIntervalMs: 60_000,',
      ),
    );
    await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await db.query(`CREATE PUBLICATION ${slot} FOR TABLE idle_published`);
    // The WAL moves on, with nothing for this slot.
    await db.query('INSERT INTO idle_other SELECT generate_series(1, 2000)');
    const [start] = await db.query<{ wal: string }>('SELECT pg_current_wal_lsn()::text AS wal');
    const live = startKoyo(['run', '--progress', 'lines', '--stats-interval', '0'], {
      cwd: project3.dir,
      env: { DATABASE_URL: db.url },
    });
    await live.waitFor(
      /message="caught up" lag="[^"]+" lagBytes=\d+ changes=0/,
      'the idle slot to be reported caught up',
    );
    const [slotRow] = await db.query<{ confirmed: string }>(
      'SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    await live.stop('SIGINT');
    expect(lsn(slotRow!.confirmed)).toBeLessThan(lsn(start!.wal));
  });
});

describe('koyo run --failover', () => {
  const project3 = useProject('failover');
  const slot = uniqueName('cli_failover');

  it('creates a failover slot on 17+, and before 17 is one UNSUPPORTED error line with no slot left behind', async () => {
    const init = await koyo(['init', '--slot', slot, '--table', 'orders'], { cwd: project3.dir });
    expect(init.code).toBe(0);
    const [version] = await db.query<{ num: number }>(
      "SELECT current_setting('server_version_num')::int AS num",
    );
    const slotRow = async () =>
      (
        await db.query<{ failover: boolean }>(
          `SELECT ${version!.num >= 170000 ? 'failover' : 'false AS failover'} FROM pg_replication_slots WHERE slot_name = $1`,
          [slot],
        )
      )[0];
    if (version!.num < 170000) {
      const result = await koyo(['run', '--failover', '--progress', 'off'], {
        cwd: project3.dir,
        env: { DATABASE_URL: db.url },
      });
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^koyo run: error: .*(17|failover)/);
      expect(await slotRow()).toBeUndefined();
      return;
    }
    const live = startKoyo(['run', '--failover', '--progress', 'off', '--stats-interval', '0'], {
      cwd: project3.dir,
      env: { DATABASE_URL: db.url },
    });
    await live.waitFor(/message="dispatcher started"/, 'the dispatcher to start');
    expect(await slotRow()).toEqual({ failover: true });
    await live.stop('SIGTERM');
  });
});
