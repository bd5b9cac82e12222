/**
 * The topology layer: inventory → validated Topology; the ledger of created things; per-lab state.
 * Data flows one way: loadInventory (validates, once) → Topology → providers/services → ledger + state.
 */
export * from './topology.js';
export { loadInventory, parseInventory, defaultResolver, expandPath, labNameFromFile, type LoadOptions, type Resolver } from './inventory.js';
export { InventoryError, type InventoryIssue } from './source.js';
export { Ledger, LedgerError, LEDGER_FILE, type LedgerEntry, type LedgerKind, type ProcessData, type RemoteProcessData, type ReplayFailure } from './ledger.js';
export * from './proc.js';
export * from './state.js';
