import { describe, expect, it } from 'vitest';
import { memoryCodeStore } from 'npuser';
import { codeStoreContractCases, runCodeStoreContract, type CodeStoreFactory } from 'npuser/testing';
import {
  deletesOnMismatchStore,
  ignoresExpectedStore,
  lateExpiryStore,
  lostUpdateCounterStore,
  nonAtomicConsumeStore,
  rewritesOnMismatchStore,
  slidingCounterStore,
} from './broken-stores.js';

runCodeStoreContract('memoryCodeStore', (clock) => memoryCodeStore({ now: clock.now }), { describe, it });

runCodeStoreContract('memoryCodeStore on real time', () => memoryCodeStore(), { describe, it }, { realTime: true });

/** The names of the contract cases a store fails. */
async function failedCases(factory: CodeStoreFactory): Promise<string[]> {
  const failed: string[] = [];
  for (const contractCase of codeStoreContractCases(factory)) {
    await contractCase.run().catch(() => failed.push(contractCase.name));
  }
  return failed;
}

describe('the contract suite catches broken stores', () => {
  it('a non-atomic consume (get, then delete), with or without an expected value', async () => {
    expect(await failedCases(nonAtomicConsumeStore)).toEqual([
      expect.stringMatching(/^consume is atomic/),
      expect.stringMatching(/^consume with the expected value is atomic/),
    ]);
  });

  const LEAVES_OTHER_VALUES = /^consume with another value than the stored one returns undefined and leaves the entry/;

  it('a consume that ignores the expected value (deletes and returns whatever is there)', async () => {
    expect(await failedCases(ignoresExpectedStore)).toEqual([expect.stringMatching(LEAVES_OTHER_VALUES)]);
    // Caught on what it hands out: the newer value, to a caller expecting an older one.
    const [leaves] = codeStoreContractCases(ignoresExpectedStore).filter((c) => LEAVES_OTHER_VALUES.test(c.name));
    await expect(leaves!.run()).rejects.toThrow(/consume\(key, 'older'\) handed out the value 'newer'/);
  });

  it('a consume that compares the expected value but deletes on a mismatch all the same', async () => {
    expect(await failedCases(deletesOnMismatchStore)).toEqual([expect.stringMatching(LEAVES_OTHER_VALUES)]);
    const [leaves] = codeStoreContractCases(deletesOnMismatchStore).filter((c) => LEAVES_OTHER_VALUES.test(c.name));
    await expect(leaves!.run()).rejects.toThrow(/removed the entry/);
  });

  it('a consume that writes another value back with a fresh TTL on a mismatch', async () => {
    expect(await failedCases(rewritesOnMismatchStore)).toEqual([expect.stringMatching(LEAVES_OTHER_VALUES)]);
    const [leaves] = codeStoreContractCases(rewritesOnMismatchStore).filter((c) => LEAVES_OTHER_VALUES.test(c.name));
    await expect(leaves!.run()).rejects.toThrow(/changed the TTL/);
  });

  it('an increment that slides the TTL (INCR then EXPIRE)', async () => {
    expect(await failedCases(slidingCounterStore)).toEqual([expect.stringMatching(/^increment keeps the TTL fixed/)]);
  });

  it('a read-modify-write increment', async () => {
    expect(await failedCases(lostUpdateCounterStore)).toEqual([expect.stringMatching(/^increment is atomic/)]);
  });

  it('a store whose entries outlive their TTL', async () => {
    expect(await failedCases(lateExpiryStore)).toContain(
      'an entry is live until its TTL and gone from then on, enforced by the store',
    );
  });
});
