/**
 * @internal the deferred query of a routed postgres.js `sql`: built on its node only once routed,
 * and the text the classifier sees for a tagged template.
 */
import type postgres from 'postgres';
import { storage, type Frame } from './context.js';
import { runDecided } from './driver.js';
import { fetchTypesOnce, postgresDriver, type AnySql, type Target } from './postgres-driver.js';
import type { RouteDecision, Router, RunStatement } from './router.js';

/** A chained call (`values()`, `raw()`...) replayed on the real query. */
type Modifier = (query: postgres.PendingQuery<any>) => postgres.PendingQuery<any>;

/** A deferred query: routed and created on its node when awaited (or executed). */
export class RoutedQuery {
  readonly #router: Router<AnySql>;
  readonly #kind: 'tag' | 'unsafe' | 'file';
  readonly #strings: TemplateStringsArray | readonly string[];
  readonly #args: unknown[];
  readonly #options: unknown;
  readonly #modifiers: Modifier[] = [];
  #text: string | undefined;
  #promise: Promise<unknown> | undefined;
  #query: postgres.PendingQuery<any> | undefined;
  #cancelled = false;
  /** The routing context where the query was written: it runs in it even if awaited elsewhere. */
  readonly #frame: Frame | undefined;

  constructor(
    router: Router<AnySql>,
    kind: 'tag' | 'unsafe' | 'file',
    strings: TemplateStringsArray | readonly string[],
    args: unknown[],
    options?: unknown,
  ) {
    this.#frame = storage.getStore();
    this.#router = router;
    this.#kind = kind;
    this.#strings = strings;
    this.#args = args;
    this.#options = options;
  }

