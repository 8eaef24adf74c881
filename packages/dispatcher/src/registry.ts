import {
  KoyoSlotError,
  parseTableName,
  quoteTableRef,
  type QualifiedTable,
  type TableRef,
} from '@koyo/slot';
import { CHANGE_KINDS } from './change-source.js';
import { KoyoDispatcherError } from './errors.js';
import type {
  ChangeHandler,
  ChangeKind,
  MessageHandler,
  TableHandlers,
  TransactionHandler,
} from './types.js';

/** A registered function with a label for logs and errors. */
export interface Registered<F> {
  fn: F;
  label: string;
}

type Entry =
  | { type: 'all'; handler: Registered<ChangeHandler<any>> }
  | {
      type: 'table';
      ref: TableRef;
      byKind: Partial<Record<ChangeKind, Registered<ChangeHandler<any>>>>;
    };

/** What the registry caches on a relation: handler lists per kind for one registry version. */
export interface HandlerCache {
  version: number;
  insert: Registered<ChangeHandler<any>>[];
  update: Registered<ChangeHandler<any>>[];
  delete: Registered<ChangeHandler<any>>[];
  truncate: Registered<ChangeHandler<any>>[];
  snapshot: Registered<ChangeHandler<any>>[];
  /** True when the relation passes the `tables` filter and someone wants its changes. */
  wanted: boolean;
  /** True when the relation passes the `tables` filter. */
  included: boolean;
}

const KINDS = CHANGE_KINDS;

/** The dispatcher's own progress table: its changes are never delivered. */
const INTERNAL_TABLES = new Set(['koyo\u0000backfill_progress']);

/** Every handler of a dispatcher, in registration order. */
export class HandlerRegistry {
  private entries: Entry[] = [];
  private transactionHandlers: Registered<TransactionHandler>[] = [];
  private messageHandlers = new Map<string, Registered<MessageHandler>[]>();
  private filter: TableRef[] | null;
  /** Set by {@link resolve}: what each unqualified name means on the connection's search_path. */
  private resolved: Map<string, QualifiedTable> | null = null;
  private counter = 0;
  /** Bumped on every change of registrations; caches compare against it. */
  version = 0;

  constructor(tables: readonly string[] | '*' | undefined) {
    this.filter = tables && tables !== '*' ? tables.map((name) => parseTable(name)) : null;
  }

  /** The `tables` option (null: every table of the publication); qualified after {@link resolve}. */
  get tables(): readonly TableRef[] | null {
    return this.filter;
  }

  /** Every table name registered so far (`tables` first, then `onTable` names), as parsed. */
  get tableRefs(): TableRef[] {
    const refs = [...(this.filter ?? [])];
    for (const entry of this.entries) if (entry.type === 'table') refs.push(entry.ref);
    return refs;
  }

  /**
   * Replaces every table name by the table PostgreSQL resolved it to (`resolved[i]` for
   * `tableRefs[i]`), so that `'users'` means one table, the one the search_path finds, in
   * `tables` and in `onTable` alike. Throws `INVALID_OPTION` when an `onTable` table is outside
   * `tables`.
   */
  resolve(resolved: readonly QualifiedTable[]): void {
    const refs = this.tableRefs;
    const map = new Map<string, QualifiedTable>();
    refs.forEach((ref, index) => {
      const table = resolved[index];
      if (table) map.set(quoteTableRef(ref), { schema: table.schema, name: table.name });
    });
    const qualify = (ref: TableRef): TableRef => map.get(quoteTableRef(ref)) ?? ref;
    const filter = this.filter?.map(qualify) ?? null;
    for (const entry of this.entries) {
      if (entry.type === 'table')
        assertInFilter(filter, qualify(entry.ref), quoteTableRef(entry.ref));
    }
    // In place: each entry's unsubscribe function finds it by identity.
    for (const entry of this.entries) if (entry.type === 'table') entry.ref = qualify(entry.ref);
    this.filter = filter;
    this.resolved = map;
    this.version++;
  }

  get transactions(): Registered<TransactionHandler>[] {
    return this.transactionHandlers;
  }

  addChangeHandler(fn: ChangeHandler<any>): () => void {
    assertFunction(fn, 'onChange(handler)');
    const entry: Entry = {
      type: 'all',
      handler: { fn, label: `onChange handler #${++this.counter}` },
    };
    return this.addEntry(entry);
  }

  addTableHandler(name: string, handler: ChangeHandler<any> | TableHandlers<any>): () => void {
    let ref = parseTable(name);
    if (this.resolved && ref.schema === null) {
      // After start() the search_path was read once; a name it did not resolve then is unknown.
      const known = this.resolved.get(quoteTableRef(ref));
      if (!known) {
        throw new KoyoDispatcherError(
          'INVALID_OPTION',
          `onTable(${JSON.stringify(name)}) after start(): an unqualified name is resolved on the search_path when the dispatcher starts. Qualify it ('schema.${ref.name}') or register it before start().`,
        );
      }
      ref = known;
    }
    const byKind: Partial<Record<ChangeKind, Registered<ChangeHandler<any>>>> = {};
    const n = ++this.counter;
    if (typeof handler === 'function') {
      for (const kind of KINDS)
        byKind[kind] = { fn: handler, label: `onTable(${JSON.stringify(name)}) handler #${n}` };
    } else if (handler !== null && typeof handler === 'object') {
      for (const key of Object.keys(handler)) {
        if (!(KINDS as string[]).includes(key)) {
          throw new KoyoDispatcherError(
            'INVALID_OPTION',
            `onTable(${JSON.stringify(name)}, { ${key} }) is not a change kind: use insert, update, delete, truncate or snapshot.`,
          );
        }
      }
      for (const kind of KINDS) {
        // The registry files it under `kind`, so it only ever gets changes of that kind.
        const fn = handler[kind] as ChangeHandler<any> | undefined;
        if (fn === undefined) continue;
        assertFunction(fn, `onTable(${JSON.stringify(name)}, { ${kind} })`);
        byKind[kind] = { fn, label: `onTable(${JSON.stringify(name)}).${kind} handler #${n}` };
      }
    } else {
      throw new KoyoDispatcherError(
        'INVALID_OPTION',
        `onTable(${JSON.stringify(name)}, handler) needs a function or an object { insert, update, delete, truncate }.`,
      );
    }
    if (this.resolved) assertInFilter(this.filter, ref, name);
    else if (this.filter && !this.filter.some((f) => refsOverlap(f, ref))) throw outside(name);
    return this.addEntry({ type: 'table', ref, byKind });
  }

