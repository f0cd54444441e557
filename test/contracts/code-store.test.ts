import { describe, expect, it } from 'vitest';
import { memoryCodeStore } from 'npuser';
import { codeStoreContractCases, runCodeStoreContract, type CodeStoreFactory } from 'npuser/testing';
import { lateExpiryStore, lostUpdateCounterStore, nonAtomicConsumeStore, slidingCounterStore } from './broken-stores.js';

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
  it('a non-atomic consume (get, then delete)', async () => {
    expect(await failedCases(nonAtomicConsumeStore)).toEqual([expect.stringMatching(/^consume is atomic/)]);
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