  /** @internal the SQL text the classifier sees (parameters as `$n`, fragments inlined). */
  text(): string {
    if (this.#text === undefined) {
      if (this.#kind !== 'tag') this.#text = this.#strings[0] ?? '';
      else if (this.#args.every(isPlainValue)) {
        // Same call site, only values: the same text every time (and the same string for the router's cache).
        const strings = this.#strings as TemplateStringsArray;
        let text = plainTexts.get(strings);
        if (text === undefined) {
          text = templateText(strings, this.#args);
          plainTexts.set(strings, text);
        }
        this.#text = text;
      } else {
        this.#text = templateText(this.#strings, this.#args);
      }
    }
    return this.#text;
  }

  /** @internal the real postgres.js query on `target`, without modifiers (for use as a fragment). */
  build(target: Target): postgres.PendingQuery<any> {
    const args = this.#args.map((arg) => materialize(arg, target));
    if (this.#kind === 'tag')
      return (target as (s: TemplateStringsArray, ...a: unknown[]) => postgres.PendingQuery<any>)(
        this.#strings as TemplateStringsArray,
        ...args,
      );
    if (this.#kind === 'unsafe')
      return target.unsafe(
        this.#strings[0]!,
        args as never,
        this.#options as postgres.UnsafeQueryOptions,
      );
    return target.file(this.#strings[0]!, args as never, this.#options as { cache?: boolean });
  }

  #create(d: RouteDecision<AnySql>): postgres.PendingQuery<any> {
    return this.#createOn((d.target === 'transaction' ? d.transaction : d.handle) as Target, d);
  }

  /** The query with its modifiers on `target` (the decided node, or a connection reserved on it). */
  #createOn(target: Target, d: RouteDecision<AnySql>): postgres.PendingQuery<any> {
    if (d.target === 'replica') fetchTypesOnce(d.handle!);
    let query = this.build(target);
    for (const modifier of this.#modifiers) query = modifier(query);
    this.#query = query;
    if (this.#cancelled) query.cancel();
    return query;
  }

  async #routeText(): Promise<string> {
    if (this.#kind !== 'file') return this.text();
    // Classify what the file holds; postgres.js reads (and caches) it again to run it.
    const { readFile } = await import('node:fs/promises');
    this.#text = await readFile(this.#strings[0]!, 'utf8');
    return this.#text;
  }

  /** Runs `fn` in the routing context the query was created in. */
  #inContext<T>(fn: () => T): T {
    const frame = this.#frame;
    return frame === undefined || storage.getStore() === frame ? fn() : storage.run(frame, fn);
  }

  /**
   * Routes and runs the query. `skip` (awaiting the query itself) makes the run pipeline-capable:
   * the other ways (forEach, cursor, streams) hand rows to the app as they come, so they take no
   * position check.
   */
  #execute<T>(run: RunStatement<AnySql, T>, skip?: (text: string) => T): Promise<T> {
    const go = (text: string): Promise<T> =>
      this.#inContext(() =>
        this.#router.execute(text, run, skip === undefined ? { pipelines: false } : { skip }),
      );
    return this.#kind !== 'file' ? go(this.text()) : this.#routeText().then(go);
  }

  #start(): Promise<unknown> {
    this.#promise ??= this.#execute(
      (d, check) =>
        runDecided(postgresDriver, d, (target: Target) => this.#createOn(target, d), check),
      (text) =>
        Object.assign([], { count: 0, command: text.trim().split(/\s+/, 1)[0]!.toUpperCase() }),
    );
    return this.#promise;
  }

  then<A = unknown, B = never>(
    onfulfilled?: ((value: any) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: any) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#start().then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<unknown> {
    return this.#start().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<unknown> {
    return this.#start().finally(onfinally);
  }

  values(): this {
    this.#modifiers.push((q) => q.values() as never);
    return this;
  }

  raw(): this {
    this.#modifiers.push((q) => q.raw() as never);
    return this;
  }

  simple(): this {
    this.#modifiers.push((q) => q.simple());
    return this;
  }

  describe(): this {
    this.#modifiers.push((q) => q.describe() as never);
    return this;
  }

  execute(): this {
    void this.#start().catch(() => undefined);
    return this;
  }

  cancel(): void {
    this.#cancelled = true;
    this.#query?.cancel();
  }

  forEach(fn: (row: any, result: any) => void): Promise<unknown> {
    this.#promise ??= this.#execute((d) => this.#create(d).forEach(fn));
    return this.#promise;
  }

  cursor(rows?: unknown, fn?: unknown): unknown {
    if (typeof rows === 'function' || typeof fn === 'function') {
      this.#promise ??= this.#execute((d) =>
        (this.#create(d).cursor as (...a: unknown[]) => Promise<unknown>)(rows, fn),
      );
      return this.#promise;
    }
    let iterator: AsyncIterator<unknown> | undefined;
    const open = async (): Promise<AsyncIterator<unknown>> => {
      if (iterator === undefined) {
        const holder = await this.#execute((d) => {
          const cursor = this.#create(d).cursor(rows as number);
          return { it: cursor[Symbol.asyncIterator]() };
        });
        iterator = holder.it;
      }
      return iterator;
    };
    return {
      [Symbol.asyncIterator]: () => ({
        next: async () => (await open()).next(),
        return: async () =>
          iterator?.return ? iterator.return() : { done: true, value: undefined },
      }),
    };
  }

  async readable(): Promise<unknown> {
    return (await this.#execute((d) => ({ stream: this.#create(d).readable() }))).stream;
  }

  async writable(): Promise<unknown> {
    return (await this.#execute((d) => ({ stream: this.#create(d).writable() }))).stream;
  }

  get [Symbol.toStringTag](): string {
    return 'RoutedQuery';
  }
}

const plainTexts = new WeakMap<TemplateStringsArray, string>();

/** A parameter value, as opposed to a fragment, identifier or helper that changes the text. */
function isPlainValue(arg: unknown): boolean {
  if (arg === null || typeof arg !== 'object') return true;
  if (arg instanceof Date || arg instanceof Uint8Array) return true;
  if (Array.isArray(arg))
    return arg.length === 0 || (!(arg[0] instanceof RoutedQuery) && !isPostgresQuery(arg[0]));
  const kind = (arg as { constructor?: { name?: string } }).constructor?.name;
  return kind === 'Object' || kind === 'Parameter';
}

/** Replaces deferred fragments by real ones on `target`. */
function materialize(arg: unknown, target: Target): unknown {
  if (arg instanceof RoutedQuery) return arg.build(target);
  if (Array.isArray(arg) && arg.length > 0 && arg[0] instanceof RoutedQuery)
    return arg.map((a: unknown) => materialize(a, target));
  return arg;
}

/** The text of a tagged template as the classifier should see it. */
function templateText(strings: TemplateStringsArray | readonly string[], args: unknown[]): string {
  let text = strings[0] ?? '';
  for (let i = 0; i < args.length; i++) text += `${argText(args[i], i)}${strings[i + 1] ?? ''}`;
  return text;
}

function argText(arg: unknown, i: number): string {
  if (arg instanceof RoutedQuery) return ` ${arg.text()} `;
  if (arg !== null && typeof arg === 'object') {
    const o = arg as {
      strings?: unknown;
      args?: unknown;
      value?: unknown;
      first?: unknown;
      constructor?: { name?: string };
    };
    if (Array.isArray(arg)) {
      if (arg.length > 0 && (arg[0] instanceof RoutedQuery || isPostgresQuery(arg[0])))
        return arg.map((a: unknown, k: number) => argText(a, k)).join(' ');
      return `$${i + 1}`;
    }
    if (isPostgresQuery(arg))
      return ` ${templateText(o.strings as string[], o.args as unknown[])} `;
    const kind = o.constructor?.name;
    if (kind === 'Identifier' && typeof o.value === 'string') return o.value;
    if (kind === 'Builder') {
      const first = o.first;
      if (typeof first === 'string') return `"${first}"`;
      if (Array.isArray(first) && first.every((x) => typeof x === 'string'))
        return first.map((x: string) => `"${x}"`).join(',');
    }
  }
  return `$${i + 1}`;
}

function isPostgresQuery(value: unknown): value is { strings: string[]; args: unknown[] } {
  return (
    value instanceof Promise &&
    Array.isArray((value as { strings?: unknown }).strings) &&
    Array.isArray((value as { args?: unknown }).args)
  );
}
