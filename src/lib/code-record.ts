/**
 * A pending code as the store holds it: an id that scopes its attempt
 * counter, its expiry on the app's clock, and the keyed digest of
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

/** @internal */
export function serializeCodeRecord(record: CodeRecord): string {
  return `${VERSION}.${record.codeId}.${record.expiresAt}.${record.digest.toString('base64url')}`;
}

/**
 * The record in `value`, or `undefined` when it is not one npuser wrote.
 * @internal
 */
export function parseCodeRecord(value: unknown): CodeRecord | undefined {
  if (typeof value !== 'string') return undefined;
  const match = RECORD.exec(value);
  if (!match) return undefined;
  const [, codeId, expiresAt, digest] = match as unknown as [string, string, string, string];
  return { codeId, expiresAt: Number(expiresAt), digest: Buffer.from(digest, 'base64url') };
}
