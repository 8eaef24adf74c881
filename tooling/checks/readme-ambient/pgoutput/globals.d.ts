// Names the @koyo/pgoutput README's fragments use that an earlier block or the app defines.
declare const PgoutputDecoder: typeof import('@koyo/pgoutput').PgoutputDecoder;
declare const parseCopyData: typeof import('@koyo/pgoutput').parseCopyData;
declare const encodeStandbyStatusUpdate: typeof import('@koyo/pgoutput').encodeStandbyStatusUpdate;
declare const formatLsn: typeof import('@koyo/pgoutput').formatLsn;
declare const parseLsn: typeof import('@koyo/pgoutput').parseLsn;
/** A `pg` client in replication mode (its copyData events and raw CopyData writes). */
declare const connection: {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Uint8Array): void;
};
declare const connectionString: string;
declare const copyDataBody: Uint8Array;
declare const written: bigint;
declare const flushed: bigint;
declare const applied: bigint;
declare function sendStatus(lsn?: bigint): void;
declare function keepOldBody(): void;
declare const Temporal: { Instant: { from(text: string): unknown } };
