// Names the @koyo/router README's fragments use that an earlier block, the app or the binding
// being written defines.
declare const pool: import('@koyo/router/pg').RoutedPool;
declare const readFromPrimary: typeof import('@koyo/router').readFromPrimary;
type ExpressRequest = { cookies: Record<string, string | undefined> };
type ExpressResponse = { cookie(name: string, value: string): void };
declare const app: {
  use(middleware: (req: ExpressRequest, res: ExpressResponse, next: () => void) => unknown): void;
};
declare const res: ExpressResponse;
interface MyTx {
  query(sql: string, params: unknown[]): Promise<unknown>;
}
interface MyDriver extends MyTx {
  raw(sql: string): Promise<{ rows: (string | null)[][] }>;
}
declare const p: MyDriver;
declare const r1: MyDriver;
declare const sqlText: string;
declare const params: unknown[];
declare const emptyResult: unknown;
declare function openTransactionOnPrimary<T>(fn: (tx: MyTx) => Promise<T>): Promise<T>;
declare function userFn(tx: MyTx): Promise<unknown>;
