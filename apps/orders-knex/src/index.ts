export {
  createOrders,
  AUDITED_TABLES,
  type AuditEntry,
  type Order,
  type OrderLineInput,
  type Orders,
  type OrdersOptions,
} from './orders.js';
export { createOrdersApp } from './http.js';
export { migrationSource } from './migrations.js';
