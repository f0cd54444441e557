/**
 * Test helpers: the CodeStore contract suite and a mailer that keeps messages in memory.
 *
 * @module npuser/testing
 */
export { runCodeStoreContract, codeStoreContractCases } from './code-store-contract.js';
export type {
  CodeStoreContractOptions,
  CodeStoreFactory,
  ContractCase,
  ContractClock,
  TestRunner,
} from './code-store-contract.js';
export { memoryMailer } from './memory-mailer.js';
export type { MemoryMailer } from './memory-mailer.js';
