import { AsyncLocalStorage } from 'node:async_hooks';

/** Where reads go when nothing else decides: the gem's `read_from_primary!` switch. */
export type Role = 'primary' | 'replica';

/** What a routing scope does with attempts to open a transaction. */
export type TransactionPolicy = 'allow' | 'skip' | 'block';

/** @internal a transaction handle bound to one router (a linked list, newest first). */
export interface TransactionLink {
  readonly owner: object;
  readonly handle: unknown;
  readonly next: TransactionLink | undefined;
}

/** @internal read-your-writes state of one router inside one session. */
export interface WriteMark {
  /** Primary WAL position after the last write (lsn mode), or undefined. */
  lsn: bigint | undefined;
  /** `Date.now()` of the last write. */
  at: number;
  /** How long reads wait for a replica at `lsn`, when `readAfter` chose it. */
  waitMs?: number;
  /** Whether `lsn` is the session's own write (not raised since by a token or `readAfter`). */
  own?: boolean;
}

/**
 * @internal mutable state shared by every scope of one session (see {@link withSession}):
 * read-your-writes marks and transactions opened with a raw `BEGIN`, per router.
 */
export interface Session {
  readonly marks: Map<object, WriteMark>;
  readonly transactions: Map<object, unknown>;
}

/** @internal one routing scope; immutable, each scope makes a new one from its parent. */
export interface Frame {
  readonly role: Role | undefined;
  readonly policy: TransactionPolicy;
  readonly transactions: TransactionLink | undefined;
  readonly session: Session | undefined;
}

/** @internal the one store shared by every router, so scopes apply to all of them (as in the gem). */
export const storage = new AsyncLocalStorage<Frame>();

const ROOT: Frame = Object.freeze({
  role: undefined,
  policy: 'allow',
  transactions: undefined,
  session: undefined,
});

/** @internal the current frame, or a shared empty one. */
export function currentFrame(): Frame {
  return storage.getStore() ?? ROOT;
}

function withFrame<T>(patch: Partial<Frame>, fn: () => T): T {
  const parent = currentFrame();
  return storage.run({ ...parent, ...patch }, fn);
}

let defaultRole: Role = 'replica';

/**
 * Sets the process-wide role for reads outside any scope: `'replica'` (the default) or
 * `'primary'`, the gem's `ActiveRecordReplica.read_from_primary!`. Routers built with their own
 * `defaultRole` option ignore it.
 *
 * @example
 * setDefaultRole('primary');                     // every read goes to the primary...
 * await readFromReplica(() => pool.query('SELECT count(*) FROM users')); // ...except in this scope
 */
export function setDefaultRole(role: Role): void {
  if (role !== 'primary' && role !== 'replica') {
    throw new TypeError(
      `setDefaultRole: expected 'primary' or 'replica', got ${JSON.stringify(role)}`,
    );
  }
  defaultRole = role;
}

/**
 * The process-wide default role set with {@link setDefaultRole}.
 *
 * @example
 * getDefaultRole(); // 'replica'
 */
export function getDefaultRole(): Role {
  return defaultRole;
}

/**
 * Runs `fn` with every read sent to the primary, across every `await` inside it (the gem's
 * `read_from_primary do ... end`). Scopes nest; the innermost wins and the outer one is restored
 * when `fn` settles.
 *
 * @example
 * const fresh = await readFromPrimary(() => pool.query('SELECT * FROM orders WHERE id = $1', [id]));
 */
export function readFromPrimary<T>(fn: () => T): T {
  return withFrame({ role: 'primary' }, fn);
}

/**
 * Runs `fn` with reads sent to replicas even when the default role is `'primary'` (the gem's
 * `read_from_replica do ... end`). Writes, transactions and everything the classifier cannot prove
 * to be a read still go to the primary.
 *
 * @example
 * setDefaultRole('primary');
 * const n = await readFromReplica(() => pool.query('SELECT count(*) FROM users'));
 */
export function readFromReplica<T>(fn: () => T): T {
  return withFrame({ role: 'replica' }, fn);
}

/**
 * Runs `fn` with transaction control suppressed: `BEGIN` / `COMMIT` / `ROLLBACK` sent through a
 * routed handle are not sent at all, and `pool.transaction(fn)` / `sql.begin(fn)` run `fn` without
 * a transaction, so its reads can go to replicas (the gem's `skip_transactions`). Only use it
 * around code you know does not write.
 *
 * @example
 * await skipTransactions(() => orm.transaction(async (tx) => tx.query('SELECT 1'))); // no BEGIN reaches PostgreSQL
 */
export function skipTransactions<T>(fn: () => T): T {
  return withFrame({ policy: 'skip' }, fn);
}

/**
 * Runs `fn` so that any attempt to open a transaction through a routed handle throws
 * `KoyoRouterError` with code `TRANSACTION_BLOCKED` (the gem's `block_transactions`), to find the
 * code that opens them.
 *
 * @example
 * await blockTransactions(() => renderReport()); // throws if anything inside calls BEGIN
 */
export function blockTransactions<T>(fn: () => T): T {
  return withFrame({ policy: 'block' }, fn);
}

/**
 * Runs `fn` in a fresh routing session, typically one per HTTP request or job. A session holds the
 * read-your-writes position of each router (so a write in one request does not slow down reads
 * of another) and transactions opened with a raw `BEGIN` on a client from `pool.connect()`, so the
 * outer pool also routes into them. Scopes inside it (`readFromPrimary`, ...) share the session.
 * Without any session, read-your-writes state is process-wide.
 *
 * @example
 * app.use((req, res, next) => withSession(next));
 */
export function withSession<T>(fn: () => T): T {
  return withFrame({ session: { marks: new Map(), transactions: new Map() } }, fn);
}

/** @internal binds a transaction handle to `owner` (a router) for the duration of `fn`. */
export function withTransaction<T>(owner: object, handle: unknown, fn: () => T): T {
  const parent = currentFrame();
  return storage.run({ ...parent, transactions: { owner, handle, next: parent.transactions } }, fn);
}

/** @internal the transaction bound to `owner` in the current context, if any. */
export function transactionOf(frame: Frame, owner: object): unknown {
  for (let link = frame.transactions; link !== undefined; link = link.next) {
    if (link.owner === owner) return link.handle;
  }
  return frame.session?.transactions.get(owner);
}
