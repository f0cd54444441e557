import { NpUserError } from '../errors.js';

/**
 * A pending code as the store holds it: a random id that makes every record
 * unique (so taking back an older record can never remove a newer one with
 * the same code), its expiry on the app's clock, and the keyed digest of
 * (app, address, code). Neither the address nor the code can be read back.
 * @internal
 */
export interface CodeRecord {
  readonly codeId: string;
  readonly expiresAt: number;
  readonly digest: Buffer;
}

const VERSION = 'v1';
const RECORD = /^v1\.([A-Za-z0-9_-]{16})\.([0-9]{1,15})\.([A-Za-z0-9_-]{43})$/;
const COUNTER = /^[0-9]{1,15}$/;

/**
 * A value shaped like a record that npuser never writes (its id is not
 * base64url from 12 random bytes): what the flows compare and take back when
 * no code is pending, so that path asks the store for the same work.
 * @internal
 */
export const NO_CODE_RECORD = `${VERSION}.${'-'.repeat(16)}.0.${'A'.repeat(43)}`;

/**
 * The stored form of a record whose digest is given as base64url (as
 * `keyedHashText` makes it: no Buffer in between).
 * @internal
 */
export function serializeCodeRecord(record: Omit<CodeRecord, 'digest'> & { readonly digestText: string }): string {
  return `${VERSION}.${record.codeId}.${record.expiresAt}.${record.digestText}`;
}

/**
 * The record in `value`, or `ERR_NPUSER_STORE_FAILED` when the store returned
 * something npuser never wrote.
 * @internal
 */
export function parseCodeRecord(value: string): CodeRecord {
  const match = RECORD.exec(value);
  if (!match) throw malformed('code record');
  const [, codeId, expiresAt, digest] = match as unknown as [string, string, string, string];
  return { codeId, expiresAt: Number(expiresAt), digest: Buffer.from(digest, 'base64url') };
}

/**
 * A counter read back with `get`: a decimal string, or `ERR_NPUSER_STORE_FAILED`.
 * @internal
 */
export function parseCounter(value: string): number {
  if (!COUNTER.test(value)) throw malformed('counter');
  return Number(value);
}

function malformed(what: string): NpUserError {
  return new NpUserError('ERR_NPUSER_STORE_FAILED', { cause: new Error(`store returned a malformed ${what}`) });
}
