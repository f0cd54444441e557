/**
 * Test helpers: the CodeStore and Mailer contract suites, and a mailer that keeps messages in memory.
 *
 * @module npuser/testing
 */
export { runCodeStoreContract, codeStoreContractCases } from './code-store-contract.js';
export type { CodeStoreCapacity, CodeStoreContractOptions, CodeStoreFactory, ContractClock } from './code-store-contract.js';
export type { ContractCase, TestRunner, TestRunnerIt } from './contract-case.js';
export { memoryMailer } from './memory-mailer.js';
export type { MemoryMailer } from './memory-mailer.js';
export { runMailerContract, mailerContractCases } from './mailer-contract.js';
export type { DeliveredMail, MailerContractFactory, MailerContractOptions, MailerHarness } from './mailer-contract.js';
