/**
 * Drizzle's `node-postgres` driver turns off `pg`'s parsing for a few types and gives their text
 * to the column's `mapFromDriverValue` instead (`drizzle-orm/node-postgres/session.js`); its
 * `postgres-js` driver does the same for the same types. A dispatcher's change rows are parsed
 * like a plain `pg` SELECT, so for these types the value must be brought back to its text before
 * the column maps it, or a change row would not equal what `db.select()` returns.
 */

/** Type OIDs whose values Drizzle's drivers read as text, with the scalar type of array types. */
const RAW_TYPES = {
  timestamptz: 1184,
  timestamp: 1114,
  date: 1082,
  interval: 1186,
  numericArray: 1231,
  timestampArray: 1115,
  timestamptzArray: 1185,
  intervalArray: 1187,
  dateArray: 1182,
} as const;

const ARRAY_ELEMENT: ReadonlyMap<number, number> = new Map([
  [RAW_TYPES.timestampArray, RAW_TYPES.timestamp],
  [RAW_TYPES.timestamptzArray, RAW_TYPES.timestamptz],
  [RAW_TYPES.intervalArray, RAW_TYPES.interval],
  [RAW_TYPES.dateArray, RAW_TYPES.date],
]);

const identity = (value: string): string => value;

/**
 * Type parsers for a dispatcher (`createDispatcher({ ..., typeParsers: drizzleTypeParsers })`)
 * that keep the text of exactly the types Drizzle's drivers keep as text: `timestamptz`,
 * `timestamp`, `date`, `interval` and their arrays, and `numeric[]`. With them, the change rows
 * given to {@link onTable} handlers equal `db.select()` results in every case, including
 * microseconds of `mode: 'string'` timestamps and the scale of `numeric[]` values. Without them,
 * `onTable` rebuilds the text from `pg`'s parsed values, which is exact to the millisecond.
 *
 * Other handlers of the same dispatcher then also see these types as text, as Drizzle does.
 *
 * @example
 * const dispatcher = createDispatcher({ connection, slot: 'app', publication: 'app', tables: ['users'], typeParsers: drizzleTypeParsers });
 */
export const drizzleTypeParsers: Readonly<Record<number, (value: string) => unknown>> =
  Object.freeze(Object.fromEntries(Object.values(RAW_TYPES).map((oid) => [oid, identity])));

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** PostgreSQL's `YYYY-MM-DD[ BC]` (DateStyle ISO) for a year/month/day. */
function formatYmd(year: number, month: number, day: number): { text: string; bc: boolean } {
  const bc = year <= 0;
  return { text: `${pad(bc ? 1 - year : year, 4)}-${pad(month)}-${pad(day)}`, bc };
}

/** Fraction of a second as PostgreSQL prints it: `.123`, trailing zeros removed, nothing if 0. */
function formatFraction(microseconds: number): string {
  if (microseconds === 0) return '';
  return `.${pad(microseconds, 6).replace(/0+$/, '')}`;
}

function infinity(value: Date | number): string | undefined {
  const time = typeof value === 'number' ? value : value.getTime();
  if (time === Infinity) return 'infinity';
  if (time === -Infinity) return '-infinity';
  return undefined;
}

/** The Date getters a printed value reads, in order; each has a UTC twin (`getUTCHours`...). */
const DATE_FIELDS = ['FullYear', 'Month', 'Date', 'Hours', 'Minutes', 'Seconds', 'Milliseconds'];

/**
 * Prints a `timestamptz` (`zone` `'UTC'`: the UTC fields, `+00`) or a `timestamp` (`zone` `''`:
 * the local fields) as PostgreSQL does in a UTC session.
 */
function timestampText(value: Date | number, zone: 'UTC' | ''): string {
  const special = infinity(value);
  if (special !== undefined) return special;
  const date = new Date(value) as unknown as Record<string, () => number>;
  const [year, month, day, hours, minutes, seconds, ms] = DATE_FIELDS.map((field) =>
    date[`get${zone}${field}`]!.call(date),
  ) as [number, number, number, number, number, number, number];
  const { text, bc } = formatYmd(year, month + 1, day);
  const time = `${pad(hours)}:${pad(minutes)}:${pad(seconds)}${formatFraction(ms * 1000)}`;
  return `${text} ${time}${zone === 'UTC' ? '+00' : ''}${bc ? ' BC' : ''}`;
}

/** `pg` parses `date` into a Date at local midnight: print its local fields. */
function dateText(value: Date | number): string {
  const special = infinity(value);
  if (special !== undefined) return special;
  const date = new Date(value);
  const { text, bc } = formatYmd(date.getFullYear(), date.getMonth() + 1, date.getDate());
  return bc ? `${text} BC` : text;
}

interface ParsedInterval {
  years?: number;
  months?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
  milliseconds?: number;
}

/**
 * `pg` parses `interval` into a `postgres-interval` object: print it as PostgreSQL does with
 * `IntervalStyle = postgres` (the default), following `EncodeInterval` in `datetime.c`.
 */
