import { getTableColumns } from 'drizzle-orm';
import { CasingCache } from 'drizzle-orm/casing';
import { getTableConfig, type PgColumn, type PgTable } from 'drizzle-orm/pg-core';
import { rawTypeOf, toDriverValue } from './driver-values.js';
import { KoyoDrizzleError } from './errors.js';

/**
 * How Drizzle derives column names from property keys: the `casing` option of `drizzle()`.
 *
 * @example
 * const casing: ColumnCasing = 'snake_case'; // createdAt -> created_at
 */
export type ColumnCasing = 'snake_case' | 'camelCase';

interface ColumnEntry {
  /** The property name in the Drizzle schema (`createdAt`). */
  key: string;
  /** The column name in the database (`created_at`). */
  name: string;
  column: PgColumn;
  /** Type OID whose driver handling Drizzle applies to this column, when it is not `pg`'s. */
  rawType: number | undefined;
}

/**
 * Turns rows keyed by database column name, with values parsed like `pg` does, into rows keyed by
 * the table's property names with each column's own Drizzle mapping applied, as
 * `db.select().from(table)` returns them.
 *
 * @internal
 */
export class TableRowMapper {
  /** Schema of the table (`'public'` for tables declared without one, as Drizzle Kit does). */
  readonly schema: string;
  /** Table name in the database. */
  readonly table: string;
  private readonly byName: ReadonlyMap<string, ColumnEntry>;

  constructor(table: PgTable, casing: ColumnCasing | undefined) {
    const config = getTableConfig(table);
    this.schema = config.schema ?? 'public';
    this.table = config.name;
    const casingCache = new CasingCache(casing);
    const byName = new Map<string, ColumnEntry>();
    for (const [key, column] of Object.entries(
      getTableColumns(table) as Record<string, PgColumn>,
    )) {
      const name = casingCache.getColumnCasing(column);
      byName.set(name, { key, name, column, rawType: rawTypeOf(column.getSQLType()) });
    }
    this.byName = byName;
  }

  /** The `"schema"."table"` name to register with a dispatcher (quoted, so any name works). */
  get qualifiedName(): string {
    const quote = (id: string): string => `"${id.replaceAll('"', '""')}"`;
    return `${quote(this.schema)}.${quote(this.table)}`;
  }

  /** Property key of a database column, or undefined when the schema does not declare it. */
  keyOf(name: string): string | undefined {
    return this.byName.get(name)?.key;
  }

  /** Maps one value of column `name` like Drizzle's driver and the column's own mapping would. */
  mapValue(name: string, value: unknown): unknown {
    const entry = this.byName.get(name);
    if (!entry || value === null || value === undefined) return value ?? null;
    const driverValue = entry.rawType === undefined ? value : toDriverValue(entry.rawType, value);
    try {
      return entry.column.mapFromDriverValue(driverValue);
    } catch (error) {
      throw new KoyoDrizzleError(
        'VALUE_MAPPING_FAILED',
        `Column ${this.table}.${name} (property ${entry.key}) could not map the value ${describe(driverValue)} with its mapFromDriverValue: ${error instanceof Error ? error.message : String(error)}. Check the column's fromDriver/mapFromDriverValue, and that its type matches the database column.`,
        { cause: error },
      );
    }
  }

  /**
   * A row keyed by column name -> a row keyed by property name. Columns the Drizzle schema does
   * not declare are left out (as `db.select()` does not read them); columns absent from the
   * change (unchanged TOAST values, key-only old rows) stay absent.
   */
  mapRow(row: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name in row) {
      const entry = this.byName.get(name);
      if (!entry) continue;
      out[entry.key] = this.mapValue(name, row[name]);
    }
    return out;
  }
}

function describe(value: unknown): string {
  try {
    const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return typeof value;
  }
}
