import type {
  DeleteMessage,
  InsertMessage,
  RelationMessage,
  Row,
  UpdateMessage,
} from '@koyo/pgoutput';
import type { HandlerCache } from './registry.js';
import type { Change, ChangeKind } from './types.js';

/** What the dispatcher knows about a relation (from the last Relation message for its oid). */
export interface RelationInfo {
  oid: number;
  schema: string;
  table: string;
  columns: { name: string; typeOid: number }[];
  /** Columns forming `Change.key`; null when the table has no usable key. */
  keyColumns: string[] | null;
  replicaIdentity: RelationMessage['replicaIdentity'];
  /** Handler lists, cached by the registry. */
  cache: HandlerCache | null;
  /** Columns whose text values are parsed here (domains: the decoder does not know them). */
  converters: { name: string; parse: (text: string) => unknown }[] | null;
}

/** The transaction fields every change of a transaction shares. */
export interface TxnFields {
  xid: number;
  commitLsn: string;
  commitTime: string;
}

/** True when the key must come from the catalog's primary key rather than the Relation message. */
export function needsPrimaryKey(relation: RelationMessage): boolean {
  return relation.replicaIdentity === 'full' || relation.replicaIdentity === 'nothing';
}

/**
 * Builds the dispatcher's view of a relation. `primaryKey` is the catalog's primary key
 * (only looked up for FULL / NOTHING identities): FULL marks every column as key, which makes a
 * useless identity, so the primary key wins when every one of its columns is published.
 */
export function relationInfo(
  relation: RelationMessage,
  primaryKey: string[] | null = null,
): RelationInfo {
  const columns = relation.columns.map((c) => ({ name: c.name, typeOid: c.typeOid }));
  const names = new Set(columns.map((c) => c.name));
  let keyColumns: string[] | null;
  const pkUsable =
    primaryKey !== null && primaryKey.length > 0 && primaryKey.every((c) => names.has(c));
  if (relation.replicaIdentity === 'full')
    keyColumns = pkUsable ? primaryKey : columns.map((c) => c.name);
  else if (relation.replicaIdentity === 'nothing') keyColumns = pkUsable ? primaryKey : null;
  else {
    const flagged = relation.columns.filter((c) => c.isKey).map((c) => c.name);
    keyColumns = flagged.length > 0 ? flagged : pkUsable ? primaryKey : null;
  }
  return {
    oid: relation.oid,
    schema: relation.schema,
    table: relation.name,
    columns,
    keyColumns,
    replicaIdentity: relation.replicaIdentity,
    cache: null,
    converters: null,
  };
}

function pickKey(
  columns: string[] | null,
  primary: Row | null,
  fallback: Row | null,
): { key: Record<string, unknown> | null; id: unknown } {
  if (columns === null || primary === null) return { key: null, id: null };
  const key: Record<string, unknown> = {};
  for (const name of columns) {
    let value = primary[name];
    if ((value === undefined || typeof value === 'symbol') && fallback) value = fallback[name];
    if (value !== undefined && typeof value !== 'symbol') key[name] = value;
  }
  const id = columns.length === 1 ? (key[columns[0]!] ?? null) : null;
  return { key, id };
}

function make(
  kind: ChangeKind,
  info: RelationInfo,
  keyed: { key: Record<string, unknown> | null; id: unknown },
  newRow: Row | null,
  oldRow: Row | null,
  unchanged: string[],
  txn: TxnFields,
  position: number,
): Change {
  // One object shape for every kind (V8 keeps it monomorphic); the arguments match `kind`.
  return {
    kind,
    schema: info.schema,
    table: info.table,
    key: keyed.key,
    id: keyed.id,
    new: newRow,
    old: oldRow,
    unchanged,
    commitLsn: txn.commitLsn,
    position,
    xid: txn.xid,
    commitTime: txn.commitTime,
  } as Change;
}

/** Removes any unchanged-TOAST marker from a row the server sent as "old" (defensive). */
function cleanOld(row: Row | null): Row | null {
  if (row === null) return null;
  for (const name in row) if (typeof row[name] === 'symbol') delete row[name];
  return row;
}

/** Parses the values of domain columns like their base type (as `pg` does for a SELECT). */
function convert(info: RelationInfo, row: Row | null): void {
  if (row === null || info.converters === null) return;
  for (const { name, parse } of info.converters) {
    const value = row[name];
    if (typeof value === 'string') row[name] = parse(value);
  }
}

/** An INSERT's change. The decoded row is used as is (it is never shared). */
export function insertChange(
  info: RelationInfo,
  row: Row,
  txn: TxnFields,
  position: number,
): Change {
  convert(info, row);
  return make('insert', info, pickKey(info.keyColumns, row, null), row, null, [], txn, position);
}

/** An UPDATE's change: unchanged TOAST values are listed and filled from `old` or removed. */
export function updateChange(
  info: RelationInfo,
  message: UpdateMessage,
  txn: TxnFields,
  position: number,
): Change {
  const row = message.new;
  const old = cleanOld(message.old ?? message.key);
  convert(info, row);
  convert(info, old);
  const unchanged: string[] = [];
  for (const name in row) {
    if (typeof row[name] !== 'symbol') continue;
    unchanged.push(name);
    if (message.old && old && name in old) row[name] = old[name];
    else delete row[name];
  }
  return make(
    'update',
    info,
    pickKey(info.keyColumns, row, old),
    row,
    old,
    unchanged,
    txn,
    position,
  );
}

/** A DELETE's change: the key comes from the key or old tuple the server sent. */
export function deleteChange(
  info: RelationInfo,
  message: DeleteMessage,
  txn: TxnFields,
  position: number,
): Change {
  const old = cleanOld(message.old ?? message.key);
  convert(info, old);
  return make('delete', info, pickKey(info.keyColumns, old, null), null, old, [], txn, position);
}

/** The change of an INSERT, UPDATE or DELETE message (see {@link insertChange} and the others). */
export function buildChange(
  info: RelationInfo,
  message: InsertMessage | UpdateMessage | DeleteMessage,
  txn: TxnFields,
  position: number,
): Change {
  if (message.tag === 'insert') return insertChange(info, message.new, txn, position);
  if (message.tag === 'update') return updateChange(info, message, txn, position);
  return deleteChange(info, message, txn, position);
}

/** A TRUNCATE's change for one of the truncated tables. */
export function truncateChange(info: RelationInfo, txn: TxnFields, position: number): Change {
  return make('truncate', info, { key: null, id: null }, null, null, [], txn, position);
}
