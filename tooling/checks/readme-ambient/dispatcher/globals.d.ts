// Names the @koyo/dispatcher README's fragments use that an earlier block or the app defines.
declare const dispatcher: import('@koyo/dispatcher').Dispatcher;
declare const db: import('@koyo/dispatcher').Dispatcher['db'];
declare const connection: string;
declare const jobs: {
  enqueue(name: string, data: unknown): Promise<void>;
  enqueued: unknown[];
};
declare const search: {
  index(table: string, row: unknown): Promise<void>;
  remove(table: string, id: unknown): Promise<void>;
};
declare const audit: { write(change: import('@koyo/dispatcher').Change): Promise<void> };
declare const parkingLot: { insert(row: unknown): Promise<void> };
declare const logger: { fatal(error: unknown): void };
declare function applyToReadModel(
  tx: unknown,
  change: import('@koyo/dispatcher').Change,
): Promise<void>;
declare function expect(value: unknown): { toContainEqual(expected: unknown): void };
