import { KoyoNatsError } from './errors.js';

// NATS forbids these in a stream name; '.', '*' and '>' would also change what subjects mean.
const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
// One subject token: no separators, wildcards, whitespace or control characters.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const SUBJECT_TOKEN = /^[^\s.*>\u0000-\u001f\u007f]+$/u;

/** Checks a JetStream stream name (`[A-Za-z0-9_-]`, 1 to 64 characters). */
export function checkStreamName(name: string, option = 'stream'): string {
  if (typeof name !== 'string' || !STREAM_NAME.test(name)) {
    throw new KoyoNatsError(
      'INVALID_NAME',
      `${option} ${JSON.stringify(name)} is not a safe JetStream stream name: use 1 to 64 letters, digits, '_' or '-'.`,
    );
  }
  return name;
}

/** Whether a string can be one subject token. */
export function isSubjectToken(token: string): boolean {
  return SUBJECT_TOKEN.test(token);
}

/** Checks a subject prefix (`koyo`, `app.cdc`): dot-separated tokens without wildcards or spaces. */
export function checkSubjectPrefix(prefix: string, option = 'subjectPrefix'): string {
  if (typeof prefix !== 'string' || prefix.split('.').some((token) => !isSubjectToken(token))) {
    throw new KoyoNatsError(
      'INVALID_NAME',
      `${option} ${JSON.stringify(prefix)} is not a safe subject prefix: use dot-separated tokens without spaces, '*' or '>' (e.g. 'koyo' or 'app.cdc').`,
    );
  }
  return prefix;
}

/**
 * The subject of a change of `schema.table`: `<prefix>.<schema>.<table>`, with `.<partition>`
 * when the stream is partitioned. A schema or table name that cannot be a subject token (a dot,
 * a space, `*`, `>`) is refused rather than published under a subject that means something else.
 */
export function changeSubject(
  prefix: string,
  schema: string,
  table: string,
  partition: number | null,
): string {
  for (const token of [schema, table]) {
    if (!isSubjectToken(token)) {
      throw new KoyoNatsError(
        'INVALID_NAME',
        `The table ${JSON.stringify(`${schema}.${table}`)} cannot be relayed: ${JSON.stringify(token)} is not a valid NATS subject token (no '.', spaces, '*' or '>'). Rename it or leave it out of the publication.`,
      );
    }
  }
  return partition === null
    ? `${prefix}.${schema}.${table}`
    : `${prefix}.${schema}.${table}.${partition}`;
}

/** The dead-letter subject of a change: `<prefix>.dead.<schema>.<table>`. */
export function deadLetterSubject(prefix: string, schema: string, table: string): string {
  return `${prefix}.dead.${schema}.${table}`;
}
