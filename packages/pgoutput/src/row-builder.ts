import type { Row } from './messages.js';

/** Builds a row object from the decoded values of a tuple. @internal */
export type RowBuilder = (values: readonly unknown[]) => Row;

function propertyKey(name: string): string {
  // A literal `__proto__:` key would set the prototype; a computed key defines a property.
  return name === '__proto__' ? '["__proto__"]' : JSON.stringify(name);
}

function compiled(names: readonly string[], indexes: readonly number[]): RowBuilder | undefined {
  const body = `return {${indexes.map((i) => `${propertyKey(names[i]!)}: v[${i}]`).join(', ')}};`;
  try {
    // A generated object literal gives every row of a relation the same hidden class from the
    // start (one allocation, no transitions), the fastest row V8 can build. Names are inserted
    // as JSON string literals, so no column name can inject code.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function('v', body) as RowBuilder;
  } catch {
    // Code generation disallowed (e.g. a CSP): fall back to assignments.
    return undefined;
  }
}

/**
 * A function making `{ [names[i]]: values[i] }` for each `i` of `indexes`, in that order.
 *
 * @internal
 */
export function rowBuilder(
  names: readonly string[],
  indexes: readonly number[],
  generate = true,
): RowBuilder {
  // The server re-sends a table's Relation message, e.g. for every streamed transaction: reuse
  // the builder rather than compile the same code again (slow, and every new function makes the
  // call site in the tuple reader more polymorphic).
  const key = `${generate ? 'g' : 'l'}${JSON.stringify(indexes.map((i) => [i, names[i]]))}`;
  const cached = BUILDERS.get(key);
  if (cached) return cached;
  const builder = build(names, indexes, generate);
  if (BUILDERS.size >= MAX_BUILDERS) BUILDERS.clear();
  BUILDERS.set(key, builder);
  return builder;
}

/** Row builders by the columns they pick, shared by all decoders (bounded). */
const BUILDERS = new Map<string, RowBuilder>();
const MAX_BUILDERS = 1000;

function build(
  names: readonly string[],
  indexes: readonly number[],
  generate: boolean,
): RowBuilder {
  const fast = generate ? compiled(names, indexes) : undefined;
  if (fast) return fast;
  return (values) => {
    const row: Row = {};
    for (const i of indexes) {
      const name = names[i]!;
      if (name === '__proto__') {
        Object.defineProperty(row, name, {
          value: values[i],
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        row[name] = values[i];
      }
    }
    return row;
  };
}
