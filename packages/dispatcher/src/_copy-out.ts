import type pg from 'pg';

/** The part of pg's connection a submittable talks to. */
interface Connection {
  query(text: string): void;
}

/**
 * Runs `COPY (...) TO STDOUT` on `client` (pg's submittable hook, as pg-copy-streams does) and
 * hands each row's bytes to `onRow` as they arrive, one CopyData message per row. The bytes
 * belong to pg's read buffer: use them before `onRow` returns. `sql` may hold more statements
 * (one simple query): the rows of a SELECT among them go to `onDataRow`, as text. Resolves with
 * the number of COPY rows once the server is ready for the next query; rejects with the server's
 * error (the statements after the failed one did not run).
 */
export function copyOut(
  client: pg.Client,
  sql: string,
  onRow: (bytes: Buffer) => void,
  onDataRow: (fields: (string | null)[]) => void = noop,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let rows = 0;
    let failed: unknown = null;
    const submittable = {
      submit(connection: Connection): void {
        connection.query(sql);
      },
      handleCopyData(message: { chunk: Buffer }): void {
        if (failed !== null) return;
        rows++;
        try {
          onRow(message.chunk);
        } catch (error) {
          failed = error; // the server finishes the COPY; the error is reported at its end
        }
      },
      handleRowDescription: noop,
      handleDataRow(message: { fields: (string | null)[] }): void {
        if (failed === null) onDataRow(message.fields);
      },
      handleCommandComplete: noop,
      handleEmptyQuery: noop,
      handleCopyInResponse: noop,
      handlePortalSuspended: noop,
      handleError(error: unknown): void {
        // An error ends the query: pg clears it as the active query, no ReadyForQuery follows for it.
        reject(failed ?? error);
      },
      handleReadyForQuery(): void {
        if (failed !== null) reject(failed);
        else resolve(rows);
      },
    };
    void client.query(submittable as unknown as pg.Submittable);
  });
}

function noop(): void {}