  addTransactionHandler(fn: TransactionHandler): () => void {
    assertFunction(fn, 'onTransaction(handler)');
    const registered = { fn, label: `onTransaction handler #${++this.counter}` };
    this.transactionHandlers = [...this.transactionHandlers, registered];
    this.version++;
    return once(() => {
      this.transactionHandlers = this.transactionHandlers.filter((h) => h !== registered);
      this.version++;
    });
  }

  addMessageHandler(prefix: string, fn: MessageHandler): () => void {
    if (typeof prefix !== 'string' || prefix === '') {
      throw new KoyoDispatcherError(
        'INVALID_OPTION',
        `onMessage(prefix, handler) needs a non-empty prefix string (the one given to pg_logical_emit_message), got ${JSON.stringify(prefix)}.`,
      );
    }
    assertFunction(fn, `onMessage(${JSON.stringify(prefix)}, handler)`);
    const registered = {
      fn,
      label: `onMessage(${JSON.stringify(prefix)}) handler #${++this.counter}`,
    };
    this.messageHandlers.set(prefix, [...(this.messageHandlers.get(prefix) ?? []), registered]);
    this.version++;
    return once(() => {
      const left = (this.messageHandlers.get(prefix) ?? []).filter((h) => h !== registered);
      if (left.length) this.messageHandlers.set(prefix, left);
      else this.messageHandlers.delete(prefix);
      this.version++;
    });
  }

  messageHandlersFor(prefix: string): Registered<MessageHandler>[] | undefined {
    return this.messageHandlers.get(prefix);
  }

  /** Handler lists for a relation, recomputed when registrations changed. */
  handlersFor(schema: string, table: string, cache: HandlerCache | null): HandlerCache {
    if (cache && cache.version === this.version) return cache;
    const included =
      (!this.filter || this.filter.some((f) => tableMatches(f, schema, table))) &&
      !INTERNAL_TABLES.has(`${schema}\u0000${table}`);
    const next: HandlerCache = {
      version: this.version,
      insert: [],
      update: [],
      delete: [],
      truncate: [],
      snapshot: [],
      wanted: false,
      included,
    };
    if (included) {
      for (const entry of this.entries) {
        if (entry.type === 'all') {
          for (const kind of KINDS) next[kind].push(entry.handler);
        } else if (tableMatches(entry.ref, schema, table)) {
          for (const kind of KINDS) {
            const h = entry.byKind[kind];
            if (h) next[kind].push(h);
          }
        }
      }
      next.wanted =
        this.transactionHandlers.length > 0 || KINDS.some((kind) => next[kind].length > 0);
    }
    return next;
  }

  /** True when nothing at all is registered (a dispatcher with no handlers is a mistake). */
  get empty(): boolean {
    return (
      this.entries.length === 0 &&
      this.transactionHandlers.length === 0 &&
      this.messageHandlers.size === 0
    );
  }

  private addEntry(entry: Entry): () => void {
    this.entries = [...this.entries, entry];
    this.version++;
    return once(() => {
      this.entries = this.entries.filter((e) => e !== entry);
      this.version++;
    });
  }
}

/** Before start(), an unqualified name may still turn out to be any schema's table. */
function refsOverlap(a: TableRef, b: TableRef): boolean {
  return a.name === b.name && (a.schema === null || b.schema === null || a.schema === b.schema);
}

/** After start(), every name is qualified: a reference names exactly one table. */
function tableMatches(ref: TableRef, schema: string, table: string): boolean {
  return ref.name === table && ref.schema === schema;
}

function assertInFilter(filter: readonly TableRef[] | null, ref: TableRef, name: string): void {
  if (filter && !filter.some((f) => f.schema === ref.schema && f.name === ref.name))
    throw outside(name);
}

function outside(name: string): KoyoDispatcherError {
  return new KoyoDispatcherError(
    'INVALID_OPTION',
    `onTable(${JSON.stringify(name)}) names a table outside the dispatcher's \`tables\` option; add it to \`tables\` or its changes will never arrive.`,
  );
}

/** @koyo/slot's parser, with the dispatcher's error code for a malformed name. */
export function parseTable(name: string): TableRef {
  if (typeof name !== 'string') {
    throw new KoyoDispatcherError(
      'INVALID_TABLE_NAME',
      `A table name must be a string like 'users' or 'public.users', got ${JSON.stringify(name)}.`,
    );
  }
  try {
    return parseTableName(name);
  } catch (error) {
    if (error instanceof KoyoSlotError)
      throw new KoyoDispatcherError('INVALID_TABLE_NAME', error.message, { cause: error });
    throw error;
  }
}

function assertFunction(fn: unknown, where: string): void {
  if (typeof fn !== 'function')
    throw new KoyoDispatcherError(
      'INVALID_OPTION',
      `${where}: the handler must be a function, got ${typeof fn}.`,
    );
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
