// Names the @koyo/knex README's fragments use that an earlier block or the app defines.
declare const dispatcher: import('@koyo/dispatcher').Dispatcher;
declare const onTable: typeof import('@koyo/knex/changes').onTable;
declare const app: {
  use(middleware: (req: unknown, res: unknown, next: () => void) => unknown): void;
};
declare const mailer: { welcome(email: string): Promise<void> };
declare const search: { remove(table: string, id: unknown): Promise<void> };
