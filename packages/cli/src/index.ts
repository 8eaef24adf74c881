/**
 * `@koyo/cli`: the `koyo` command (init, doctor, setup, run, slots, tail), and what
 * `koyo.config.ts` and `koyo.handlers.ts` import: {@link defineConfig} and {@link defineHandlers}.
 *
 * @packageDocumentation
 */
export { defineConfig, validateConfig } from './config.js';
export type { KoyoConfig, DispatcherSettings, RunSettings, ProgressMode } from './config.js';
export type { RelaySettings, NatsRelaySettings } from './relay-config.js';
export { defineHandlers } from './handlers.js';
export type { HandlersSetup, HandlersContext, HandlersCleanup } from './handlers.js';
export { KoyoCliError, EXIT, formatError, findSqlState } from './errors.js';
export type { KoyoCliErrorCode, KoyoCliErrorOptions } from './errors.js';
export { loadConfig, loadHandlers, CONFIG_FILES, DEFAULT_HANDLERS_FILE } from './load.js';
export type { LoadedConfig } from './load.js';
export { main, formatMainHelp } from './main.js';
export type { MainOptions } from './main.js';
export type { CliIo, Output } from './context.js';
export type { DoctorReport } from './doctor/doctor-command.js';
export type { SlotRow } from './slots/slots-command.js';
export type { TailChange } from './tail/tail-command.js';
// What handler files need, so a project imports only @koyo/cli.
export type {
  Change,
  ChangeKind,
  DeleteChange,
  Dispatcher,
  DispatcherStats,
  InsertChange,
  Logger,
  LogicalMessage,
  TableHandlers,
  TransactionBatch,
  TruncateChange,
  UpdateChange,
} from '@koyo/dispatcher';
