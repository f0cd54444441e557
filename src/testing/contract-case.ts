/**
 * What the published contract suites (`runCodeStoreContract`,
 * `runMailerContract`) share: a case with a stable id, the runner it is
 * registered with, and how a case that does not apply is reported as skipped.
 */

/**
 * One property of a contract, runnable under any test runner.
 *
 * @example
 * ```ts
 * import { memoryCodeStore } from 'npuser';
 * import { codeStoreContractCases } from 'npuser/testing';
 * for (const c of codeStoreContractCases((clock) => memoryCodeStore({ now: clock.now }))) {
 *   if (c.skipped === undefined) await c.run();
 * }
 * ```
 */
export interface ContractCase {
  /** Stable kebab-case identifier: it never changes once published, whatever becomes of the title. */
  readonly id: string;
  /** What the case proves, as a test title. */
  readonly title: string;
  /**
   * Why the case does not apply, when it does not (the implementation lacks
   * the capability, or the option it needs was not given). `run` then does
   * nothing, and `runCodeStoreContract` / `runMailerContract` register it as
   * skipped, with this reason in its title.
   */
  readonly skipped?: string;
  /** Check the property; rejects when the implementation breaks it. */
  run(): Promise<void>;
}

/**
 * The `describe` and `it` of your test runner (vitest, jest, mocha,
 * node:test). `it.skip`, which they all have, is used for the cases that do
 * not apply; without it those cases are registered with `it` as tests that
 * do nothing, their titles ending in `(skipped: …)`.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import type { TestRunner } from 'npuser/testing';
 * const runner: TestRunner = { describe, it };
 * ```
 */
export interface TestRunner {
  /** Groups the contract's cases under one title. */
  describe(name: string, body: () => void): unknown;
  /** Runs one case; its `skip`, when present, registers a skipped one. */
  it: TestRunnerIt;
}

/**
 * The `it` of a {@link TestRunner}: a function registering one test, with
 * the runner's optional `skip`.
 *
 * @example
 * ```ts
 * import { it } from 'vitest';
 * import type { TestRunnerIt } from 'npuser/testing';
 * const register: TestRunnerIt = it;
 * ```
 */
export interface TestRunnerIt {
  /** Register a test. */
  (name: string, body: () => Promise<void>): unknown;
  /** Register a test that is reported as skipped. */
  skip?: (name: string, body: () => Promise<void>) => unknown;
}

/**
 * Register `cases` under `title` with `runner`, the skipped ones as skipped.
 * @internal
 */
export function registerContractCases(runner: TestRunner, title: string, cases: readonly ContractCase[]): void {
  runner.describe(title, () => {
    for (const contractCase of cases) {
      if (contractCase.skipped === undefined) {
        runner.it(contractCase.title, () => contractCase.run());
        continue;
      }
      // A case whose option the harness did not give (a capacity, a way to strip an expiry or to hang
      // the backend) cannot be run against that implementation: it is listed as skipped with its
      // reason in the title, never dropped, so the report shows what was not checked there. npuser's
      // own suites run each such case in another registration that gives the option.
      const skippedTitle = `${contractCase.title} (skipped: ${contractCase.skipped})`;
      const nothing = () => Promise.resolve();
      if (typeof runner.it.skip === 'function') runner.it.skip(skippedTitle, nothing);
      else runner.it(skippedTitle, nothing);
    }
  });
}
