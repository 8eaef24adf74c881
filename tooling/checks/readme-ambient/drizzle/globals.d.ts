// Names the @koyo/drizzle README's fragments use that an earlier block or the app defines.
declare const dispatcher: import('@koyo/dispatcher').Dispatcher;
declare const onTable: typeof import('@koyo/drizzle/changes').onTable;
declare const users: typeof import('./schema.js').users;
declare const jobs: typeof import('./schema.js').jobs;
declare const orders: typeof import('./schema.js').orders;
declare const mailer: { welcome(email: string): Promise<void> };
declare const search: {
  reindex(row: unknown): Promise<void>;
  remove(id: unknown): Promise<void>;
};