function intervalText(value: ParsedInterval): string {
  const parts: string[] = [];
  let isBefore = false;
  const addPart = (amount: number | undefined, unit: string): void => {
    if (!amount) return;
    parts.push(`${isBefore && amount > 0 ? '+' : ''}${amount} ${unit}${amount === 1 ? '' : 's'}`);
    isBefore = amount < 0;
  };
  addPart(value.years, 'year');
  addPart(value.months, 'mon');
  addPart(value.days, 'day');
  const hours = value.hours ?? 0;
  const minutes = value.minutes ?? 0;
  const seconds = value.seconds ?? 0;
  const micros = Math.round((value.milliseconds ?? 0) * 1000);
  if (parts.length === 0 || hours !== 0 || minutes !== 0 || seconds !== 0 || micros !== 0) {
    const minus = hours < 0 || minutes < 0 || seconds < 0 || micros < 0;
    const sign = minus ? '-' : isBefore ? '+' : '';
    const abs = Math.abs;
    parts.push(
      `${sign}${pad(abs(hours))}:${pad(abs(minutes))}:${pad(abs(seconds))}${formatFraction(abs(micros))}`,
    );
  }
  return parts.join(' ');
}

function scalarText(oid: number, value: unknown): unknown {
  if (typeof value === 'string' || value === null || value === undefined) return value;
  switch (oid) {
    case RAW_TYPES.timestamptz:
      return value instanceof Date || typeof value === 'number'
        ? timestampText(value, 'UTC')
        : value;
    case RAW_TYPES.timestamp:
      return value instanceof Date || typeof value === 'number' ? timestampText(value, '') : value;
    case RAW_TYPES.date:
      return value instanceof Date || typeof value === 'number' ? dateText(value) : value;
    case RAW_TYPES.interval:
      return typeof value === 'object' ? intervalText(value) : value;
    default:
      return value;
  }
}

function mapArray(value: unknown, element: (item: unknown) => unknown): unknown {
  return Array.isArray(value)
    ? value.map((item) => (Array.isArray(item) ? mapArray(item, element) : element(item)))
    : value;
}

const SCALAR_BY_NAME: ReadonlyMap<string, number> = new Map([
  ['timestamp with time zone', RAW_TYPES.timestamptz],
  ['timestamptz', RAW_TYPES.timestamptz],
  ['timestamp', RAW_TYPES.timestamp],
  ['timestamp without time zone', RAW_TYPES.timestamp],
  ['date', RAW_TYPES.date],
  ['interval', RAW_TYPES.interval],
]);

const ARRAY_OF: ReadonlyMap<number, number> = new Map([
  [RAW_TYPES.timestamptz, RAW_TYPES.timestamptzArray],
  [RAW_TYPES.timestamp, RAW_TYPES.timestampArray],
  [RAW_TYPES.interval, RAW_TYPES.intervalArray],
  [RAW_TYPES.date, RAW_TYPES.dateArray],
]);

/**
 * The type OID (of {@link RAW_TYPES}) whose driver handling applies to a column declared with SQL
 * type `sqlType` (Drizzle's `column.getSQLType()`, e.g. `timestamp (3) with time zone`,
 * `interval day to second`, `date[]`, `numeric(10, 2)[]`), or undefined when Drizzle's drivers
 * read the type like `pg` does.
 *
 * @internal
 */
export function rawTypeOf(sqlType: string): number | undefined {
  let text = sqlType
    .trim()
    .toLowerCase()
    .replace(/\s*\(\s*\d+\s*(,\s*\d+\s*)?\)/g, '')
    .replace(/\s+/g, ' ');
  let isArray = false;
  while (/\[\d*\]$/.test(text)) {
    isArray = true;
    text = text.replace(/\s*\[\d*\]$/, '');
  }
  if (text.startsWith('interval')) text = 'interval';
  const scalar = SCALAR_BY_NAME.get(text);
  if (!isArray) return scalar;
  if (scalar !== undefined) return ARRAY_OF.get(scalar);
  return text === 'numeric' || text === 'decimal' ? RAW_TYPES.numericArray : undefined;
}

/**
 * The value Drizzle's driver would have handed to `mapFromDriverValue` for a column of type
 * `oid`, given the value a dispatcher parsed like `pg` does. Text (a dispatcher configured with
 * {@link drizzleTypeParsers}) is returned as is; so is every type Drizzle reads like `pg`.
 *
 * @internal
 */
export function toDriverValue(oid: number, value: unknown): unknown {
  if (typeof value === 'string' || value === null) return value;
  const element = ARRAY_ELEMENT.get(oid);
  if (element !== undefined) return mapArray(value, (item) => scalarText(element, item));
  if (oid === RAW_TYPES.numericArray)
    return mapArray(value, (item) => (typeof item === 'number' ? String(item) : item));
  return scalarText(oid, value);
}
